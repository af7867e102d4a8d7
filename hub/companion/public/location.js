// The phone's own position (issue 20, docs/companion.md "Location"): read with navigator.geolocation
// only while the worker is on shift or an alarm is open (R22: a worker's position is private, and
// outside work it is none of the office's business), never otherwise. It travels as `l` of the
// alarm events the phone makes or relays (source `p`), and on the `ps` leaf every 15 s while an
// alarm is open (docs/protocol.md, "Positions"). Nothing is kept on the phone beyond the latest fix,
// in memory.
//
// The browser parts (geolocation, timers) are passed in, so the rules run in Node tests too (where
// vitest.config.ts maps /protocol-core.js to shared/protocol-core.ts).
import { ALARM_EVENT_KINDS, LIMITS } from '/protocol-core.js';

/** How often the phone sends its position while an alarm is open. */
export const ALARM_POSITION_MS = 15_000;
/** A fix older than this is not attached to an alarm event: the office would read it as where they are now. */
export const MAX_FIX_AGE_MS = 10 * 60_000;
/** A phone alarm the hub never closes (no `clr`) stops sharing after this long. */
export const MAX_ALARM_SHARE_MS = 2 * 60 * 60_000;
/** The alarm events that carry a position: the protocol's own list (shared/protocol-core.ts). */
export const ALARM_EVENTS = new Set(ALARM_EVENT_KINDS);
/** The protocol's bound on accuracy. */
const ACCURACY_MAX_M = LIMITS.positionAccuracyMaxMetres;

const round5 = (n) => Math.round(n * 1e5) / 1e5;
/** The same fix again (a watch and a fresh request can both answer with it): sent once. */
const sameFix = (a, b) => !!a && !!b && a.at === b.at && a.la === b.la && a.lo === b.lo && a.ac === b.ac;

/** A browser GeolocationPosition as the phone keeps it: rounded to the protocol's 5 decimals. */
export function fixFrom(geo) {
  const c = geo.coords;
  return { la: round5(c.latitude), lo: round5(c.longitude), ac: Math.min(ACCURACY_MAX_M, Math.max(0, Math.round(c.accuracy))), at: geo.timestamp };
}

/** The protocol's position for a kept fix, its age (`fa`) counted to the moment it is sent. */
export function positionOf(fix, nowMs) {
  return { la: fix.la, lo: fix.lo, ac: fix.ac, fa: Math.max(0, Math.round((nowMs - fix.at) / 1000)), s: 'p' };
}

/** The line the worker sees: whether the phone's location is in use, and for what. */
export function locationLine(mode, permission) {
  if (permission === 'denied') return { on: false, text: 'Location is blocked for this app in the browser: if you raise an alarm the office will not see where you are. Allow it in the site settings to share it during your shift.' };
  if (permission === 'unsupported') return { on: false, text: 'This browser cannot share your location: if you raise an alarm the office will not see where you are.' };
  if (mode === 'alarm') return { on: true, text: 'Location on: sent to the office every 15 s during this alarm.' };
  if (mode === 'shift') return { on: true, text: 'Location on: shared with the office during your shift (sent with an alarm).' };
  return { on: false, text: 'Location off: not used outside your shift.' };
}

export class PhoneLocation {
  /**
   * geolocation: navigator.geolocation (or undefined); now: () => ms; timers: { setInterval,
   * clearInterval }; sendPosition(position): publish on `ps`; onChange(): the line to redraw.
   */
  constructor({ geolocation, now, timers, sendPosition, onChange }) {
    this.geo = geolocation;
    this.now = now;
    this.timers = timers;
    this.sendPosition = sendPosition;
    this.onChange = onChange;
    this.onShift = false;
    this.alarmSince = null;
    this.fix = null;
    this.watchId = null;
    this.alarmTimer = null;
    this.lastSentFix = null;
    this.standDownExpected = false;
    this.permission = geolocation ? 'unknown' : 'unsupported';
  }

  /** 'alarm', 'shift' or 'off': what the position is being used for now. */
  get mode() {
    if (this.alarmSince !== null) return 'alarm';
    return this.onShift ? 'shift' : 'off';
  }

  setOnShift(onShift) {
    this.onShift = Boolean(onShift);
    this.apply();
  }

