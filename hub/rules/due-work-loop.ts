/**
 * The one loop that drives every piece of due work (issue 18): rule deadlines, effects a crashed
 * process left behind, and (with the dispatcher's work) notice attempts. The schedule lives only in
 * the store (`due_work`); this loop keeps one Clock timer armed at the store's `nextDueAt`, claims due
 * rows in batches under a lease, and hands each to the handler of its kind. Work whose lease expired
 * (a process that died holding it) is claimed again like any other due work, so a restart needs no
 * re-run of its own: whatever fell due while the hub was down is simply due.
 *
 * Batches (issue 17 item 4): a batch takes up to `maxPerBatch` claimed rows or `maxBatchMs` of real
 * time, waiting for each row's handler to settle before the next, then yields `yieldTurns` turns of
 * the event loop (setImmediate) before the next batch. After a restart with thousands of overdue steps
 * the hub therefore still reads sockets between batches: a new SOS waits for at most one batch, not
 * for the whole catch-up, and `/healthz` answers while it runs. Rows still run one at a time, in due
 * order. A claim is a store write, so the loop claims `maxPerBatch` rows at once and keeps the ones a
 * batch's time budget left over for the next batch (their lease is its own; it lasts `leaseMs`).
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { detached } from '../store/tx-timing.js';
import { STEP_WORK_KINDS, type ClaimedWork, type DueWorkKind, type DueWorkStore } from '../store/store.js';

export interface BatchBudget {
  /** Most due rows processed before yielding to the event loop. */
  maxPerBatch: number;
  /** Most real milliseconds one batch may take before yielding (checked between rows). */
  maxBatchMs: number;
  /** Event-loop turns (setImmediate) given to other work between batches. */
  yieldTurns: number;
}

/**
 * 32 rows or 2 ms, then 3 turns of the event loop: one escalation step with its effects is a few
 * fsynced transactions (several ms on a busy disk), so a batch is usually a single step. A new SOS
 * needs several turns of its own (the MQTT packet read, the commit, the PUBACK and the QoS 1 ack to
 * the fob), and with one turn per batch it would wait a whole batch at each; three keep it within the
 * 100 ms in which it must be acknowledged (`npm run bench`: "SOS ack during a 10,000-step catch-up").
 */
export const DEFAULT_BATCH_BUDGET: BatchBudget = { maxPerBatch: 32, maxBatchMs: 2, yieldTurns: 3 };

/**
 * How long a claim holds its rows. A batch's rows are done in well under a second; the lease only
 * matters when the process dies holding them, and then it is how long the work waits for the next
 * claimer (a restarted hub, or another hub of a cluster). 20 s: short beside the shortest ladder
 * rung (minutes, R13), long beside a batch.
 */
export const DEFAULT_LEASE_MS = 20_000;

/** After a handler throws, the work is moved this far ahead and tried again (and logged each time). */
export const RETRY_AFTER_MS = 5000;

/**
 * Does one claimed row. It completes or reschedules the row itself (in the transaction that did
 * the work, with `tx.completeWork`, or with `store.complete`); a row it leaves is its to leave (a
 * deadline the step moved is a new generation already). A throw is logged and the row retried.
 */
export type DueWorkHandler = (work: ClaimedWork) => Promise<void>;

export interface DueWorkLoopOptions {
  store: DueWorkStore;
  clock: Clock;
  log: Logger;
  /** This process's name on its leases; unique per process (a restarted hub is a new owner). */
  owner: string;
  handlers: Partial<Record<DueWorkKind, DueWorkHandler>>;
  budget?: BatchBudget;
  leaseMs?: number;
  /**
   * The longest the loop sleeps before reading the store's next due time again (default: no limit).
   * `wake` only hears of this process's own commits; with other processes writing due work to the
   * same store (the workers and HTTP node of a cluster, issue 19) a row they armed, or one whose
   * lease a dead process held, is found by this poll, at most pollMs late.
   */
  pollMs?: number;
}

export class DueWorkLoop {
  private readonly budget: BatchBudget;
  private readonly leaseMs: number;
  private timer: TimerHandle | null = null;
  private timerAt = Infinity;
  private stopped = false;
  private started = false;
  /** The running drain (claimed rows being processed, then the timer re-armed), or null. */
  private draining: Promise<void> | null = null;
  /** Woken while draining: look at the store again before going back to sleep. */
  private again = false;
  /** The earliest wake-up asked for while draining, honoured once the drain has armed its timer. */
  private wokenFor = Infinity;
  /** Rows claimed and not yet processed (what the last batch's time budget left over). */
  private held: ClaimedWork[] = [];
  /** Overdue at the start: the catch-up's count, and the time it counts up to. */
  private overdue = 0;
  private overdueBy = -Infinity;
  private processed = 0;

  constructor(private readonly o: DueWorkLoopOptions) {
    this.budget = o.budget ?? DEFAULT_BATCH_BUDGET;
    this.leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
  }

  get owner(): string {
    return this.o.owner;
  }

  /** Rows this loop has processed since it started. */
  get processedCount(): number {
    return this.processed;
  }

  /**
   * Counts what is due now (the catch-up after a restart) and starts processing it in batches; the
   * catch-up runs after start returns, so the hub serves meanwhile. Returns that count.
   */
  async start(): Promise<number> {
    this.started = true;
    const now = this.o.clock.now();
    // Steps only: a periodic job that fell due while the hub was down is not a step to catch up.
    this.overdue = await this.o.store.countWork(now, STEP_WORK_KINDS);
    this.overdueBy = now;
    this.fireDue();
    return this.overdue;
  }

