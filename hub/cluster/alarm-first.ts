/**
 * Alarms first, inside one worker (issue 19, docs/cluster.md "Alarms ahead of bulk traffic"): the
 * ordered lane (events, positions) and the bulk lane (heartbeats, status, presence) have consumers
 * of their own, so an SOS is never behind a heartbeat on the stream; but both lanes commit through
 * the worker's one store (on SQLite one writer, sqlite-store.ts `AsyncLock`; on PostgreSQL the
 * ordered lane has a writer of its own beside the bulk lane's, postgres-store.ts, but the two share
 * the server and the machine). So the bulk lane starts a batch's transactions only while no
 * ordered message is being handled here: an SOS shares the store with at most the one batch
 * already being committed. It waits at most `maxWaitMs` for its turn, so a steady stream of events cannot starve
 * the heartbeats (a fob whose heartbeats are never written would be reported silent).
 *
 * The wait is real time on purpose, not the hub's clock: it paces I/O, it is no rule (as the single
 * hub's heartbeat flush timer, hub/ingest/fob-ingest.ts).
 */
export class AlarmFirst {
  private inHand = 0;
  private waiting: (() => void)[] = [];

  /** Ordered messages being handled now. */
  get busy(): number {
    return this.inHand;
  }

  /** Runs the handling of one ordered-lane message; bulk batches wait while any is in hand. */
  async ordered<T>(handle: () => Promise<T>): Promise<T> {
    this.inHand++;
    try {
      return await handle();
    } finally {
      this.inHand--;
      if (this.inHand === 0) {
        const go = this.waiting;
        this.waiting = [];
        for (const g of go) g();
      }
    }
  }

  /**
   * Resolves when a bulk batch may start its transactions: at once when no ordered message is in
   * hand, else when the last one finishes, or after maxWaitMs. Answers whether it gave up waiting.
   */
  bulkTurn(maxWaitMs: number): Promise<'free' | 'waited_out'> {
    if (this.inHand === 0) return Promise.resolve('free');
    return new Promise((resolve) => {
      const go = (): void => {
        clearTimeout(timer);
        resolve('free');
      };
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((g) => g !== go);
        resolve('waited_out');
      }, maxWaitMs);
      this.waiting.push(go);
    });
  }
}
