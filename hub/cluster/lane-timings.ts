/**
 * Where a worker's time goes, per lane (issue 19, docs/cluster.md "Where an SOS's time goes"): the
 * last RING ordered-lane messages' stages, from the edge's received time to the JetStream ack
 * confirmed, and the last RING bulk-lane write transactions (what an SOS may find holding the store
 * when it arrives). Served on a worker's `GET /timings?since=<epoch ms>`; the cluster bench reads
 * it after each window. Pure: no I/O, the caller gives every time.
 */
import type { TxTiming } from '../store/tx-timing.js';

/** One ordered-lane message, ms. */
export interface OrderedSample {
  /** Epoch ms when its edge received it (Lw-Received-At): the filter for `since`. */
  receivedAt: number;
  leaf: string;
  /** Edge received -> this worker was handed it: the JetStream publish (R3), the pull's delivery, and any wait behind the partition's previous message. */
  queueMs: number;
  /** Queued for the store's writer (on PostgreSQL the ahead writer: behind the worker's other ordered-lane transactions only). */
  lockWaitMs: number;
  /** Its own transactions, from the lock to COMMIT returning. */
  txMs: number;
  /** Of which COMMIT (the WAL flush). */
  commitMs: number;
  statements: number;
  /** Transactions run again after a serialization failure or deadlock. */
  retries: number;
  /** Handed -> ingest done (validation, lock wait, transaction, what follows the commit). */
  ingestMs: number;
  /** The JetStream ack's confirmation round trip (before the partition's next message can be delivered). */
  ackAckMs: number;
}

/** One bulk-lane write transaction, ms. */
export interface BulkSample {
  at: number;
  lockWaitMs: number;
  txMs: number;
  commitMs: number;
  statements: number;
  retries: number;
}

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** How many samples each ring keeps: minutes of SOS at the bench's 10 a second. */
export const RING = 4000;

function percentiles(xs: number[]): Percentiles {
  if (xs.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { count: s.length, p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1]!) };
}

/** Adds up a message's transactions (an ingest may run more than one). */
export function sumTx(ts: readonly TxTiming[]): Pick<OrderedSample, 'lockWaitMs' | 'txMs' | 'commitMs' | 'statements' | 'retries'> {
  return {
    lockWaitMs: ts.reduce((a, t) => a + t.waitMs, 0),
    txMs: ts.reduce((a, t) => a + t.runMs, 0),
    commitMs: ts.reduce((a, t) => a + t.commitMs, 0),
    statements: ts.reduce((a, t) => a + t.statements, 0),
    retries: ts.reduce((a, t) => a + Math.max(0, t.attempts - 1), 0),
  };
}

export class LaneTimings {
  private ordered: OrderedSample[] = [];
  private bulk: BulkSample[] = [];

  addOrdered(s: OrderedSample): void {
    this.ordered.push(s);
    if (this.ordered.length > RING) this.ordered.splice(0, this.ordered.length - RING);
  }

  addBulk(at: number, ts: readonly TxTiming[]): void {
    for (const t of ts) this.bulk.push({ at, lockWaitMs: t.waitMs, txMs: t.runMs, commitMs: t.commitMs, statements: t.statements, retries: Math.max(0, t.attempts - 1) });
    if (this.bulk.length > RING) this.bulk.splice(0, this.bulk.length - RING);
  }

  /** Percentiles of every stage over the samples since `since` (epoch ms). */
  summary(since: number): { ordered: Record<Exclude<keyof OrderedSample, 'receivedAt' | 'leaf'>, Percentiles>; bulk: Record<Exclude<keyof BulkSample, 'at'>, Percentiles> } {
    const o = this.ordered.filter((s) => s.receivedAt >= since);
    const b = this.bulk.filter((s) => s.at >= since);
    const of = <T>(xs: T[], k: keyof T): Percentiles => percentiles(xs.map((x) => x[k] as number));
    return {
      ordered: {
        queueMs: of(o, 'queueMs'),
        lockWaitMs: of(o, 'lockWaitMs'),
        txMs: of(o, 'txMs'),
        commitMs: of(o, 'commitMs'),
        statements: of(o, 'statements'),
        retries: of(o, 'retries'),
        ingestMs: of(o, 'ingestMs'),
        ackAckMs: of(o, 'ackAckMs'),
      },
      bulk: { lockWaitMs: of(b, 'lockWaitMs'), txMs: of(b, 'txMs'), commitMs: of(b, 'commitMs'), statements: of(b, 'statements'), retries: of(b, 'retries') },
    };
  }
}
