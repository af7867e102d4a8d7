/**
 * An edge node (issue 19): the hub's MQTT termination without its rules. The same MqttBroker, with
 * its per-device authentication bound to the client id, ACL and bounds, checks every fob; what a fob
 * publishes goes to the JetStream stream, and the fob's PUBACK waits for JetStream's publish ack
 * (aedes writes a QoS 1 PUBACK only once authorizePublish calls back: broker/mqtt-broker.ts). A
 * publish JetStream refuses or does not acknowledge in time gets no PUBACK: the broker drops the
 * connection and the fob sends it again, here or at another edge. Heartbeats, status and presence
 * (the bulk lane) go out in batch envelopes (bulk-batcher.ts, bulk-envelope.ts: one JetStream publish
 * for what arrived while earlier ones were in flight); each one's PUBACK waits for its envelope's ack.
 *
 * Commands for fobs (acks, prompts) come from the workers on `<command_prefix>.<deviceId>`; the edge
 * that holds the fob's connection delivers them at QoS 1. The edge reads the store (device
 * credentials, revocations) and writes nothing to it. Stateless: any edge serves any fob.
 *
 * `[tls]` applies to an edge exactly as to the single hub (hub/tls/mqtt-transports.ts, the same
 * module): MQTTS on `tls.mqtts_port`, the plain listener off unless `keep_plain_mqtt`, client
 * certificates per `client_certs`, HTTPS and wss on the HTTP port unless `https = false`, and SIGHUP
 * reloads the certificate (`lonewatch edge`).
 */
import type { FastifyInstance } from 'fastify';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ClusterConfig, HubConfig } from '../config/config-schema.js';
import type { Store } from '../store/store.js';
import { MqttBroker } from '../broker/mqtt-broker.js';
import { DeviceAuth } from '../ingest/device-auth.js';
import { DeviceWatch } from '../ingest/device-watch.js';
import { createHttpServer } from '../http/http-server.js';
import { listenersLine, MqttTransports, tlsClause, type CertificateStatus, type TransportListeners } from '../tls/mqtt-transports.js';
import type { ReloadResult } from '../tls/tls-context.js';
import { RelayTokens, RELAY_TOKEN_TTL_MS } from '../companion/relay-tokens.js';
import { SessionRelayCheck } from '../companion/relay-check.js';
import { brokerSessions } from '../mqtt-sessions.js';
import { relayKey } from './relay-key.js';
import { commandTopic, TOPIC } from '../../shared/protocol-core.js';
import { commandSubject, deviceOfCommandSubject, encodeInbound, inboundSubject, PRESENCE_LEAF } from './inbound.js';
import { connectNats, ensureStream, jetStreamAnswers, nodeId } from './nats-connection.js';
import { laneOf } from './lanes.js';
import { bulkBatchSubject, encodeBulkBatch, recordBytes, type BulkRecord } from './bulk-envelope.js';
import { BulkBatcher, type BulkBatcherStats } from './bulk-batcher.js';

export interface EdgeOptions {
  config: HubConfig;
  cluster: ClusterConfig;
  /** Read only: device credentials and revocations. */
  store: Store;
  log: Logger;
  clock?: Clock;
  /** Overrides config.mqtt.port / tls.mqtts_port / config.http.port (0: any free port). */
  mqttPort?: number;
  mqttsPort?: number;
  httpPort?: number;
  id?: string;
}

export interface EdgeCounters {
  /** Publishes JetStream acknowledged, alone or in an envelope (and the fob got its PUBACK, for QoS 1). */
  streamed: number;
  /** QoS 1 publishes JetStream refused or did not acknowledge in time (or the bulk queue was full): no PUBACK, the fob was dropped to retry. */
  streamFailed: number;
  /** QoS 0 publishes (the firmware's heartbeats and positions) dropped because JetStream did not take them. */
  lossyDropped: number;
  /** Commands delivered to a fob connected here. */
  commands: number;
}

