/**
 * Where a write transaction's time goes (issue 19: "find where an SOS's time goes"): a caller that
 * wants to know runs its work inside `txTiming.run(timings, ...)`, and every store write
 * transaction started from it (any await depth: AsyncLocalStorage follows the async chain) appends
 * what it cost. A caller that does not ask pays nothing beyond one getStore() per transaction.
 *
 * The cluster worker does this for every ordered-lane message (hub/cluster/worker.ts) and reports
 * the stages on its `/timings` (docs/cluster.md "Where an SOS's time goes"). Pure bookkeeping: no I/O.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface TxTiming {
  /** Queued behind this store's earlier write transactions (its one-at-a-time lock; on PostgreSQL, an ahead one behind only the other ahead ones), ms. */
  waitMs: number;
  /** From taking the lock to COMMIT returning, every attempt together, ms. */
  runMs: number;
  /** Of which COMMIT itself (the WAL flush on PostgreSQL: what makes it durable), last attempt, ms. */
  commitMs: number;
  /** 1, or more when PostgreSQL aborted it for a serialization failure or a deadlock and it ran again. */
  attempts: number;
  /** Statements sent, every attempt together (each is a round trip to the server). */
  statements: number;
}

export const txTiming = new AsyncLocalStorage<TxTiming[]>();

/**
 * Write transactions started inside `txAhead.run(true, ...)` do not wait behind the other write
 * transactions of the same store: the cluster worker's ordered lane (SOS, cancels, check-ins) is
 * not held up by heartbeat batches, presence and due-work steps (issue 19, docs/cluster.md "Where
 * an SOS's time goes": at 5,000 fobs an SOS waited p50 1.3 s in the worker's one-at-a-time queue
 * behind them). On PostgreSQL they run on a writer of their own, one at a time among themselves,
 * beside the one running. SQLite has one writer and no ahead order: there the ordered lane relies
 * on AlarmFirst (hub/cluster/alarm-first.ts) alone.
 */
export const txAhead = new AsyncLocalStorage<boolean>();

/** What a store's write transactions have cost since it opened: the share of time its one writer was busy. */
export interface WriteStats {
  transactions: number;
  /** Sum of the time each waited for the lock, ms. */
  waitMs: number;
  /** Sum of the time each held it, ms. */
  busyMs: number;
  /** Of those, the ones no caller timed (txTiming): in a cluster worker, neither lane's, so due-work steps, sign-ins, the API. */
  untimedTransactions: number;
  untimedBusyMs: number;
}

/**
 * `fn` as a callback that runs outside any caller's txTiming and txAhead: for a timer armed from
 * inside an alarm's handling (the due-work loop's wake-up) whose later work is not that alarm's,
 * and must neither be counted in its timings nor go ahead of the queue with it.
 */
export function detached<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => outsideLanes(() => fn(...args));
}

/** Runs `fn` now, outside any caller's txTiming and txAhead, and answers what it answers. */
export function outsideLanes<T>(fn: () => T): T {
  return txAhead.exit(() => txTiming.exit(fn));
}
