/**
 * A hub worker (issue 19): the hub's ingest, rules, notifiers and HTTP side (Hub.start, without fob
 * listeners), fed from the durable JetStream consumers that every worker shares instead of from a
 * broker: the ordered lane (events and positions: one consumer per partition of the devices, one
 * message in flight each, so a device's messages in order, hub/cluster/partition.ts) and the bulk
 * lane (heartbeats, status, presence: one consumer, taken in batches, hub/cluster/lanes.ts and
 * bulk-lane.ts), so an SOS never waits behind heartbeats; and this worker starts no bulk batch
 * while it handles an ordered message (hub/cluster/alarm-first.ts). For each ordered message:
 *
 *   1. the same ingest as the single hub (FobIngest) stores and acts on it in one transaction; it is
 *      Hub.start's own, so what the single hub does after a commit happens here by the same code:
 *      a fix for an open alarm reaches Dispatcher.positionUpdated (issue 20: the ARC's and the
 *      webhook's location follow-ups) through its onAlarmPosition hook, not through a copy of it;
 *   2. the application ack (the `ack` command) goes to the fob on `<command_prefix>.<deviceId>`,
 *      which the edge holding its connection delivers at QoS 1;
 *   3. only then is the JetStream message acked.
 *
 * A worker killed between 1 and 3 leaves the message unacked: JetStream delivers it again after
 * ack_wait_ms (to any worker), the store finds its (device_id, event_id) already there, and the ingest
 * acknowledges it to the fob again without a second alarm. A message that cannot be stored now (the
 * store is down) is nak'd and comes back; one that is not from an edge is logged and dropped (term).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ClusterConfig, HubConfig } from '../config/config-schema.js';
import type { Store } from '../store/store.js';
import { Hub, type HubOptions } from '../hub.js';
import { encodeCommand, TOPIC } from '../../shared/protocol-core.js';
import { commandSubject, decodeInbound, InboundFormatError, PRESENCE_LEAF, type InboundMessage } from './inbound.js';
import { connectNats, ensureConsumers, ensureStream, jetStreamAnswers, nodeId } from './nats-connection.js';
import { relayKey } from './relay-key.js';
import { partitionConsumer } from './partition.js';
import { bulkConsumer, laneOf } from './lanes.js';
import { AlarmFirst } from './alarm-first.js';
import { BULK_YIELD_MAX_MS, BulkLane, type BulkLaneCounters } from './bulk-lane.js';
import { recordStreamedPresence } from '../ingest/presence.js';
import { txAhead, txTiming, type TxTiming, type WriteStats } from '../store/tx-timing.js';
import { LaneTimings, sumTx } from './lane-timings.js';

export interface WorkerOptions {
  config: HubConfig;
  cluster: ClusterConfig;
  /** The shared store (the caller's: PostgreSQL in production, or one SQLite file for one worker). */
  store?: Store;
  log: Logger;
  clock?: Clock;
  id?: string;
  /**
   * false: an HTTP node (`lonewatch http`): the dashboard and API, commands to fobs over NATS, and no
   * share of the stream. Default true.
   */
  consume?: boolean;
  /** Extra Hub.start options (tests: dispatch). */
  hub?: Pick<HubOptions, 'dispatch' | 'registerHttp' | 'stopStepMs'>;
}

export interface WorkerCounters {
  /** Ordered-lane messages (events, positions) stored (or found already stored) and acked. */
  handled: number;
  /** Deliveries after the first (a worker died, or ack_wait passed, before the ack). */
  redelivered: number;
  /** Messages that could not be stored now: nak'd, to come back. */
  retried: number;
  /** Messages not from an edge: logged and terminated. */
  refused: number;
  /** The bulk lane (heartbeats, status, presence), counted apart. */
  bulk: BulkLaneCounters;
}

/**
 * How often a node's due-work loop looks at the shared store for work it was not told of: an
 * escalation step another worker armed and then died with, or a lease a dead worker held (issues 18,
 * 19). Every worker and the HTTP node claim from the one store (PostgreSQL: FOR UPDATE SKIP LOCKED),
 * so each row is done by one of them; this bounds how late a surviving node finds it. One indexed
 * MIN() read a second per node.
 */
export const DUE_WORK_POLL_MS = 1000;

/** How long one pull request waits at the consumer's leader (see consume()). */
const PULL_EXPIRES_MS = 5000;

/** How long a nak'd message waits before it is offered again (the store may be restarting). */
const NAK_DELAY_MS = 1000;

