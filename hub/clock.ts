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
  /**
   * Calls fn about every `everyMs` milliseconds of this clock's time, until cancelled: for a sweep
   * whose rule is "within about everyMs", not "at" a due time (the broker's stalled-client watchdog,
   * the heartbeat buffer's upkeep, the companion's relay sweep). Each run looks at the state as it is
   * `now()`, so one late run does the work of every run it stands for; that is why a ManualClock may
   * run it once at the end of an advance instead of stopping at each period (issue 18: a 250 ms
   * watchdog would otherwise be 14,400 stops in each simulated hour of a drill).
   */
  housekeeping(fn: () => void, everyMs: number): TimerHandle;
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
  housekeeping(fn, everyMs) {
    if (!(everyMs > 0)) throw new RangeError(`housekeeping needs a period above 0 ms, got ${everyMs}`);
    const handle = setInterval(fn, everyMs);
    // Upkeep never keeps the process alive on its own.
    handle.unref?.();
    return { cancel: () => clearInterval(handle) };
  },
};

interface HousekeepingTask {
  everyMs: number;
  lastRun: number;
  fn: () => void;
  cancelled: boolean;
}

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to. `advance` fires every timer that falls due, in order of due
 * time, with `now()` equal to each timer's due time while it runs. Housekeeping tasks are no timers:
 * they never count in `nextDueAt` or `pending` (so `advanceHub` never stops for them); each runs once
 * at the end of an advance that moved the clock at least its period past its last run, with `now()`
 * the advance's target.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: PendingTimer[] = [];
  private chores: HousekeepingTask[] = [];

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

  housekeeping(fn: () => void, everyMs: number): TimerHandle {
    if (!(everyMs > 0)) throw new RangeError(`housekeeping needs a period above 0 ms, got ${everyMs}`);
    const task: HousekeepingTask = { everyMs, lastRun: this.current, fn, cancelled: false };
    this.chores.push(task);
    return {
      cancel: () => {
        task.cancelled = true;
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
    this.runHousekeeping();
  }

  /** Housekeeping tasks (in the order they were set) whose period has passed since their last run. */
  private runHousekeeping(): void {
    this.chores = this.chores.filter((t) => !t.cancelled);
    for (const task of [...this.chores]) {
      if (task.cancelled || this.current - task.lastRun < task.everyMs) continue;
      task.lastRun = this.current;
      task.fn();
    }
  }

  /** Housekeeping tasks not cancelled (for tests). */
  housekeepingTasks(): number {
    return this.chores.filter((t) => !t.cancelled).length;
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
