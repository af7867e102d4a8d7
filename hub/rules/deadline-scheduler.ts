/**
 * Holds every pending deadline in memory (a binary min-heap with lazy deletion) and keeps exactly one
 * clock timer armed, for the earliest. Arming, moving and cancelling a deadline is O(log n) with no
 * timer churn, so a million check-in deadlines cost one timer. The durable copy of each deadline is in
 * the database, written in the same transaction as the state it belongs to; this is only the alarm clock.
 */
import type { Clock, TimerHandle } from '../clock.js';

/**
 * The heap is two parallel arrays (due times in a Float64Array, keys in an array) rather than one
 * object per entry: with a million deadlines that is two million fewer objects for the garbage
 * collector to walk, and a major collection no longer delays a due alarm by hundreds of ms.
 * An entry is live while `current.get(key) === at`; moved and cancelled keys leave stale entries
 * that are skipped when they surface and dropped in bulk when they outnumber the live ones.
 */
export class DeadlineScheduler {
  private ats = new Float64Array(1024);
  private keys: string[] = [];
  private length = 0;
  private current = new Map<string, number>();
  private timer: TimerHandle | null = null;
  private timerAt = Infinity;
  private firing = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    /** Called for each due key, in due order. Errors are the caller's to log. */
    private readonly onDue: (key: string, dueAt: number) => void,
  ) {}

  get size(): number {
    return this.current.size;
  }

  dueAt(key: string): number | null {
    return this.current.get(key) ?? null;
  }

  /** Arms, moves (same key) or, with null, cancels a deadline. */
  set(key: string, at: number | null): void {
    if (at === null) {
      this.current.delete(key);
      return;
    }
    if (this.current.get(key) === at) return;
    this.current.set(key, at);
    this.push(at, key);
    if (at < this.timerAt) this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  /** Fires everything due now (used at start-up and by the timer). */
  fireDue(): void {
    if (this.firing || this.stopped) return;
    this.firing = true;
    try {
      const now = this.clock.now();
      for (;;) {
        if (!this.dropStaleTop()) break;
        const at = this.ats[0];
        if (at > now) break;
        const key = this.keys[0];
        this.pop();
        this.current.delete(key);
        this.onDue(key, at);
      }
    } finally {
      this.firing = false;
    }
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    const at = this.dropStaleTop() ? this.ats[0] : Infinity;
    if (at === this.timerAt && this.timer) return;
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = at;
    if (at !== Infinity) {
      this.timer = this.clock.setTimer(() => {
        this.timer = null;
        this.timerAt = Infinity;
        this.fireDue();
      }, Math.max(0, at - this.clock.now()));
    }
  }

  /** Pops stale entries (moved or cancelled keys) off the top; false when the heap is empty. */
  private dropStaleTop(): boolean {
    while (this.length > 0) {
      if (this.current.get(this.keys[0]) === this.ats[0]) return true;
      this.pop();
    }
    return false;
  }

  private push(at: number, key: string): void {
    if (this.length === this.ats.length) {
      const bigger = new Float64Array(this.ats.length * 2);
      bigger.set(this.ats);
      this.ats = bigger;
    }
    let i = this.length++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.ats[parent] <= at) break;
      this.ats[i] = this.ats[parent];
      this.keys[i] = this.keys[parent];
      i = parent;
    }
    this.ats[i] = at;
    this.keys[i] = key;
    if (this.length > 1024 && this.length > this.current.size * 4) this.compact();
  }

  private pop(): void {
    const n = --this.length;
    const at = this.ats[n];
    const key = this.keys[n];
    this.keys.length = n;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && this.ats[r] < this.ats[l] ? r : l;
      if (this.ats[m] >= at) break;
      this.ats[i] = this.ats[m];
      this.keys[i] = this.keys[m];
      i = m;
    }
    this.ats[i] = at;
    this.keys[i] = key;
  }

  /** Rebuilds the heap from the live deadlines. */
  private compact(): void {
    const live = [...this.current].sort((a, b) => a[1] - b[1]);
    this.length = live.length;
    if (this.ats.length < live.length) this.ats = new Float64Array(Math.max(1024, live.length * 2));
    this.keys = new Array<string>(live.length);
    live.forEach(([key, at], i) => {
      this.ats[i] = at;
      this.keys[i] = key;
    });
  }
}
