/**
 * Periodic jobs (pruning) as due work (issue 18: the store is the only scheduler; no timer of its own):
 * each job is one `periodic:<key>` row, run by whichever process's due-work loop claims it and
 * then moved `everyMs` on. A restart finds the row where it was, so a hub restarted more often than
 * the job's period still runs it; the nodes of a cluster run it once between them, not once each.
 */
import type { Logger } from '../logger.js';
import type { ClaimedWork, DueWorkStore, Store } from '../store/store.js';

export interface PeriodicJob {
  /** The row's key: `periodic:<key>`. */
  key: string;
  /** From one run to the next, on the hub's clock. */
  everyMs: number;
  /** What to say when it fails (the next run is at the usual time). */
  what: string;
  run(): Promise<unknown>;
}

/** Gives each job its row, due now, unless it has one (from before a restart, or another node's); returns the earliest due time. */
export async function armPeriodic(store: Store, jobs: Iterable<PeriodicJob>, now: number): Promise<number | null> {
  let earliest: number | null = null;
  for (const job of jobs) {
    const row = await store.getWork('periodic', job.key);
    const at = row?.dueAt ?? now;
    if (!row) await store.transaction((tx) => tx.scheduleWork('periodic', job.key, at));
    earliest = earliest === null ? at : Math.min(earliest, at);
  }
  return earliest;
}

/**
 * Runs the claimed job and moves its row on by its period, whether the job worked or not (a failure
 * is logged; retrying sooner would only repeat it). A key this process has no job for (a node
 * without that part, e.g. no forwarding configured) is handed back for another to take, in a minute.
 */
export async function runPeriodic(store: Pick<DueWorkStore, 'reschedule'>, jobs: ReadonlyMap<string, PeriodicJob>, log: Logger, now: () => number, work: ClaimedWork): Promise<void> {
  const job = jobs.get(work.key);
  if (!job) {
    await store.reschedule(work, now() + 60_000);
    return;
  }
  try {
    await job.run();
  } catch (err) {
    log.error({ err, job: job.key }, `${job.what} failed; trying again at its next run`);
  }
  await store.reschedule(work, now() + job.everyMs);
}
