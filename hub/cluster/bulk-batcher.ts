/**
 * Natural batching of an edge's bulk lane (issue 19, "cluster ingest at least Mosquitto's"): at most
 * `inFlight` publishes of bulk records (heartbeats, status, presence) are out to JetStream at once;
 * records that arrive meanwhile queue, and the next publish takes up to `maxRecords` / `maxBytes` of
 * them as one envelope (hub/cluster/bulk-envelope.ts). Idle, a record is published at once, alone:
 * no timer, no added latency. Under load a batch grows to what arrived during one JetStream round,
 * which is what a per-heartbeat R3 publish (its raft round and its ack) was paying for each time.
 *
 * With `linger`, a record that finds a publish slot free waits up to `linger.ms` for others before
 * its envelope goes (Kafka's linger.ms): at a steady fleet's rate, not a flood, the JetStream round
 * is shorter than the gap between heartbeats, so without it nearly every heartbeat went alone. At
 * 15,000 fobs an edge (500 heartbeats/s) that was 1.2 records an envelope, and the three NATS nodes
 * spent 0.7 of the 2 cores on those publishes (docs/cluster.md "Steady state at 30,000 fobs").
 * Records that waited for a slot go as soon as one frees: they have already waited. A full envelope
 * never waits.
 *
 * Each record's promise settles with its batch's publish: resolved once JetStream acknowledged the
 * envelope (so a QoS 1 heartbeat's PUBACK, sent on that, still means "JetStream holds it on a
 * majority of the replicas"), rejected when that publish failed or timed out; a failed batch rejects
 * its own records and nothing else. Pure but for the injected publish and timer: no connection.
 *
 * Bounded: at most `queueMaxRecords` records / `queueMaxBytes` bytes wait (those in flight are
 * bounded by maxRecords/maxBytes times inFlight). Beyond it `add` rejects at once with
 * BulkQueueFullError, whatever the QoS, rather than wait: a waiting QoS 1 publish would hold its
 * packet in memory all the same, so waiting bounds nothing; refused, the edge handles it exactly as
 * a publish JetStream refused (QoS 1: no PUBACK, the connection is dropped and the fob sends it
 * again, here or at another edge; QoS 0: counted as dropped, the next heartbeat replaces it). Only
 * authenticated fobs reach this (the broker's authorizePublish), and each holds one QoS 1 publish
 * unacknowledged at a time in normal use, so the default cap is above any edge's connections.
 */

export interface BulkBatcherOptions<R> {
  /** Publishes one batch (one JetStream message); resolves on JetStream's ack, rejects otherwise. */
  publish(records: R[]): Promise<void>;
  /** The bytes a record adds to a batch (its encoded size). */
  bytesOf(record: R): number;
  /** Most records in one batch (at least one record is always taken, whatever its size). */
  maxRecords: number;
  /** Most bytes in one batch. */
  maxBytes: number;
  /** Publishes out at once (1-2: a second hides the round trip while the first is acked). */
  inFlight: number;
  queueMaxRecords: number;
  queueMaxBytes: number;
  /**
   * How long a record that could go at once waits for others to share its envelope (ms, > 0), and
   * the timer it waits on. Absent: it goes at once.
   */
  linger?: { ms: number; setTimer(fn: () => void, ms: number): { cancel(): void } };
}

/** The queue is at its cap: the record was not taken (nothing was published for it). */
export class BulkQueueFullError extends Error {
  override name = 'BulkQueueFullError';
}

/** The batcher was closed before the record's batch was published. */
export class BulkBatcherClosedError extends Error {
  override name = 'BulkBatcherClosedError';
}

interface Queued<R> {
  record: R;
  bytes: number;
  resolve(): void;
  reject(err: Error): void;
}

export interface BulkBatcherStats {
  /** Records waiting for a publish slot. */
  queued: number;
  queuedBytes: number;
  /** Publishes out now. */
  inFlight: number;
  /** Batches JetStream acknowledged, and the records in them. */
  batches: number;
  records: number;
  /** Batches whose publish failed (each rejected all its records). */
  failedBatches: number;
  /** Records refused because the queue was full. */
  refusedFull: number;
}

export class BulkBatcher<R> {
  private queue: Queued<R>[] = [];
  private queuedBytes = 0;
  private inFlight = 0;
  private closed = false;
  /** Set by drain(): no new records, but what is queued still goes out. */
  private draining = false;
  private drained: (() => void)[] = [];
  private readonly counts = { batches: 0, records: 0, failedBatches: 0, refusedFull: 0 };
  /** The linger wait now running (records queued with a free slot), if any. */
  private lingering: { cancel(): void } | null = null;

