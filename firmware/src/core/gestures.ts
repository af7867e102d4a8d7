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

export class GestureRecognizer {
  private _pattern = '';
  private _downAt = -1;
  private _holdTimer = -1;
  private _endTimer = -1;
  private _held = false;

  // The timers and the receiver are objects, not three closures: each closure is ~5 of the Puck.js's
  // 2,630 variables (issue 14).
  constructor(
    private readonly _timers: { setTimeout(fn: () => void, ms: number): number; clearTimeout(id: number): void },
    private readonly _to: { onGesture(g: GestureName): void },
  ) {}

  /** Feed every edge of the button: pressed true/false at uptime t (ms). */
  edge(pressed: boolean, t: number): void {
    const self = this;
    if (pressed) {
      if (this._endTimer >= 0) this._timers.clearTimeout(this._endTimer);
      this._endTimer = -1;
      this._downAt = t;
      this._held = false;
      this._holdTimer = this._timers.setTimeout(function () {
        self._holdTimer = -1;
        self._held = true;
        self._pattern = '';
        self._to.onGesture(EVENT.sos);
      }, HOLD_MS);
      return;
    }
    if (this._downAt < 0) return;
    if (this._holdTimer >= 0) this._timers.clearTimeout(this._holdTimer);
    this._holdTimer = -1;
    const len = t - this._downAt;
    this._downAt = -1;
    if (this._held) {
      this._held = false;
      return;
    }
    if (len <= SHORT_MAX_MS) this._pattern += 'S';
    else if (len >= LONG_MIN_MS && len <= LONG_MAX_MS) this._pattern += 'L';
    else this._pattern += 'X';
    if (this._pattern.length > 6) this._pattern = 'X';
    this._endTimer = this._timers.setTimeout(function () {
      self._endTimer = -1;
      const g = PATTERNS[self._pattern];
      self._pattern = '';
      if (g) self._to.onGesture(g);
    }, GAP_ENDS_MS);
  }
}