  /**
   * An alarm event made or relayed by the phone: share the position until the hub closes it.
   * Returns the fix to send with the event (or null): the event carries it, so `ps` does not send it
   * again, and it reaches the hub with the alarm rather than before it.
   */
  alarmStarted() {
    if (this.alarmSince !== null) return this.freshFix();
    this.alarmSince = this.now();
    // The fix the shift's watch has (null off shift: the watch starts now, and its first fix goes
    // out on `ps` as soon as it comes).
    const fix = this.freshFix();
    this.lastSentFix = fix;
    this.apply();
    // A fresh fix now, and every ALARM_POSITION_MS after.
    this.alarmTick();
    return fix;
  }

  /**
   * The worker cancelled (from the fob or the phone): the hub stands the fob down with a `clr` but
   * keeps the alarm open until the officer has called back (a cancel may be forced), so that first
   * `clr` does not end the sharing; the one that closes the alarm does.
   */
  workerCancelled() {
    if (this.alarmSince !== null) this.standDownExpected = true;
  }

  /** The hub's `clr`: the stand-down after a worker's cancel, or the alarm closed. */
  cleared() {
    if (this.standDownExpected) {
      this.standDownExpected = false;
      return;
    }
    this.alarmEnded();
  }

  /** The hub's `clr` (the alarm closed), or sign-out. */
  alarmEnded() {
    this.alarmSince = null;
    this.lastSentFix = null;
    this.standDownExpected = false;
    this.apply();
  }

  stop() {
    this.onShift = false;
    this.alarmSince = null;
    this.fix = null;
    this.apply();
  }

  /** The latest fix if it may go with an alarm event, else null. */
  freshFix() {
    if (this.mode === 'off' || !this.fix) return null;
    return this.now() - this.fix.at <= MAX_FIX_AGE_MS ? this.fix : null;
  }

  /** Starts or stops the watch and the alarm's timer to match the mode; off forgets the fix. */
  apply() {
    const mode = this.mode;
    if (mode !== 'off' && this.geo && this.watchId === null && this.permission !== 'denied') {
      this.watchId = this.geo.watchPosition(
        (p) => this.got(p),
        (err) => this.failed(err),
        { enableHighAccuracy: true, maximumAge: 10_000, timeout: 30_000 },
      );
    }
    if (mode === 'off' && this.watchId !== null) {
      this.geo.clearWatch(this.watchId);
      this.watchId = null;
      this.fix = null;
    }
    if (mode === 'alarm' && this.alarmTimer === null) this.alarmTimer = this.timers.setInterval(() => this.alarmTick(), ALARM_POSITION_MS);
    if (mode !== 'alarm' && this.alarmTimer !== null) {
      this.timers.clearInterval(this.alarmTimer);
      this.alarmTimer = null;
    }
    this.onChange();
  }

  got(p) {
    if (this.mode === 'off') return;
    this.permission = 'granted';
    this.fix = fixFrom(p);
    // The first fix of an alarm goes out at once rather than at the next tick.
    if (this.mode === 'alarm' && this.lastSentFix === null) this.sendLatest();
    this.onChange();
  }

  failed(err) {
    // PERMISSION_DENIED is 1 (W3C Geolocation API, GeolocationPositionError): stop asking.
    if (err && err.code === 1) {
      this.permission = 'denied';
      if (this.watchId !== null) this.geo.clearWatch(this.watchId);
      this.watchId = null;
    }
    this.onChange();
  }

  /**
   * While an alarm is open, every ALARM_POSITION_MS: the newest fix not yet sent goes on `ps` (from
   * the watch, or from the fresh fix asked for at the previous tick), and a fresh fix is asked for.
   * With no new fix nothing is sent, and the office sees the age of the last one grow.
   */
  alarmTick() {
    if (this.alarmSince === null) return;
    if (this.now() - this.alarmSince > MAX_ALARM_SHARE_MS) {
      this.alarmEnded();
      return;
    }
    this.sendLatest();
    if (!this.geo || this.permission === 'denied') return;
    this.geo.getCurrentPosition(
      (p) => this.got(p),
      (err) => this.failed(err),
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 10_000 },
    );
  }

  sendLatest() {
    if (this.alarmSince === null) return;
    const fix = this.freshFix();
    if (!fix || sameFix(fix, this.lastSentFix)) return;
    this.lastSentFix = fix;
    this.sendPosition(positionOf(fix, this.now()));
  }
}