  /**
   * Due rows from before the start still to process: after a restart, the catch-up still to do. 0 when
   * nothing is being caught up.
   */
  get overdueLeft(): number {
    return this.draining ? this.overdue : 0;
  }

  /** True while due rows are being processed (between batches too) or the timer is being re-armed. */
  get busy(): boolean {
    return this.draining !== null;
  }

  /** Resolves once the running drain, if any, has finished. */
  whenDrained(): Promise<void> {
    return this.draining ?? Promise.resolve();
  }

  /**
   * This process has just committed work due at `at` (a new deadline, a retry): the timer is
   * brought forward if it would wake later. No store read: the store's own answer is consulted when
   * the loop next goes to sleep.
   */
  wake(at: number): void {
    if (this.stopped || !this.started) return;
    if (this.draining) {
      this.again = true;
      this.wokenFor = Math.min(this.wokenFor, at);
      return;
    }
    if (at < this.timerAt) this.armAt(at);
  }

  /** Starts processing everything due now, in batches (at start-up and by the timer). */
  fireDue(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      this.wokenFor = Math.min(this.wokenFor, this.o.clock.now());
      return;
    }
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = Infinity;
    this.draining = this.drain()
      .catch((err) => this.o.log.error({ err }, 'due work: the store could not be read; trying again in 5 s'))
      .then(() => this.sleep())
      .finally(() => {
        this.draining = null;
        this.overdue = 0;
        // A wake-up that came while the timer was being re-armed (after the store was read).
        const woken = this.wokenFor;
        this.wokenFor = Infinity;
        if (woken < this.timerAt) this.armAt(woken);
      });
  }

  /** Stops the timer, waits for the running row, and hands back the rows claimed and not started. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    await this.whenDrained();
    const held = this.held;
    this.held = [];
    // Given back at their own due time (a new generation, unleased): the next start has them at once,
    // not only when their lease ends.
    for (const w of held) await this.o.store.reschedule(w, w.dueAt).catch(() => false);
  }

  private async drain(): Promise<void> {
    for (;;) {
      this.again = false;
      this.wokenFor = Infinity;
      const started = performance.now();
      let done = 0;
      let more = false;
      while (!this.stopped) {
        if (this.held.length === 0) {
          const now = this.o.clock.now();
          this.held = await this.o.store.claimDue(now, this.budget.maxPerBatch, this.o.owner, this.leaseMs);
          if (this.held.length === 0) break;
        }
        // At least one row per batch, whatever the budget: the catch-up always moves on.
        if (done > 0 && (done >= this.budget.maxPerBatch || performance.now() - started >= this.budget.maxBatchMs)) {
          more = true;
          break;
        }
        const work = this.held.shift()!;
        // A lease that ran out while the row waited here (a stalled process) may be someone else's now.
        if (work.leaseUntil <= this.o.clock.now()) continue;
        if (work.dueAt <= this.overdueBy && this.overdue > 0) this.overdue--;
        done++;
        this.processed++;
        await this.run(work);
      }
      if (this.stopped) return;
      if (!more && !this.again) return;
      for (let i = 0; i < this.budget.yieldTurns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async run(work: ClaimedWork): Promise<void> {
    const handler = this.o.handlers[work.kind];
    const ids = workLogIds(work);
    try {
      if (!handler) throw new Error(`no handler for due work of kind ${work.kind} in this hub`);
      await handler(work);
    } catch (err) {
      this.o.log.error({ err, ...ids, attempts: work.attempts }, `due work ${work.kind}:${work.key} failed; trying it again in ${RETRY_AFTER_MS / 1000} s`);
      await this.o.store.reschedule(work, this.o.clock.now() + RETRY_AFTER_MS).catch((e) => this.o.log.error({ err: e, ...ids }, `due work ${work.kind}:${work.key} could not be moved for its retry; it is taken again when its lease ends`));
    }
  }

  /** Arms the one timer at the store's next due time (or, if the store cannot say, in 5 s). */
  private async sleep(): Promise<void> {
    if (this.stopped) return;
    const next = await this.o.store.nextDueAt().catch((err) => {
      this.o.log.error({ err }, 'due work: the next due time could not be read; looking again in 5 s');
      return this.o.clock.now() + RETRY_AFTER_MS;
    });
    const poll = this.o.pollMs === undefined ? null : this.o.clock.now() + this.o.pollMs;
    const at = next === null ? poll : poll === null ? next : Math.min(next, poll);
    if (at !== null) this.armAt(at);
  }

  private armAt(at: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timerAt = at;
    // detached: armed by a commit (wake) inside an alarm's handling, the drain it starts is not
    // that alarm's (no place in its timings, no place ahead of the store's queue; tx-timing.ts).
    this.timer = this.o.clock.setTimer(
      detached(() => {
        this.timer = null;
        this.timerAt = Infinity;
        this.fireDue();
      }),
      Math.max(0, at - this.o.clock.now()),
    );
  }
}

/** The pino fields a duty officer's log search uses: the alarm, worker or device the row is about. */
export function workLogIds(work: { kind: DueWorkKind; key: string }): Record<string, string> {
  switch (work.kind) {
    case 'alarm':
      return { alarmId: work.key };
    case 'worker':
      return { workerId: work.key };
    case 'device':
      return { deviceId: work.key };
    case 'callback':
      return { alarmId: work.key };
    default:
      return { work: `${work.kind}:${work.key}` };
  }
}
