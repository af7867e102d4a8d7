/**
 * Time, behind an interface. The rules engines never read the clock themselves: the runtime passes
 * `now` in. Timers go through the same interface so that tests and drills drive time with a
 * ManualClock (never with sleeps) and a cluster hub can use a shared clock later.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls fn once, after ms milliseconds of this clock's time. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // Node timers overflow past 2^31-1 ms (about 24.8 days) and fire at once; re-arm in steps instead.
    const MAX = 2_147_483_000;
    let handle: NodeJS.Timeout;
    const arm = (left: number): void => {
      handle = setTimeout(left > MAX ? () => arm(left - MAX) : fn, Math.min(Math.max(0, left), MAX));
      handle.unref?.();
    };
    arm(ms);
    return { cancel: () => clearTimeout(handle) };
  },
};

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to. `advance` fires every timer that falls due, in order of due
 * time, with `now()` equal to each timer's due time while it runs.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(start: number | Date = Date.UTC(2026, 10, 23, 9, 0, 0)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer: PendingTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Moves time forward by ms, firing due timers in order (timers they set are honoured too). */
  advance(ms: number): void {
    this.advanceTo(this.current + ms);
  }

  advanceTo(target: number): void {
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: PendingTimer | undefined;
      for (const t of this.timers) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      if (next.at > this.current) this.current = next.at;
      next.fn();
    }
    if (target > this.current) this.current = target;
  }

  /** Due time of the earliest waiting timer, or null. */
  nextDueAt(): number | null {
    let next: number | null = null;
    for (const t of this.timers) if (!t.cancelled && (next === null || t.at < next)) next = t.at;
    return next;
  }

  /** Timers still waiting (for tests). */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
