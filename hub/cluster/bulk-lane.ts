/**
 * A worker's share of the bulk lane (hub/cluster/lanes.ts: heartbeats, status, presence): pull up
 * to `batch` messages from the shared `<consumer>-bulk` consumer, wait for the ordered lane to be
 * idle here (AlarmFirst), commit them together (`commit`: the worker's few transactions for the whole
 * batch), and only then ack every one of them and wait for the server to confirm. The brief's order
 * (issue 19: "commit to PostgreSQL, send the application ack, then ack JetStream"; these leaves have
 * no application ack) holds for each message: nothing is acked before it is committed.
 *
 * A worker killed before its acks leaves the whole batch unacked: JetStream offers each message
 * again after ack_wait_ms, to any worker, and writing a heartbeat or a presence again changes
 * nothing more than the first write did. A batch the store refuses is nak'd, whole, and comes back.
 * While a batch is held (being pulled, waiting its turn, being committed) its messages' AckWait is
 * reset (`working`), so only a dead worker's batch goes to another.
 *
 * Edges batch the lane (hub/cluster/bulk-batcher.ts): a stream message is either one record or an
 * envelope of many (bulk-envelope.ts). A pull's messages are read into their records, in stream
 * order, and committed at most `batch` records at a time; a message is acked once all of its
 * records are committed (an envelope split over two commits is acked after the second). A commit
 * that fails naks every message not yet acked, a partly committed envelope included: its records
 * come again, and writing them again changes nothing. The pull asks for about `batch` records' worth
 * of messages, by the records per message of the pull before, so one worker does not take the
 * whole backlog in envelopes while another waits.
 */
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../logger.js';
import { decodeInbound, InboundFormatError, type InboundMessage } from './inbound.js';
import { decodeBulkBatch, isBulkBatch } from './bulk-envelope.js';
import type { AlarmFirst } from './alarm-first.js';

export interface BulkLaneCounters {
  /** Bulk records (heartbeats, status, presence) committed and their messages acked. */
  handled: number;
  /** Of the messages acked, the envelopes (each held many records). */
  envelopes: number;
  /** Commits (each is one set of transactions, then the acks of the messages it completed). */
  batches: number;
  /** Deliveries after the first. */
  redelivered: number;
  /** Messages of batches the store refused: nak'd, to come back. */
  retried: number;
  /** Messages not from an edge (or envelopes not as an edge writes them): logged and terminated. */
  refused: number;
}

export interface BulkLaneOptions {
  consumer: Consumer;
  /** Most records in one commit, and about the records one pull asks for ([cluster] bulk_batch). */
  batch: number;
  ackWaitMs: number;
  gate: AlarmFirst;
  /** Stores a batch (decoded, in stream order); resolves once committed, rejects when the store fails. */
  commit(items: InboundMessage[]): Promise<void>;
  log: Logger;
  counters: BulkLaneCounters;
}

/**
 * How long one pull waits at the server for a full batch: a batch not full by then is committed as
 * it is, so a heartbeat waits at most this (plus the commit) when traffic is light. nats.js refuses
 * less than 1 s (its fetch: "expires must be at least 1000ms").
 */
export const BULK_FETCH_EXPIRES_MS = 1000;
/**
 * The longest one of a batch's transactions waits for the ordered lane to be idle here (AlarmFirst)
 * before it starts anyway, so heartbeats still move under a steady stream of events. A heartbeat
 * late by this changes nothing (a fob is reported silent after `[rules] device_silent_after_min`,
 * 20 minutes by default). 500 ms gave SOS p50 8.2 s at 10,000 fobs on PostgreSQL, 2 s p50 0.4 s, on
 * a shared machine at load 24 and 17 (docs/cluster.md: not a like-for-like comparison).
 */
export const BULK_YIELD_MAX_MS = 2000;
/** How long a nak'd batch waits before it is offered again (the store may be restarting). */
const NAK_DELAY_MS = 1000;
/** After a failed pull (NATS reconnecting, the consumer's leader moving), the next one waits this. */
const PULL_RETRY_MS = 1000;

export class BulkLane {
  private closed = false;
  private pulling: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  /** Records per stream message in the last pull (1 without envelopes): sizes the next pull. */
  private recordsPerMessage = 1;

