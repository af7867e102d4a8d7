/**
 * Retention of positions (issue 20, R22): a worker's whereabouts are private, so fixes older than
 * `[positions] retention_days` are deleted every hour: a periodic:positions row of due work, on
 * the hub's Clock (a ManualClock in tests and drills). Fixes attached to an alarm are part of its record (R19, R20) and stay (prunePositions).
 */
import type { Clock } from '../clock.js';
import type { PeriodicJob } from '../rules/periodic-work.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';

export const PRUNE_EVERY_MS = 3600_000;
const DAY_MS = 86_400_000;

export class PositionRetention {
  constructor(private readonly o: { store: Store; clock: Clock; log: Logger; retentionDays: number }) {}

  /** Its hourly run, as due work (hub/rules/periodic-work.ts): the store, not a timer, says when. */
  job(): PeriodicJob {
    return { key: 'positions', everyMs: PRUNE_EVERY_MS, what: 'deleting old positions', run: () => this.pruneNow() };
  }

  /** Deletes what is past retention now; returns how many fixes went. */
  async pruneNow(): Promise<number> {
    const before = this.o.clock.now() - this.o.retentionDays * DAY_MS;
    const removed = await this.o.store.transaction((tx) => tx.prunePositions(before));
    if (removed > 0) {
      this.o.log.info({ removed, before: new Date(before).toISOString(), retentionDays: this.o.retentionDays }, `deleted ${removed} positions older than ${this.o.retentionDays} days (positions kept with alarms stay)`);
    }
    return removed;
  }
}
