/**
 * Retention of positions (issue 20, R22): a worker's whereabouts are private, so fixes older than
 * `[positions] retention_days` are deleted, every hour on the hub's Clock (a ManualClock in tests
 * and drills). Fixes attached to an alarm are part of its record (R19, R20) and stay (prunePositions).
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';

export const PRUNE_EVERY_MS = 3600_000;
const DAY_MS = 86_400_000;

export class PositionRetention {
  private timer: TimerHandle | null = null;
  private stopped = false;
  private running: Promise<number> | null = null;

  constructor(
    private readonly o: { store: Store; clock: Clock; log: Logger; retentionDays: number },
  ) {}

  start(): void {
    this.stopped = false;
    this.arm();
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

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimer(() => {
      this.running = this.pruneNow().catch((err: unknown) => {
        this.o.log.error({ err }, 'could not delete old positions; trying again in an hour');
        return 0;
      });
      void this.running.finally(() => {
        this.running = null;
        this.arm();
      });
    }, PRUNE_EVERY_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    await this.running;
  }
}
