/**
 * Holds every pending deadline in memory (a binary min-heap with lazy deletion) and keeps exactly one
 * clock timer armed, for the earliest. Arming, moving and cancelling a deadline is O(log n) with no
 * timer churn, so a million check-in deadlines cost one timer. The durable copy of each deadline is in
 * the database, written in the same transaction as the state it belongs to; this is only the alarm clock.
 *
 * Due deadlines are processed in batches (issue 17 item 4): a batch takes up to `maxPerBatch` keys or
 * `maxBatchMs` of real time, waiting for each key's processing to settle before the next, then the
 * scheduler yields `yieldTurns` turns of the event loop (setImmediate) before the next batch. After a
 * restart with thousands of overdue steps the hub therefore still reads sockets between batches: a new SOS waits
 * for at most one batch, not for the whole catch-up, and `/healthz` answers while it runs. Keys still
 * fire one at a time, in due order, each once.
 */
import type { Clock, TimerHandle } from '../clock.js';

export interface BatchBudget {
  /** Most due keys processed before yielding to the event loop. */
  maxPerBatch: number;
  /** Most real milliseconds one batch may take before yielding (checked between keys). */
  maxBatchMs: number;
  /** Event-loop turns (setImmediate) given to other work between batches. */
  yieldTurns: number;
}

/**
 * 32 keys or 2 ms, then 3 turns of the event loop: one escalation step with its effects is a few
 * fsynced transactions (several ms on a busy disk), so a batch is usually a single step. A new SOS
 * needs several turns of its own (the MQTT packet read, the commit, the PUBACK and the QoS 1 ack to
 * the fob), and with one turn per batch it would wait a whole batch at each; three keep it within the
 * 100 ms in which it must be acknowledged (`npm run bench`: "SOS ack during a 10,000-step catch-up").
 */
export const DEFAULT_BATCH_BUDGET: BatchBudget = { maxPerBatch: 32, maxBatchMs: 2, yieldTurns: 3 };

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
  private stopped = false;
  /** The running drain (due keys being processed), or null. */
  private draining: Promise<void> | null = null;
  private overdue = 0;

  constructor(
    private readonly clock: Clock,
    /**
     * Called for each due key, in due order; a returned promise is waited for before the next key.
     * Errors (thrown or rejected) are the caller's to log: the scheduler carries on with the next.
     */
    private readonly onDue: (key: string, dueAt: number) => void | Promise<unknown>,
    private readonly budget: BatchBudget = DEFAULT_BATCH_BUDGET,
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

  /**
   * Steps that were already due when the current drain began and have not been processed yet: after
   * a restart, the catch-up still to do. 0 when nothing is being caught up.
   */
  get overdueLeft(): number {
    return this.draining ? this.overdue : 0;
  }

  /** True while due keys are being processed (between batches too). */
  get busy(): boolean {
    return this.draining !== null;
  }

  /** Resolves once the running drain, if any, has finished. */
  whenDrained(): Promise<void> {
    return this.draining ?? Promise.resolve();
  }

  /** Starts processing everything due now, in batches (used at start-up and by the timer). */
  fireDue(): void {
    if (this.draining || this.stopped) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      this.overdue = 0;
      this.arm();
    });
  }

  private async drain(): Promise<void> {
    this.overdue = this.countDue(this.clock.now());
    for (;;) {
      // Each batch looks at the clock afresh: what fell due meanwhile is due now too.
      const now = this.clock.now();
      const started = performance.now();
      let done = 0;
      let more = false;
      while (!this.stopped && this.dropStaleTop() && this.ats[0] <= now) {
        if (done >= this.budget.maxPerBatch || performance.now() - started >= this.budget.maxBatchMs) {
          more = true;
          break;
        }
        const at = this.ats[0];
        const key = this.keys[0];
        this.pop();
        this.current.delete(key);
        if (this.overdue > 0) this.overdue--;
        done++;
        try {
          await this.onDue(key, at);
        } catch {
          // The caller logs and re-arms its own failures; one key's failure must not stall the rest.
        }
      }
      if (!more || this.stopped) return;
      for (let i = 0; i < this.budget.yieldTurns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Live deadlines due at `now`: a walk of the heap that never enters a subtree whose root is later. */
  private countDue(now: number): number {
    let n = 0;
    const stack = this.length > 0 ? [0] : [];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (this.ats[i] > now) continue;
      if (this.current.get(this.keys[i]) === this.ats[i]) n++;
      const l = 2 * i + 1;
      if (l < this.length) stack.push(l);
      if (l + 1 < this.length) stack.push(l + 1);
    }
    return n;
  }

  private arm(): void {
    // While draining, the drain re-arms when it finishes (it picks up anything set meanwhile).
    if (this.stopped || this.draining) return;
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
