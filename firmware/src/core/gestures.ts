/**
 * Button gestures. A press is Short (< 600 ms), Long (1.2 to 2.5 s) or a Hold (3 s: a loud SOS, fired
 * while the button is still down so the buzzer starts at once). A gesture ends after 800 ms without a
 * press. A single short press, or anything unrecognised, does nothing: a button knocked in a pocket
 * must not raise, confirm or cancel anything.
 *
 *   S S       check-in              S S S     visit start / end
 *   S S S S   covert SOS            S L       extend the visit
 *   S S L     cancel a false alarm  S S S L   end of shift
 *   hold 3 s  loud SOS
 */
import { EVENT } from '../../../shared/protocol-core';

export const SHORT_MAX_MS = 600;
export const LONG_MIN_MS = 1200;
export const LONG_MAX_MS = 2500;
export const HOLD_MS = 3000;
export const GAP_ENDS_MS = 800;

/**
 * What a gesture means: the event kind it raises (from the protocol core), or 'visit' (start or
 * end, depending on whether a visit is under way).
 */
export type GestureName = 'chk' | 'visit' | 'cov' | 'ext' | 'can' | 'eos' | 'sos';

const PATTERNS: { [pattern: string]: GestureName } = {
  SS: EVENT.checkIn,
  SSS: 'visit',
  SSSS: EVENT.covert,
  SL: EVENT.extend,
  SSL: EVENT.cancel,
  SSSL: EVENT.endOfShift,
};

/**
 * The recognizer as a closure returning its one function, `edge(pressed, t)` (issue 14: its state is
 * local variables, one letter each in the bundle, where a class's members stay properties).
 */
export function gestureRecognizer(
  setT: (fn: () => void, ms: number) => number,
  /** Clears a timer that is set (id >= 0) and returns -1 (the core's `stop`). */
  stop: (timer: number) => number,
  onGesture: (g: GestureName) => void,
): (pressed: boolean, t: number) => void {
  let pattern = '';
  let downAt = -1;
  let holdTimer = -1;
  let endTimer = -1;
  let held = false;
  return function (pressed, t) {
    if (pressed) {
      endTimer = stop(endTimer);
      downAt = t;
      held = false;
      holdTimer = setT(function () {
        holdTimer = -1;
        held = true;
        pattern = '';
        onGesture(EVENT.sos);
      }, HOLD_MS);
      return;
    }
    if (downAt < 0) return;
    holdTimer = stop(holdTimer);
    const len = t - downAt;
    downAt = -1;
    if (held) {
      held = false;
      return;
    }
    if (len <= SHORT_MAX_MS) pattern += 'S';
    else if (len >= LONG_MIN_MS && len <= LONG_MAX_MS) pattern += 'L';
    else pattern += 'X';
    if (pattern.length > 6) pattern = 'X';
    endTimer = setT(function () {
      endTimer = -1;
      const g = PATTERNS[pattern];
      pattern = '';
      if (g) onGesture(g);
    }, GAP_ENDS_MS);
  };
}