export class Edge {
  readonly counters: EdgeCounters = { streamed: 0, streamFailed: 0, lossyDropped: 0, commands: 0 };
  /** The bulk lane's batcher; null with `[cluster] edge_batching = false`. */
  bulk: BulkBatcher<BulkRecord> | null = null;
  /** The plain MQTT port; 0 when that listener is off ([tls] without keep_plain_mqtt). */
  mqttPort = 0;
  /** The MQTTS port; 0 without [tls]. */
  mqttsPort = 0;
  httpPort = 0;
  private closed = false;

  private constructor(
    readonly id: string,
    private readonly o: EdgeOptions,
    readonly nc: NatsConnection,
    readonly broker: MqttBroker,
    private readonly devices: DeviceWatch,
    private readonly commands: Subscription,
    readonly http: FastifyInstance,
    readonly transports: MqttTransports,
    /** The companion relay check; null without `[cluster] relay_key_env` (no relay is let in). */
    private readonly relays: SessionRelayCheck | null,
  ) {}

  static async start(o: EdgeOptions): Promise<Edge> {
    const { config, cluster, store } = o;
    const clock = o.clock ?? systemClock;
    const id = o.id ?? nodeId(cluster, 'edge');
    const log = o.log.child({ node: id, role: 'edge' });
    // The certificate files are checked before anything connects or listens, as the hub does.
    const transports = MqttTransports.open(config, log, () => clock.now());
    // Companion relays: tokens any node signed with the cluster's key, checked against the store.
    const key = relayKey(cluster);
    const relays = key ? new SessionRelayCheck(new RelayTokens(clock, RELAY_TOKEN_TTL_MS, key), store, clock, log.child({ component: 'relays' })) : null;
    const nc = await connectNats(cluster, id);
    const undo: (() => Promise<unknown>)[] = [() => nc.close()];
    try {
      // The stream is set up by whichever node starts first; an edge cannot PUBACK without it.
      await ensureStream(await jetstreamManager(nc), cluster);
      const js = jetstream(nc, { timeout: cluster.publish_timeout_ms });
      const auth = new DeviceAuth(store, [], relays);
      // eslint-disable-next-line prefer-const
      let broker: MqttBroker;
      const devices = new DeviceWatch({
        store,
        log: log.child({ component: 'devices' }),
        intervalMs: config.mqtt.device_check_ms,
        onRevoked: (deviceId) => broker.disconnectDevice(deviceId, 'the device has been revoked'),
        onReassigned: () => undefined,
      });
      await devices.start();
      undo.push(async () => devices.stop());
      // eslint-disable-next-line prefer-const
      let edge: Edge;
      // The bulk lane (heartbeats, status, presence) in envelopes (bulk-batcher.ts: batched while
      // earlier envelopes are in flight, and for edge_batch_linger_ms when none is); events and
      // positions stay one message each, on their partition's subject, so their order and their
      // consumers are unchanged (lanes.ts).
      const bulk = cluster.edge_batching
        ? new BulkBatcher<BulkRecord>({
            publish: async (records) => {
              const { headers, data } = encodeBulkBatch(id, records);
              await js.publish(bulkBatchSubject(cluster.subject_prefix, id), data, { headers, timeout: cluster.publish_timeout_ms });
            },
            bytesOf: recordBytes,
            maxRecords: cluster.edge_batch_records,
            maxBytes: cluster.edge_batch_bytes,
            inFlight: cluster.edge_batches_in_flight,
            queueMaxRecords: cluster.edge_queue_records,
            queueMaxBytes: cluster.edge_queue_bytes,
            // Real time, not the hub's clock: it paces I/O and is no rule (as alarm-first.ts's wait).
            ...(cluster.edge_batch_linger_ms > 0 ? { linger: { ms: cluster.edge_batch_linger_ms, setTimer: systemClock.setTimer } } : {}),
          })
        : null;
      undo.push(async () => bulk?.close());
      const stream = async (deviceId: string, leaf: string, payload: Uint8Array): Promise<void> => {
        if (bulk && laneOf(leaf) === 'bulk') return bulk.add({ deviceId, leaf, payload, receivedAt: clock.now() });
        const { headers, data } = encodeInbound({ deviceId, leaf, payload, receivedAt: clock.now(), edgeId: id });
        await js.publish(inboundSubject(cluster.subject_prefix, cluster.partitions, deviceId, leaf), data, { headers, timeout: cluster.publish_timeout_ms });
      };
      const presence = (deviceId: string, online: boolean): void => {
        // Best effort: the fob's own status message (st) and heartbeats say the same, durably.
        stream(deviceId, PRESENCE_LEAF, Buffer.from(online ? '1' : '0')).catch((err: Error) => log.warn({ deviceId, err: err.message }, `could not put the fob's ${online ? 'connection' : 'disconnection'} on the stream; the dashboard's online mark may lag until its next heartbeat`));
      };
      broker = await MqttBroker.create(
        {
          authenticate: transports.authenticate((clientId, username, password) => auth.authenticate(clientId, username, password)),
          onDevicePublish: async (deviceId, leaf, payload, qos) => {
            try {
              await stream(deviceId, leaf, payload);
              edge.counters.streamed++;
            } catch (err) {
              // QoS 0 (the firmware's heartbeats and positions: shared/protocol-core.ts TOPIC) has no
              // PUBACK to hold back, so a failure drops the message, not the fob. A QoS 1 publish,
              // whatever its leaf, must not be PUBACKed unless JetStream holds it (MQTT 3.1.1 4.3.2).
              if (qos === 0) {
                edge.counters.lossyDropped++;
                log.warn({ deviceId, leaf, err: (err as Error).message }, `JetStream did not take a QoS 0 ${leaf === TOPIC.position ? 'position' : 'message'}: dropped; the next one replaces it`);
                return;
              }
              edge.counters.streamFailed++;
              // The broker drops the connection: no PUBACK, so the fob keeps the event and sends it again.
              throw new Error(`JetStream did not acknowledge the publish (${(err as Error).message}): no PUBACK, the fob will send it again`, { cause: err });
            }
          },
          onConnected: (deviceId) => {
            log.info({ deviceId }, 'fob connected');
            presence(deviceId, true);
          },
          onDisconnected: (deviceId) => {
            log.info({ deviceId }, 'fob disconnected');
            presence(deviceId, false);
          },
          isRevoked: (deviceId) => devices.isRevoked(deviceId),
        },
        log.child({ component: 'mqtt' }),
        {
          clock,
          limits: {
            connectMaxBytes: config.mqtt.connect_max_bytes,
            packetMaxBytes: config.mqtt.packet_max_bytes,
            connectDeadlineMs: config.mqtt.connect_deadline_ms,
            unauthenticatedPerAddress: config.mqtt.unauthenticated_per_address,
            unauthenticatedMax: config.mqtt.unauthenticated_max,
          },
        },
      );
      undo.push(() => broker.close());
      // Commands for any fob: the edge holding its connection delivers it; the others have no
      // subscriber for that topic and aedes drops it. Core NATS (at most once): a command lost with
      // an edge is made good by the protocol, the fob resending its event until it is acked.
      const commands = nc.subscribe(`${cluster.command_prefix}.*`, {
        callback: (err, msg) => {
          if (err) return log.warn({ err: err.message }, 'command subscription error');
          const deviceId = deviceOfCommandSubject(cluster.command_prefix, msg.subject);
          if (!deviceId) return log.warn({ subject: msg.subject }, 'command on a subject that names no device: ignored');
          edge.counters.commands++;
          broker.publish(commandTopic(deviceId), msg.string(), 1);
        },
      });
      const https = transports.httpsOptions();
      const http = createHttpServer(log, { trustProxy: config.http.trust_proxy, ...(https ? { https } : {}) });
      undo.push(() => http.close());
      transports.attachHttps(http.server);
      edge = new Edge(id, o, nc, broker, devices, commands, http, transports, relays);
      edge.bulk = bulk;
      relays?.start(brokerSessions(broker));
      undo.push(async () => relays?.stop());
      http.get('/healthz', async () => edge.health());
      http.get('/readyz', async (_req, reply) => {
        const r = await edge.ready();
        return reply.code(r.ready ? 200 : 503).send(r);
      });
      broker.attachWebSocket(http.server);
      await transports.listen(broker, { ...(o.mqttPort !== undefined ? { mqttPort: o.mqttPort } : {}), ...(o.mqttsPort !== undefined ? { mqttsPort: o.mqttsPort } : {}) });
      edge.mqttPort = transports.mqttPort;
      edge.mqttsPort = transports.mqttsPort;
      await http.listen({ port: o.httpPort ?? config.http.port, host: config.http.host });
      const addr = http.server.address();
      edge.httpPort = typeof addr === 'object' && addr ? addr.port : 0;
      const listeners = edge.listeners();
      const cert = transports.certificateStatus();
      log.info(
        { listeners, ...(cert ? { certificate: cert } : {}), nats: cluster.servers },
        `edge ${id} listening: ${listenersLine(listeners)} (/healthz /readyz on the HTTP port); publishing to stream ${cluster.stream}${tlsClause(cert)}`,
      );
      transports.tls?.reportValidity('start-up');
      return edge;
    } catch (err) {
      for (const u of undo.reverse()) await u().catch(() => undefined);
      throw err;
    }
  }