/**
 * Devices per transaction when a bulk batch is written (heartbeats' rules, presence): an alarm in
 * this worker waits for at most one such transaction (hub/cluster/alarm-first.ts). A heartbeat
 * transaction costs about ten statements whatever its size (RulesRuntime.stepHeartbeats: the
 * devices, their health and shifts read in one, each table written in one); `npm run bench -- --only
 * heartbeats` on PostgreSQL at load 11 (docs/cluster.md "Heartbeat cost on PostgreSQL"): 10 a
 * transaction 535 heartbeats/s, 50 1,953/s with the longest transaction 48 ms, 250 2,810/s and 102
 * ms. Before, each device cost a few statements (163/s at 10 a transaction), and a whole batch of
 * 250 in one transaction took seconds, every SOS waiting behind it (the cluster bench at 5,000 fobs).
 */
export const BULK_CHUNK = 50;

/**
 * Presence changes per transaction: still a few statements per device (recordStreamedPresence, one
 * device at a time), so kept at the 10 that bounded an SOS's wait before (docs/cluster.md).
 */
export const PRESENCE_CHUNK = 10;

export class ClusterWorker {
  readonly counters: WorkerCounters = { handled: 0, redelivered: 0, retried: 0, refused: 0, bulk: { handled: 0, envelopes: 0, batches: 0, redelivered: 0, retried: 0, refused: 0 } };
  private readonly partitions: ConsumerMessages[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly gate = new AlarmFirst();
  /** Where the time goes, per lane (GET /timings; docs/cluster.md "Where an SOS's time goes"). */
  readonly timings = new LaneTimings();
  private bulk: BulkLane | null = null;
  private closed = false;

  private constructor(
    readonly id: string,
    readonly role: 'worker' | 'http',
    private readonly o: WorkerOptions,
    private readonly log: Logger,
    readonly nc: NatsConnection,
    readonly hub: Hub,
  ) {}

  static async start(o: WorkerOptions): Promise<ClusterWorker> {
    const { cluster } = o;
    const role = o.consume === false ? 'http' : 'worker';
    const id = o.id ?? nodeId(cluster, role);
    const log = o.log.child({ node: id, role });
    const nc = await connectNats(cluster, id);
    let hub: Hub | null = null;
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStream(jsm, cluster);
      if (role === 'worker') await ensureConsumers(jsm, cluster);
      // Set once the hub is up; /readyz may be asked before that.
      const built: { worker?: ClusterWorker } = {};
      const key = relayKey(cluster);
      hub = await Hub.start({
        config: o.config,
        ...(o.store ? { store: o.store } : {}),
        ...(o.clock ? { clock: o.clock } : {}),
        log,
        ...o.hub,
        mqttListen: false,
        dueWorkPollMs: DUE_WORK_POLL_MS,
        // The companion this node serves relays through the edges (docs/cluster.md "The companion
        // across edges"): tokens signed with the cluster's key, and the edges' WebSocket URLs.
        ...(key ? { relayKey: key } : {}),
        ...(cluster.edge_websockets ? { companionHubs: cluster.edge_websockets } : {}),
        // Core NATS: the edge holding the fob delivers it. Lost with an edge, it is made good by the
        // fob resending its event until acked (docs/protocol.md), and the redelivery is acked again.
        commandSink: (deviceId, command) => nc.publish(commandSubject(cluster.command_prefix, deviceId), encodeCommand(command)),
        registerHttp: async (http, h) => {
          // The last few thousand messages' stages (lane-timings.ts), since an epoch ms: what the
          // cluster bench reads after each window. Read-only, counts only.
          http.get('/timings', async (req, reply) => {
            if (!built.worker) return reply.code(503).send({ why: 'starting' });
            const since = Number((req.query as { since?: string }).since ?? 0);
            if (!Number.isFinite(since)) return reply.code(400).send({ error: 'since must be epoch milliseconds' });
            // The store's writers since it opened (PostgreSQL store only): busyMs over the uptime is how
            // much of the time they were taken, both writers' together (so it can pass 100 %).
            const writes = (built.worker.hub.store as { writeStats?: WriteStats }).writeStats ?? null;
            return { ...built.worker.timings.summary(since), writes, at: Date.now() };
          });
          http.get('/readyz', async (_req, reply) => {
            // The hub listens before this worker is built around it: not ready until then.
            if (!built.worker) return reply.code(503).send({ ready: false, role, id, why: 'starting' });
            const r = await built.worker.ready();
            return reply.code(r.ready ? 200 : 503).send(r);
          });
          await o.hub?.registerHttp?.(http, h);
        },
      });
      const worker = new ClusterWorker(id, role, o, log, nc, hub);
      built.worker = worker;
      const web = hub.listeners().http ?? hub.listeners().https;
      if (role === 'worker') {
        await worker.consume();
        log.info(
          { http: web, stream: cluster.stream, consumer: cluster.consumer, partitions: cluster.partitions, bulkBatch: cluster.bulk_batch },
          `worker ${id} consuming ${cluster.stream}/${cluster.consumer}-p0..p${cluster.partitions - 1} (events and positions, one message in flight per partition) and ${bulkConsumer(cluster.consumer)} (heartbeats, status, presence, single or in edge envelopes, committed up to ${cluster.bulk_batch} records at a time); dashboard and API on ${web}`,
        );
      } else {
        log.info({ http: web }, `HTTP node ${id}: dashboard and API on ${web}; commands to fobs over NATS`);
      }
      return worker;
    } catch (err) {
      await hub?.stop().catch(() => undefined);
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * One pull loop per partition (hub/cluster/partition.ts), every worker on every partition. The
   * partition's consumer has max_ack_pending 1, so the server hands its next message to whichever
   * worker asks only once this one is acked: a device's messages are handled one after the other,
   * in stream order, across workers. The partitions run side by side in this worker.
   */
  private async consume(): Promise<void> {
    const js = jetstream(this.nc);
    const { cluster } = this.o;
    for (let p = 0; p < cluster.partitions; p++) {
      const consumer = await js.consumers.get(cluster.stream, partitionConsumer(cluster.consumer, p));
      // Only one message of the partition can be in flight, so a deep pull buys nothing.
      // expires: a pull lives this long at the consumer's leader; nats.js sends heartbeats at half of
      // it and pulls again after two are missed. Its default (30 s) let a NATS node's kill -9 stall a
      // partition whose leader was on that node for ~30 s: every device of the partition waits behind
      // it (max_ack_pending 1), SOS included. At 5 s a lost pull is found within ~5 s, for a pull per
      // partition per worker every 5 s while idle (the cluster-failover test's NATS kill).
      const messages = await consumer.consume({ max_messages: 2, expires: PULL_EXPIRES_MS });
      this.partitions.push(messages);
      this.loops.push(
        (async () => {
          for await (const m of messages) await this.gate.ordered(() => this.handleInOrder(m));
        })().catch((err: Error) => {
          if (!this.closed) this.log.error({ err, partition: p }, `the JetStream consumer of partition ${p} stopped: this worker takes no more of its messages (the other workers still do); restart it`);
        }),
      );
    }
    // The bulk lane, started after the ordered lane's pulls are out.
    this.bulk = new BulkLane({
      consumer: await js.consumers.get(cluster.stream, bulkConsumer(cluster.consumer)),
      batch: cluster.bulk_batch,
      ackWaitMs: cluster.ack_wait_ms,
      gate: this.gate,
      commit: (items) => this.commitBulk(items),
      log: this.log.child({ lane: 'bulk' }),
      counters: this.counters.bulk,
    });
    this.bulk.start();
  }

  /**
   * Stores a batch of bulk-lane messages (hub/cluster/lanes.ts), resolving once all of it is
   * committed: the heartbeats through the ingest's own batch write (liveness, health rules and
   * sightings together, in transactions of BULK_CHUNK devices, a bounded number of statements each;
   * a heartbeat older than the one stored changes nothing), then the presence changes in
   * transactions of PRESENCE_CHUNK, each started only when no alarm is in hand here (a device's
   * last presence in stream order is the one kept: the state it ended in; a stale one changes nothing,
   * recordStreamedPresence); status messages are validated as the single hub does (they store
   * nothing). A redelivered batch, or batches of two workers committed the other way round, so
   * leave each device as its newest message says. `paced` false: the message is itself one of the
   * ordered lane's in hand (a heartbeat from an older edge), so it must not wait for that lane.
   */
  private async commitBulk(items: readonly InboundMessage[], paced = true): Promise<void> {
    const beats: InboundMessage[] = [];
    const presence = new Map<string, { online: boolean; at: number }>();
    for (const i of items) {
      if (i.leaf === TOPIC.heartbeat) beats.push(i);
      else if (i.leaf === PRESENCE_LEAF) presence.set(i.deviceId, { online: Buffer.from(i.payload).toString() === '1', at: i.receivedAt });
      else await this.hub.ingest.onDevicePublish(i.deviceId, i.leaf, Buffer.from(i.payload), i.receivedAt);
    }
    const turn = () => (paced ? this.gate.bulkTurn(BULK_YIELD_MAX_MS) : Promise.resolve());
    // Each transaction's cost kept (lane-timings.ts): what an SOS arriving meanwhile waits behind.
    const ts: TxTiming[] = [];
    await txTiming.run(ts, async () => {
      await this.hub.ingest.recordHeartbeatBatch(beats, { chunk: BULK_CHUNK, turn });
      const changes = [...presence];
      for (let i = 0; i < changes.length; i += PRESENCE_CHUNK) {
        await turn();
        await this.hub.store.transaction(async (tx) => {
          for (const [deviceId, p] of changes.slice(i, i + PRESENCE_CHUNK)) await recordStreamedPresence(tx, deviceId, p.online, p.at);
        });
      }
    });
    this.timings.addBulk(Date.now(), ts);
  }

  /**
   * handle(), keeping the partition's one message in flight alive while it runs (`working` resets
   * its AckWait), so only a dead or cut-off worker's message is given to another; and, once this
   * worker is stopping, giving a message it pulled but will not handle straight back (`nak`), so the
   * partition does not wait ack_wait_ms for it.
   */
  private async handleInOrder(m: JsMsg): Promise<void> {
    if (this.closed) {
      m.nak();
      return;
    }
    const keepAlive = setInterval(() => m.working(), Math.max(250, Math.floor(this.o.cluster.ack_wait_ms / 3)));
    try {
      await this.handle(m);
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    let inbound;
    try {
      inbound = decodeInbound(m.headers, m.data);
    } catch (err) {
      if (!(err instanceof InboundFormatError)) throw err;
      this.counters.refused++;
      this.log.error({ subject: m.subject, seq: m.seq, err: err.message }, 'message on the stream is not from a Lonewatch edge: dropped (term)');
      m.term();
      return;
    }
    const { deviceId, leaf, receivedAt } = inbound;
    // Stage times (lane-timings.ts): the edge's clock and ours are the same machine's in the bench;
    // across machines queueMs also holds their clocks' difference.
    const handedAt = Date.now();
    const handed = performance.now();
    const ts: TxTiming[] = [];
    if (m.redelivered) {
      this.counters.redelivered++;
      this.log.info({ deviceId, leaf, seq: m.seq, delivery: m.info.deliveryCount, edge: inbound.edgeId }, 'message delivered again (a worker stopped before acking it): handled again, deduplicated by event id');
    }
    try {
      // A heartbeat or presence on a partition subject was put there by an edge from before the
      // bulk lane (docs/cluster.md "Upgrading to the bulk lane"): committed here as a batch of one,
      // so it too is stored before it is acked.
      // txAhead: this message's transactions go before the heartbeat batches, presence and
      // due-work steps queued in this worker's store (tx-timing.ts; docs/cluster.md "Where an SOS's
      // time goes": p50 1.3 s of an SOS's 2.5 s was that queue at 5,000 fobs). AlarmFirst below only
      // stops bulk batches from starting; what was already queued went first before this.
      await txAhead.run(true, () =>
        txTiming.run(ts, async () => {
          if (laneOf(leaf) === 'bulk') await this.commitBulk([inbound], false);
          else await this.hub.ingest.onDevicePublish(deviceId, leaf, Buffer.from(inbound.payload), receivedAt);
        }),
      );
    } catch (err) {
      this.counters.retried++;
      this.log.error({ deviceId, leaf, seq: m.seq, err: (err as Error).message }, `could not store the message: not acked, offered again in ${NAK_DELAY_MS} ms`);
      m.nak(NAK_DELAY_MS);
      return;
    }
    // The ingest sends the application ack on the next turn of the event loop (after what would be
    // the PUBACK in the single hub): let it go out on this connection before the JetStream ack.
    const ingested = performance.now();
    await new Promise((r) => setImmediate(r));
    // Confirmed by the server (one round trip): a lost ack would only mean one more, deduplicated,
    // delivery, but the count below then says what JetStream has taken.
    const acking = performance.now();
    const confirmed = await m.ackAck().catch(() => false);
    if (!confirmed) this.log.warn({ deviceId, leaf, seq: m.seq }, 'JetStream did not confirm the ack: the message may come again (it would be deduplicated)');
    this.counters.handled++;
    const sample = { receivedAt, leaf, queueMs: handedAt - receivedAt, ...sumTx(ts), ingestMs: ingested - handed, ackAckMs: performance.now() - acking };
    this.timings.addOrdered(sample);
    this.log.debug({ deviceId, seq: m.seq, ...sample }, 'ordered message stored, acknowledged to the fob and acked (stage times in ms)');
  }

  /** Ready while NATS, JetStream and the store answer. */
  async ready(): Promise<{ ready: boolean; role: 'worker' | 'http'; id: string; why?: string }> {
    const { role, id } = this;
    const js = await jetStreamAnswers(this.nc, this.o.cluster);
    if (!js.ok) return { ready: false, role, id, why: js.why };
    try {
      await this.hub.store.read((tx) => tx.getDevice('-'));
    } catch (err) {
      return { ready: false, role, id, why: `the store does not answer: ${(err as Error).message}` };
    }
    return { ready: true, role, id };
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Stop taking messages, finish the one in hand; what was pulled and not handled is redelivered.
    await Promise.all([...this.partitions.map((m) => m.close().catch(() => undefined)), this.bulk?.stop()]);
    await Promise.all(this.loops);
    await this.nc.drain().catch(() => this.nc.close());
    await this.hub.stop();
  }
}