  constructor(private readonly o: BulkBatcherOptions<R>) {
    for (const [k, v] of Object.entries({ maxRecords: o.maxRecords, maxBytes: o.maxBytes, inFlight: o.inFlight, queueMaxRecords: o.queueMaxRecords, queueMaxBytes: o.queueMaxBytes, ...(o.linger ? { 'linger.ms': o.linger.ms } : {}) })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`BulkBatcher: ${k} must be a positive integer, not ${v}`);
    }
  }

  /** Resolves once JetStream acknowledged the batch holding this record; rejects as the class comment says. */
  add(record: R): Promise<void> {
    if (this.closed || this.draining) return Promise.reject(new BulkBatcherClosedError('the edge is stopping: the record was not published'));
    const bytes = this.o.bytesOf(record);
    // The cap is on what waits; a record that can go out at once never counts against it.
    const waits = this.inFlight >= this.o.inFlight;
    if (waits && (this.queue.length >= this.o.queueMaxRecords || this.queuedBytes + bytes > this.o.queueMaxBytes)) {
      this.counts.refusedFull++;
      return Promise.reject(
        new BulkQueueFullError(`the edge's bulk queue is full (${this.queue.length} records, ${this.queuedBytes} bytes waiting for JetStream; caps ${this.o.queueMaxRecords} / ${this.o.queueMaxBytes}): JetStream is not keeping up`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, bytes, resolve, reject });
      this.queuedBytes += bytes;
      if (waits || !this.o.linger || this.envelopeFull()) return this.pump();
      // A slot is free: wait for company, once per envelope.
      this.lingering ??= this.o.linger.setTimer(() => {
        this.lingering = null;
        if (!this.closed) this.pump();
      }, this.o.linger.ms);
    });
  }

  stats(): BulkBatcherStats {
    return { queued: this.queue.length, queuedBytes: this.queuedBytes, inFlight: this.inFlight, ...this.counts };
  }

  /**
   * Refuses new records and resolves once everything queued has been published and every publish
   * has settled (a stopping edge's last presence records: the fobs' disconnections).
   */
  drain(): Promise<void> {
    this.draining = true;
    // What lingers goes now: nothing more is coming to share its envelope.
    this.pump();
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** Refuses new records and rejects those still waiting; batches in flight settle as JetStream answers. */
  close(): void {
    this.closed = true;
    this.stopLingering();
    const waiting = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const q of waiting) q.reject(new BulkBatcherClosedError('the edge stopped before this record was published: not on the stream'));
    this.wakeDrained();
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0;
  }

  private wakeDrained(): void {
    if (!this.idle() && !this.closed) return;
    for (const d of this.drained.splice(0)) d();
  }

  /** The queue holds an envelope's worth: no reason to wait for more. */
  private envelopeFull(): boolean {
    return this.queue.length >= this.o.maxRecords || this.queuedBytes >= this.o.maxBytes;
  }

  private stopLingering(): void {
    this.lingering?.cancel();
    this.lingering = null;
  }

  private pump(): void {
    // Whatever lingered goes in this pump (or waits for a slot, which pumps again when it frees).
    this.stopLingering();
    while (this.inFlight < this.o.inFlight && this.queue.length > 0) {
      let n = 0;
      let bytes = 0;
      // At least one record, then as many as fit both caps, in arrival order.
      while (n < this.queue.length && n < this.o.maxRecords && (n === 0 || bytes + this.queue[n]!.bytes <= this.o.maxBytes)) {
        bytes += this.queue[n]!.bytes;
        n++;
      }
      const batch = this.queue.splice(0, n);
      this.queuedBytes -= bytes;
      this.inFlight++;
      let published: Promise<void>;
      try {
        published = this.o.publish(batch.map((q) => q.record));
      } catch (err) {
        published = Promise.reject(err as Error);
      }
      published.then(
        () => {
          this.counts.batches++;
          this.counts.records += batch.length;
          this.settled();
          for (const q of batch) q.resolve();
        },
        (err: unknown) => {
          this.counts.failedBatches++;
          this.settled();
          const e = err instanceof Error ? err : new Error(String(err));
          for (const q of batch) q.reject(e);
        },
      );
    }
  }

  private settled(): void {
    this.inFlight--;
    if (!this.closed) this.pump();
    this.wakeDrained();
  }
}