  /** Checks the live companion relays against their phone sessions now (the sweep's own run; tests). */
  sweepRelays(): Promise<string[]> {
    return this.relays ? this.relays.sweep(brokerSessions(this.broker)) : Promise.resolve([]);
  }

  /** Publishes a command for a fob from outside (tests, tools): the same path a worker's takes. */
  publishCommand(deviceId: string, text: string): void {
    this.nc.publish(commandSubject(this.o.cluster.command_prefix, deviceId), text);
  }

  health(): { ok: true; role: 'edge'; id: string; connectedFobs: number; nats: string; counters: EdgeCounters; bulkBatches: BulkBatcherStats | null; listeners: TransportListeners; tls: CertificateStatus | null } {
    return {
      ok: true,
      role: 'edge',
      id: this.id,
      connectedFobs: this.broker.connectedClients,
      nats: this.nc.isClosed() ? 'closed' : (this.nc.getServer() ?? 'connecting'),
      counters: this.counters,
      bulkBatches: this.bulk?.stats() ?? null,
      listeners: this.listeners(),
      tls: this.transports.certificateStatus(),
    };
  }

  /** Where this edge listens for fobs (MQTT, MQTTS, ws/wss on the HTTP port). */
  listeners(): TransportListeners {
    return this.transports.listeners(this.httpPort);
  }

