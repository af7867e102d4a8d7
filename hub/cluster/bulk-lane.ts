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
 */
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../logger.js';
import { decodeInbound, InboundFormatError, type InboundMessage } from './inbound.js';
import type { AlarmFirst } from './alarm-first.js';

export interface BulkLaneCounters {
  /** Bulk messages committed and acked. */
  handled: number;
  /** Batches committed (each is one set of transactions and one round of acks). */
  batches: number;
  /** Deliveries after the first. */
  redelivered: number;
  /** Messages of batches the store refused: nak'd, to come back. */
  retried: number;
  /** Messages not from an edge: logged and terminated. */
  refused: number;
}

export interface BulkLaneOptions {
  consumer: Consumer;
  /** Most messages in one batch ([cluster] bulk_batch). */
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
        this.pulling = await o.consumer.fetch({ max_messages: o.batch, expires: BULK_FETCH_EXPIRES_MS });
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
    const items: { m: JsMsg; inbound: InboundMessage }[] = [];
    for (const m of held) {
      try {
        items.push({ m, inbound: decodeInbound(m.headers, m.data) });
      } catch (err) {
        if (!(err instanceof InboundFormatError)) throw err;
        o.counters.refused++;
        o.log.error({ subject: m.subject, seq: m.seq, err: err.message }, 'message on the bulk lane is not from a Lonewatch edge: dropped (term)');
        quietly(() => m.term());
      }
      if (m.redelivered) o.counters.redelivered++;
    }
    if (items.length === 0) return;
    await o.gate.bulkTurn(BULK_YIELD_MAX_MS);
    try {
      await o.commit(items.map((i) => i.inbound));
    } catch (err) {
      o.counters.retried += items.length;
      o.log.error({ messages: items.length, firstSeq: items[0]!.m.seq, err: (err as Error).message }, `could not store a batch of ${items.length} heartbeats/presence messages: not acked, offered again in ${NAK_DELAY_MS} ms`);
      for (const { m } of items) quietly(() => m.nak(NAK_DELAY_MS));
      return;
    }
    // Committed: now every message is acked, each confirmed by the server. An unconfirmed ack only
    // means that message may come again, and writing it again changes nothing.
    const confirmed = await Promise.all(items.map(({ m }) => m.ackAck().catch(() => false)));
    const lost = confirmed.filter((c) => !c).length;
    if (lost > 0) o.log.warn({ messages: items.length, unconfirmed: lost }, `JetStream did not confirm ${lost} of ${items.length} acks of a committed bulk batch: those may come again (writing them again changes nothing)`);
    o.counters.handled += items.length;
    o.counters.batches++;
  }

  /** Stops pulling; a batch being committed is finished and acked, one being pulled is given back. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pulling?.close().catch(() => undefined);
    await this.loop;
  }
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
