/**
 * Where a simulated worker is (issue 20): the position a fob's GNSS or the worker's phone would give,
 * as a scenario's track sets it. While the receiver has a fix it is renewed continuously (a fix read
 * now is `fa` 0); indoors it loses the fix and keeps only the last one, which grows old. Events carry
 * `l` only with a fresh fix (docs/protocol.md, Positions); `ps` is sent on each new track point and
 * every PS_EVERY_MS, faster while an alarm is open. Pure apart from the clock the caller passes in.
 */
import type { Position, PositionSource } from '../shared/protocol-core.js';

/** A fix older than this is not attached to an event (the protocol's "fresh fix"). */
export const FRESH_MS = 60_000;
export const PS_EVERY_MS = 120_000;
export const PS_EVERY_ALARM_MS = 15_000;

export interface TrackFix {
  la: number;
  lo: number;
  ac: number;
  s: PositionSource;
}

export class TrackPosition {
  private last: (TrackFix & { fixAt: number }) | null = null;
  private held = false;
  private nextPsAt = 0;

  /** A new point of the track (`fix`), or the fix lost (null: indoors, a tunnel). */
  set(fix: TrackFix | null, now: number): void {
    if (fix) {
      this.last = { ...fix, fixAt: now };
      this.held = true;
      this.nextPsAt = now;
    } else {
      if (this.last && this.held) this.last.fixAt = now;
      this.held = false;
    }
  }

  /** The fix as it would be read at `now`, with its age; null when there has never been one. */
  read(now: number): Position | null {
    if (!this.last) return null;
    const fixAt = this.held ? now : this.last.fixAt;
    return { la: this.last.la, lo: this.last.lo, ac: this.last.ac, fa: Math.max(0, Math.round((now - fixAt) / 1000)), s: this.last.s };
  }

  /** For an event raised now: the fix if it is fresh, else nothing. */
  forEvent(now: number): Position | undefined {
    const p = this.read(now);
    return p && p.fa * 1000 <= FRESH_MS ? p : undefined;
  }

  /** A `ps` due now (while the fix is held), or null. */
  duePs(now: number, alarmOpen: boolean): Position | null {
    if (!this.held || now < this.nextPsAt) return null;
    this.nextPsAt = now + (alarmOpen ? PS_EVERY_ALARM_MS : PS_EVERY_MS);
    return this.read(now);
  }
}
