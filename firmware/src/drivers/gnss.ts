/**
 * The BG96's own GNSS receiver (RAK5010 only; the Puck.js has none and its bundle never imports
 * this file). Issue 20: a fix at every alarm, `ps` every 30 s while an alarm is open, and one fix
 * every `gp` seconds during a visit (the hub's `cfg`; 0 = off).
 *
 * Every command goes through the BG96 driver's one queue (Bg96.at), so GNSS commands take their turn
 * with the MQTT traffic's QISEND and never answer each other ([AT] §1.3: one command line at a time).
 *
 * Sources: [GNSS] Quectel BG96 GNSS AT Commands Manual V1.1, cited by command: AT+QGPS (turn on),
 * AT+QGPSLOC (positioning information), AT+QGPSEND (turn off), and its table of error codes
 * (504 session is ongoing, 505 session not active, 516 not fixed now).
 *
 * Radio: the BG96 has its own GNSS antenna input (ANT_GNSS), and this firmware runs the receiver
 * beside the LTE-M session over the same UART (Espruino's own RAK5010 module drives it that way too:
 * libs/js/rak/RAK5010.js, setGPSOn). The BG95/BG77 series is different: its GNSS Application Note adds
 * AT+QGPSCFG="priority" because there GNSS and LTE take turns on one RF path. Whether the BG96's
 * reception suffers while LTE transmits was not measured (docs/fob.md). Either way the firmware
 * never stops or delays LTE traffic for a fix: alarms go first, a fix goes with them only if held.
 */
import type { Bg96 } from './bg96.js';
import type { Positioning } from '../hal.js';

/** While waiting for a fix, QGPSLOC is asked this often. */
export const GNSS_POLL_MS = 5000;
/** During an open alarm, a new fix (and a `ps`) this often (issue 20: faster than a visit's period). */
export const GNSS_ALARM_MS = 30000;
/**
 * A session with no fix for this long is ended (QGPSEND): indoors there is none to get, and the
 * receiver draws tens of mA. 3 minutes covers a cold start (tens of seconds under open sky) under a
 * poor sky; within an open alarm the receiver is tried again GNSS_RETRY_MS later.
 */
export const GNSS_LIMIT_MS = 180000;
/** During an open alarm, the wait before a new session after one gave up (the worker may get outside). */
export const GNSS_RETRY_MS = 120000;
/**
 * A fix goes with an alarm event only when it is at most this old: a worker walking at ~1.4 m/s is
 * ~170 m away after 2 minutes, more than a fix's own uncertainty; anything older is at the hub
 * already as a `ps` with its age, and a position read as current would send help to the wrong door.
 */
export const FIX_FRESH_MS = 120000;
/**
 * Accuracy from HDOP: an ESTIMATE. Horizontal error is about HDOP x the user-equivalent range error,
 * ~5 m for a single-frequency receiver like the BG96's; the manual gives HDOP, not metres.
 */
export const UERE_M = 5;

/**
 * [GNSS] AT+QGPSLOC=2: +QGPSLOC: <UTC>,<latitude>,<longitude>,<hdop>,<altitude>,<fix>,<COG>,
 * <spkm>,<spkn>,<date>,<nsat>, latitude and longitude in degrees with 5 decimals (mode 2). The
 * numbers are kept as the modem wrote them (an Espruino float printed again could grow digits), and
 * only a line of exactly this shape is a fix: a malformed `l` would make the hub refuse the alarm.
 */
// (Espruino 2v29's regular expressions have no '?' quantifier: '-*' and '\.*' stand in for it;
// found on the real interpreter, where '-?' never matched.)
const LOC = /^\+QGPSLOC: [\d.]+,(-*\d+\.\d+),(-*\d+\.\d+),(\d+\.*\d*),/;

/** What the board sets up and the core sees (hal.ts Positioning), plus the board's `ps` sender. */
export interface Gnss extends Positioning {
  /** Set by the board: sends each new fix as a `ps` (the position JSON). */
  onFix: (ps: string) => void;
}

/**
 * The receiver's schedule. Written as one closure, not a class: its state is local variables, which
 * the minifier shortens to one letter (the RAK5010 bundle's bytes are counted, issue 14).
 */