  /**
   * Reads the certificate files again and, if they pass, serves the new certificate to new
   * connections (SIGHUP in `lonewatch edge`); null without [tls].
   */
  reloadTls(): ReloadResult | null {
    if (!this.transports.tls) {
      this.o.log.warn({ node: this.id }, 'TLS reload asked for, but [tls] is not configured: nothing to reload');
      return null;
    }
    return this.transports.tls.reload();
  }

  /** Ready to take fobs only while NATS and JetStream answer: otherwise no publish could be PUBACKed. */
  async ready(): Promise<{ ready: boolean; role: 'edge'; id: string; why?: string }> {
    const js = await jetStreamAnswers(this.nc, this.o.cluster);
    return js.ok ? { ready: true, role: 'edge', id: this.id } : { ready: false, role: 'edge', id: this.id, why: js.why };
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.devices.stop();
    this.relays?.stop();
    await this.broker.close();
    // The fobs' disconnections (presence) are queued as the broker closes: sent before NATS is
    // drained, for at most two publish timeouts; what still waits then was never published (its
    // QoS 1 senders got no PUBACK: their connections are closed).
    if (this.bulk) {
      const bulk = this.bulk;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([bulk.drain(), new Promise<void>((r) => (timer = setTimeout(r, 2 * this.o.cluster.publish_timeout_ms)))]);
      clearTimeout(timer);
      bulk.close();
    }
    this.commands.unsubscribe();
    await this.nc.drain().catch(() => this.nc.close());
    await this.http.close();
    this.o.log.info({ node: this.id }, 'edge stopped');
  }
}
