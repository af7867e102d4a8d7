// The worker's stage times (hub/cluster/lane-timings.ts, served on GET /timings): percentiles over
// the samples since a time, the transactions of one message added up, and a bounded ring. Pure.
import { describe, expect, it } from 'vitest';
import { LaneTimings, RING, sumTx } from '../../hub/cluster/lane-timings.js';

const sample = (receivedAt: number, queueMs: number) => ({ receivedAt, leaf: 'ev', queueMs, lockWaitMs: 1, txMs: 2, commitMs: 1, statements: 21, retries: 0, ingestMs: 3, ackAckMs: 1 });

describe('LaneTimings', () => {
  it('summarises only the samples received since the given time', () => {
    const t = new LaneTimings();
    t.addOrdered(sample(1_000, 900));
    for (let i = 1; i <= 100; i++) t.addOrdered(sample(2_000 + i, i));
    const s = t.summary(2_000);
    expect(s.ordered.queueMs).toEqual({ count: 100, p50: 50, p99: 99, max: 100 });
    expect(t.summary(0).ordered.queueMs.max).toBe(900);
    expect(t.summary(5_000).ordered.queueMs.count).toBe(0);
  });

  it('adds up the transactions of one message, retries being attempts after the first', () => {
    expect(
      sumTx([
        { waitMs: 10, runMs: 5, commitMs: 1, attempts: 1, statements: 20 },
        { waitMs: 2, runMs: 3, commitMs: 2, attempts: 3, statements: 9 },
      ]),
    ).toEqual({ lockWaitMs: 12, txMs: 8, commitMs: 3, statements: 29, retries: 2 });
  });

  it('keeps the last RING samples of each lane', () => {
    const t = new LaneTimings();
    for (let i = 0; i < RING + 10; i++) t.addOrdered(sample(i, i));
    t.addBulk(7, Array.from({ length: RING + 5 }, () => ({ waitMs: 0, runMs: 4, commitMs: 1, attempts: 2, statements: 10 })));
    const s = t.summary(0);
    expect(s.ordered.queueMs.count).toBe(RING);
    expect(s.ordered.queueMs.p50).toBeGreaterThanOrEqual(10);
    expect(s.bulk.txMs.count).toBe(RING);
    expect(s.bulk.retries.max).toBe(1);
  });
});