  constructor(private readonly o: BulkLaneOptions) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const { o } = this;
    while (!this.closed) {
      const held: JsMsg[] = [];
      const keepAlive = setInterval(() => {
        for (const m of held) quietly(() => m.working());
      }, Math.max(250, Math.floor(o.ackWaitMs / 3)));
      try {
        this.pulling = await o.consumer.fetch({ max_messages: pullSize(o.batch, this.recordsPerMessage), expires: BULK_FETCH_EXPIRES_MS });
        for await (const m of this.pulling) held.push(m);
        this.pulling = null;
        if (this.closed) {
          // Stopping: give them straight back rather than make them wait out their AckWait.
          for (const m of held) quietly(() => m.nak());
          return;
        }
        if (held.length > 0) await this.handle(held);
      } catch (err) {
        this.pulling = null;
        if (this.closed) return;
        for (const m of held) quietly(() => m.nak(NAK_DELAY_MS));
        o.log.warn({ err: (err as Error).message, held: held.length }, `could not pull heartbeats and presence from the bulk consumer: trying again in ${PULL_RETRY_MS} ms (alarms are not affected: they have consumers of their own)`);
        await new Promise((r) => setTimeout(r, PULL_RETRY_MS));
      } finally {
        clearInterval(keepAlive);
      }
    }
  }

  private async handle(held: JsMsg[]): Promise<void> {
    const { o } = this;
    const decoded: { m: JsMsg; records: InboundMessage[]; acked?: boolean }[] = [];
    for (const m of held) {
      if (m.redelivered) o.counters.redelivered++;
      const envelope = isBulkBatch(m.headers);
      try {
        decoded.push({ m, records: envelope ? decodeBulkBatch(m.headers, m.data) : [decodeInbound(m.headers, m.data)] });
      } catch (err) {
        if (!(err instanceof InboundFormatError)) throw err;
        o.counters.refused++;
        o.log.error({ subject: m.subject, seq: m.seq, err: err.message }, envelope ? 'bulk envelope refused whole, none of its records stored: dropped (term)' : 'message on the bulk lane is not from a Lonewatch edge: dropped (term)');
        quietly(() => m.term());
      }
    }
    if (decoded.length === 0) return;
    const total = decoded.reduce((a, d) => a + d.records.length, 0);
    this.recordsPerMessage = total / decoded.length;
    for (const group of commitGroups(decoded, o.batch)) {
      await o.gate.bulkTurn(BULK_YIELD_MAX_MS);
      try {
        await o.commit(group.records);
      } catch (err) {
        // Everything not yet acked goes back, a partly committed envelope included (writing its
        // first records again changes nothing).
        const back = decoded.filter((d) => !d.acked);
        o.counters.retried += back.length;
        o.log.error(
          { messages: back.length, records: group.records.length, firstSeq: back[0]?.m.seq, err: (err as Error).message },
          `could not store a batch of ${group.records.length} heartbeats/presence records: ${back.length} stream messages not acked, offered again in ${NAK_DELAY_MS} ms`,
        );
        for (const d of back) quietly(() => d.m.nak(NAK_DELAY_MS));
        return;
      }
      // Committed: the messages whose last record is in this commit are acked, each confirmed by the
      // server. An unconfirmed ack only means that message may come again, and writing it again
      // changes nothing.
      const done = group.completes;
      const confirmed = await Promise.all(done.map((d) => d.m.ackAck().catch(() => false)));
      const lost = confirmed.filter((c) => !c).length;
      if (lost > 0) o.log.warn({ messages: done.length, unconfirmed: lost }, `JetStream did not confirm ${lost} of ${done.length} acks of a committed bulk batch: those may come again (writing them again changes nothing)`);
      for (const d of done) {
        d.acked = true;
        o.counters.handled += d.records.length;
        if (isBulkBatch(d.m.headers)) o.counters.envelopes++;
      }
      o.counters.batches++;
    }
  }

  /** Stops pulling; a batch being committed is finished and acked, one being pulled is given back. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pulling?.close().catch(() => undefined);
    await this.loop;
  }
}

/** How many messages to pull for about `batch` records, given the records per message seen last. */
export function pullSize(batch: number, recordsPerMessage: number): number {
  return Math.max(1, Math.min(batch, Math.round(batch / Math.max(1, recordsPerMessage))));
}

export interface CommitGroup<T> {
  records: InboundMessage[];
  /** The messages whose last record is in this group: acked once it is committed. */
  completes: T[];
}

/**
 * Splits a pull's records, in stream order, into commits of at most `batch` records; an envelope's
 * records may span commits, and it completes with the commit that holds its last record.
 */
export function commitGroups<T extends { records: InboundMessage[] }>(messages: readonly T[], batch: number): CommitGroup<T>[] {
  const groups: CommitGroup<T>[] = [];
  let cur: CommitGroup<T> = { records: [], completes: [] };
  for (const m of messages) {
    for (let i = 0; i < m.records.length; ) {
      if (cur.records.length >= batch) {
        groups.push(cur);
        cur = { records: [], completes: [] };
      }
      const take = m.records.slice(i, i + batch - cur.records.length);
      cur.records.push(...take);
      i += take.length;
    }
    cur.completes.push(m);
  }
  if (cur.records.length > 0) groups.push(cur);
  return groups;
}

/**
 * A nak, term or `working` on a connection that has just closed throws (nats.js publishes them);
 * the server then redelivers after the AckWait anyway, which is what each of them was for, so the
 * lane carries on rather than fail a timer or its loop.
 */
function quietly(signal: () => void): void {
  try {
    signal();
  } catch {
    // See above: JetStream's AckWait does the same.
  }
}
