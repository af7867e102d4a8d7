/**
 * A hub worker (issue 19): the hub's ingest, rules, notifiers and HTTP side (Hub.start, without fob
 * listeners), fed from the durable JetStream consumer that every worker shares instead of from a
 * broker. For each message, in order:
 *
 *   1. the same ingest as the single hub (FobIngest) stores and acts on it in one transaction;
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
import { encodeCommand } from '../../shared/protocol-core.js';
import { commandSubject, decodeInbound, InboundFormatError, PRESENCE_LEAF } from './inbound.js';
import { connectNats, ensureConsumer, ensureStream, jetStreamAnswers, nodeId } from './nats-connection.js';
import { recordPresence } from '../ingest/presence.js';

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
  /** Messages stored (or found already stored) and acked. */
  handled: number;
  /** Deliveries after the first (a worker died, or ack_wait passed, before the ack). */
  redelivered: number;
  /** Messages that could not be stored now: nak'd, to come back. */
  retried: number;
  /** Messages not from an edge: logged and terminated. */
  refused: number;
}

/**
 * How often a node's due-work loop looks at the shared store for work it was not told of: an
 * escalation step another worker armed and then died with, or a lease a dead worker held (issues 18,
 * 19). Every worker and the HTTP node claim from the one store (PostgreSQL: FOR UPDATE SKIP LOCKED),
 * so each row is done by one of them; this bounds how late a surviving node finds it. One indexed
 * MIN() read a second per node.
 */
export const DUE_WORK_POLL_MS = 1000;

/** How long a nak'd message waits before it is offered again (the store may be restarting). */
const NAK_DELAY_MS = 1000;

export class ClusterWorker {
  readonly counters: WorkerCounters = { handled: 0, redelivered: 0, retried: 0, refused: 0 };
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
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
      if (role === 'worker') await ensureConsumer(jsm, cluster);
      // Set once the hub is up; /readyz may be asked before that.
      const built: { worker?: ClusterWorker } = {};
      hub = await Hub.start({
        config: o.config,
        ...(o.store ? { store: o.store } : {}),
        ...(o.clock ? { clock: o.clock } : {}),
        log,
        ...o.hub,
        mqttListen: false,
        dueWorkPollMs: DUE_WORK_POLL_MS,
        // Core NATS: the edge holding the fob delivers it. Lost with an edge, it is made good by the
        // fob resending its event until acked (docs/protocol.md), and the redelivery is acked again.
        commandSink: (deviceId, command) => nc.publish(commandSubject(cluster.command_prefix, deviceId), encodeCommand(command)),
        registerHttp: async (http, h) => {
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
        log.info({ http: web, stream: cluster.stream, consumer: cluster.consumer }, `worker ${id} consuming ${cluster.stream}/${cluster.consumer}; dashboard and API on ${web}`);
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

  private async consume(): Promise<void> {
    const js = jetstream(this.nc);
    const consumer = await js.consumers.get(this.o.cluster.stream, this.o.cluster.consumer);
    // A small batch in hand: what this worker holds unacked is what another worker would wait
    // ack_wait_ms for if this one died.
    const messages = await consumer.consume({ max_messages: 32 });
    this.messages = messages;
    this.loop = (async () => {
      for await (const m of messages) {
        await this.handle(m);
      }
    })().catch((err: Error) => {
      if (!this.closed) this.log.error({ err }, 'the JetStream consumer stopped: this worker takes no more messages; restart it');
    });
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
    if (m.redelivered) {
      this.counters.redelivered++;
      this.log.info({ deviceId, leaf, seq: m.seq, delivery: m.info.deliveryCount, edge: inbound.edgeId }, 'message delivered again (a worker stopped before acking it): handled again, deduplicated by event id');
    }
    try {
      if (leaf === PRESENCE_LEAF) {
        const online = Buffer.from(inbound.payload).toString() === '1';
        await this.hub.store.transaction((tx) => recordPresence(tx, deviceId, online, receivedAt));
      } else {
        await this.hub.ingest.onDevicePublish(deviceId, leaf, Buffer.from(inbound.payload), receivedAt);
      }
    } catch (err) {
      this.counters.retried++;
      this.log.error({ deviceId, leaf, seq: m.seq, err: (err as Error).message }, `could not store the message: not acked, offered again in ${NAK_DELAY_MS} ms`);
      m.nak(NAK_DELAY_MS);
      return;
    }
    // The ingest sends the application ack on the next turn of the event loop (after what would be
    // the PUBACK in the single hub): let it go out on this connection before the JetStream ack.
    await new Promise((r) => setImmediate(r));
    // Confirmed by the server (one round trip): a lost ack would only mean one more, deduplicated,
    // delivery, but the count below then says what JetStream has taken.
    const confirmed = await m.ackAck().catch(() => false);
    if (!confirmed) this.log.warn({ deviceId, leaf, seq: m.seq }, 'JetStream did not confirm the ack: the message may come again (it would be deduplicated)');
    this.counters.handled++;
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
    await this.messages?.close().catch(() => undefined);
    await this.loop;
    await this.nc.drain().catch(() => this.nc.close());
    await this.hub.stop();
  }
}