export function gnssOn(
  modem: Bg96,
  up: () => number,
  setT: (fn: () => void, ms: number) => number,
  clearT: (id: number) => void,
  /** The worker is on a visit (the core's state). */
  visit: () => boolean,
  /**
   * Writes the GNSS power enable (wiring `gps`, GPS_EN = D39 by default: 1 on, 0 off); absent when
   * the pin did not resolve (the boot reports that as a wiring fault). Espruino's
   * libs/js/rak/RAK5010.js setGPSOn writes GPS_EN high before AT+QGPS=1 and low when GNSS goes off,
   * with no settling time of its own between the pin and the command.
   */
  en?: (v: number) => void,
): Gnss {
  /** The last fix: '"la":<lat>,"lo":<lon>,"ac":<m>', '' before the first; fixT its uptime (ms). */
  let last = '';
  let fixT = 0;
  /** The receiver is on: uptime when its session started or last gave a fix; 0 when off. */
  let on = 0;
  /** An alarm is open (from its raise until the hub's clr). */
  let alarm = false;
  /** The visit period (ms, cfg gp), 0 = off. */
  let period = 0;
  let timer = -1;
  const nop = function (): void {};
  /** [GNSS] AT+QGPS<c>, its answer to cb (or ignored); 5 s is ample for these local commands. */
  const q = function (c: string, cb?: (err: string, info: string) => void): void {
    modem.at('AT+QGPS' + c, 5000, cb || nop);
  };
  const fix = function (): string {
    const age = up() - fixT;
    return last && age <= FIX_FRESH_MS ? '{' + last + ',"fa":' + Math.round(age / 1000) + ',"s":"g"}' : '';
  };
  /** The next step after ms (0 ms: on the next tick); none when ms is 0 outside an alarm. */
  const next = function (ms: number): void {
    clearT(timer);
    timer = ms || alarm ? setT(step, ms) : -1;
  };
  /** [GNSS] AT+QGPSEND: the receiver off (its answer does not matter: 505 means it already was). */
  const off = function (): void {
    on = 0;
    // Low once the modem has answered QGPSEND (GPS_EN after the session is ended, as the module's
    // setGPSOn(false) does); not if a new session began meanwhile (its QGPS=1 is already queued).
    q('END', function () {
      if (en && !on) en(0);
    });
  };
  const step = function (): void {
    // This timer has fired: its id is free for Espruino to give to another timer, which a later
    // clearTimeout of the stale id would cancel (it cancelled the button's own timers on the
    // real interpreter).
    timer = -1;
    // Outside an alarm, only during a visit: the period keeps running while off visit.
    if (!alarm && !visit()) return next(period);
    if (!on) {
      // Never 0 (the uptime at boot): 0 means off, to the QGPSEND answer above.
      on = up() || 1;
      if (en) en(1);
      // [GNSS] AT+QGPS=1: OK, or +CME ERROR: 504 (session is ongoing) when the receiver is already
      // on: either way it is on. Any other failure shows as QGPSLOC's 505 below.
      q('=1');
    }
    q('LOC=2', function (err, info) {
      const now = up();
      const m = LOC.exec(info);
      if (!err && m) {
        last = '"la":' + m[1] + ',"lo":' + m[2] + ',"ac":' + Math.round(+m[3] * UERE_M);
        fixT = on = now;
        g.onFix(fix());
        // An open alarm keeps the receiver on for the next fix; a visit's fix is the one wanted.
        if (alarm) return next(GNSS_ALARM_MS);
        off();
        return next(period);
      }
      // [GNSS] 505 session not active: the receiver is off (the modem restarted, QGPS failed): the
      // next step turns it on again. 516 not fixed now (or any other error): ask again shortly.
      if (err.indexOf('505') >= 0) on = 0;
      if (on && now - on > GNSS_LIMIT_MS) {
        off();
        return next(alarm ? GNSS_RETRY_MS : period);
      }
      next(GNSS_POLL_MS);
    });
  };
  const g: Gnss = {
    fix: fix,
    alarmOpen: function (open) {
      alarm = open;
      // Opened: at once, but on the next tick, so the alarm's own send is queued on the modem first.
      if (!open && on) off();
      next(open ? 0 : period);
    },
    gnssPeriod: function (s) {
      period = s * 1000;
      if (!alarm) next(period);
    },
  } as Gnss;
  return g;
}
