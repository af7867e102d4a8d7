/**
 * The MQTT side of the hub: aedes on TCP and on WebSocket (`/mqtt` on the HTTP port), with device
 * identity and topic access control. What a publish *means* is the ingest's business; this module
 * only decides who may connect, publish and subscribe, and hands valid publishes over.
 *
 * aedes writes a QoS 1 PUBACK only after authorizePublish calls back, so the ingest does its durable
 * work inside that callback: the fob's PUBACK means "committed". Because each client's packets wait
 * for their callback, a hub that is slow to commit slows its publishers down instead of queueing.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type Client, type AedesPublishPacket, type Subscription } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { commandTopic, parseDeviceTopic, ALERTS_PREFIX, TOPIC } from '../../shared/protocol-core.js';
import type { Logger } from '../logger.js';

export type ConnectIdentity = { kind: 'device'; deviceId: string } | { kind: 'service'; username: string };

/** What the broker asks of the rest of the hub. */
export interface BrokerHooks {
  /**
   * Checks credentials; resolves the identity or a reason for refusal. `conn` is the client's
   * connection (a TLSSocket over MQTTS, for the client-certificate check: broker/tls-listener.ts).
   */
  authenticate(clientId: string, username: string | undefined, password: Buffer | undefined, conn?: unknown): Promise<ConnectIdentity | { refused: string; returnCode?: 4 | 5 }>;
  /** A device publish on one of its own topics. Resolve to send the PUBACK; reject to drop the client. */
  onDevicePublish(deviceId: string, leaf: string, payload: Buffer): Promise<void>;
  onConnected(deviceId: string): void;
  onDisconnected(deviceId: string): void;
}

export interface BrokerCounters {
  refusedConnects: number;
  refusedPublishes: number;
  refusedSubscribes: number;
  droppedSlowClients: number;
}

/** Unsent bytes a client may hold before it is disconnected. */
const OUTPUT_LIMIT = 1024 * 1024;
/** How long a client's socket may stay full before it is disconnected. */
const STALL_LIMIT_MS = 1000;

type LwClient = Client & { lwIdentity?: ConnectIdentity };

export class MqttBroker {
  readonly aedes: Aedes;
  readonly counters: BrokerCounters = { refusedConnects: 0, refusedPublishes: 0, refusedSubscribes: 0, droppedSlowClients: 0 };
  /** The plain TCP and the MQTTS listeners. */
  private readonly servers: Server[] = [];
  /** Every open TCP connection (plain or TLS), registered with aedes or not (yet). */
  private readonly sockets = new Set<Socket>();
  private wss: WebSocketServer | null = null;
  private watchdog: NodeJS.Timeout | null = null;

  private constructor(
    aedes: Aedes,
    private readonly log: Logger,
  ) {
    this.aedes = aedes;
  }

  static async create(hooks: BrokerHooks, log: Logger): Promise<MqttBroker> {
    // Assigned below; the hooks close over it.
    // eslint-disable-next-line prefer-const
    let broker: MqttBroker;
    const aedes = await Aedes.createBroker({
      id: 'lonewatch-hub',
      // Fob client ids are device ids (up to 32 characters).
      maxClientsIdLength: 64,
      maxTopicLevels: 8,
      queueLimit: 100,
      authenticate: (client, username, password, done) => {
        hooks
          .authenticate(client.id, username, password, client.conn)
          .then((result) => {
            if ('refused' in result) {
              broker.counters.refusedConnects++;
              broker.log.warn({ clientId: client.id, username }, `connection refused: ${result.refused}`);
              // 4: bad user name or password; 5: not authorized (a client-certificate refusal).
              const err = Object.assign(new Error(result.refused), { returnCode: result.returnCode ?? 4 });
              return done(err as never, false);
            }
            if (result.kind === 'service' && !client.clean) {
              // Alerts on lw/alerts/# are live only (issue 17 item 7, docs/hub.md): a persistent
              // session would have aedes queue them in memory, unbounded and lost on a crash, for a
              // subscriber that believes it will get them. MQTT 3.1.1 §3.1.2.4 has the server resume a
              // CleanSession=0 session, which it would not do durably, so it is refused (§3.2.2.3,
              // return code 5, not authorized) and the integrator finds out at once.
              broker.counters.refusedConnects++;
              broker.log.warn({ clientId: client.id, service: result.username }, 'connection refused: a service account must connect with clean session (alerts are live only; for a durable feed use the webhook notifier or /api/records)');
              return done(Object.assign(new Error('service accounts must use a clean session'), { returnCode: 5 }) as never, false);
            }
            (client as LwClient).lwIdentity = result;
            done(null, true);
          })
          .catch((err) => {
            broker.log.error({ err, clientId: client.id }, 'authentication failed unexpectedly');
            done(Object.assign(new Error('server unavailable'), { returnCode: 3 }) as never, false);
          });
      },
      authorizePublish: (client, packet, done) => {
        const identity = (client as LwClient | null)?.lwIdentity;
        if (!client) {
          // The hub's own publishes (commands, alerts) come without a client.
          return done(null);
        }
        if (!identity || identity.kind !== 'device') {
          broker.counters.refusedPublishes++;
          broker.log.warn({ clientId: client.id, topic: packet.topic }, 'publish refused: service accounts only subscribe');
          return done(new Error('service accounts may not publish'));
        }
        const parsed = parseDeviceTopic(packet.topic);
        if (!parsed || parsed.deviceId !== identity.deviceId || parsed.leaf === TOPIC.command) {
          broker.counters.refusedPublishes++;
          broker.log.warn({ deviceId: identity.deviceId, topic: packet.topic }, 'publish refused: a device may publish only on its own topics');
          return done(new Error(`not allowed to publish on ${packet.topic}`));
        }
        hooks.onDevicePublish(identity.deviceId, parsed.leaf, packet.payload as Buffer).then(
          () => done(null),
          (err: Error) => {
            broker.log.error({ err, deviceId: identity.deviceId }, 'publish could not be processed; dropping the connection so the fob retries');
            done(err);
          },
        );
      },
      authorizeSubscribe: (client, sub: Subscription, done) => {
        const identity = (client as LwClient).lwIdentity;
        if (identity?.kind === 'device' && sub.topic === commandTopic(identity.deviceId)) return done(null, sub);
        if (identity?.kind === 'service' && (sub.topic === `${ALERTS_PREFIX}/#` || sub.topic.startsWith(`${ALERTS_PREFIX}/`))) return done(null, sub);
        broker.counters.refusedSubscribes++;
        broker.log.warn({ clientId: client.id, topic: sub.topic }, 'subscribe refused: a device may subscribe only to its command topic, a service only to lw/alerts/#');
        // A null subscription answers SUBACK 0x80 (failure) without dropping the client.
        return done(null, null as never);
      },
      // Device traffic is for the hub alone: nothing a fob publishes is forwarded to other clients.
      authorizeForward: (client, packet: AedesPublishPacket) => {
        if (packet.topic.startsWith(ALERTS_PREFIX + '/')) return packet;
        const parsed = parseDeviceTopic(packet.topic);
        const identity = (client as LwClient).lwIdentity;
        if (parsed && parsed.leaf === TOPIC.command && identity?.kind === 'device' && identity.deviceId === parsed.deviceId) return packet;
        return null;
      },
    });
    broker = new MqttBroker(aedes, log);
    broker.watchdog = setInterval(() => broker.dropStalledClients(), 250);
    broker.watchdog.unref();
    aedes.on('clientReady', (client) => {
      const id = (client as LwClient).lwIdentity;
      if (id?.kind === 'device') hooks.onConnected(id.deviceId);
      else if (id) log.info({ service: id.username }, 'service connected');
    });
    aedes.on('clientDisconnect', (client) => {
      const id = (client as LwClient).lwIdentity;
      if (id?.kind === 'device') hooks.onDisconnected(id.deviceId);
    });
    aedes.on('clientError', (client, err) => {
      log.debug({ clientId: client.id, err: err.message }, 'client error');
    });
    aedes.on('connectionError', (client, err) => {
      log.debug({ clientId: client?.id, err: err.message }, 'connection error');
    });
    return broker;
  }

  async listenTcp(port: number, host: string): Promise<number> {
    return this.listen(
      createServer((socket) => this.accept(socket)),
      port,
      host,
    );
  }

  /**
   * MQTT over TLS on a node:tls server (broker/tls-listener.ts). A socket whose handshake is done goes
   * the same way as a plain TCP one (accept); one still in its handshake is tracked too, so close()
   * need not wait for it.
   */
  async listenTls(server: TlsServer, port: number, host: string): Promise<number> {
    server.on('connection', (raw: Socket) => this.track(raw));
    server.on('secureConnection', (socket: TLSSocket) => this.accept(socket));
    return this.listen(server, port, host);
  }

  /** One MQTT connection, over TCP or TLS, handed to aedes. */
  private accept(socket: Socket): void {
    // The PUBACK and the application ack are separate small writes: without TCP_NODELAY the second
    // waits for the fob's delayed ACK of the first (Nagle), about 40 ms on every alarm.
    socket.setNoDelay(true);
    this.track(socket);
    this.aedes.handle(socket);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private async listen(server: Server, port: number, host: string): Promise<number> {
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }

  /** MQTT over WebSocket at `path` on an existing HTTP server (browsers and phone relays). */
  attachWebSocket(http: HttpServer, path = '/mqtt'): void {
    const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    this.wss = wss;
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== path) return;
      wss.handleUpgrade(req, socket, head, (ws) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => stream.destroy());
        this.aedes.handle(stream as never, req);
      });
    });
  }

  /** Publishes from the hub itself (QoS 1 commands and alerts). */
  publish(topic: string, payload: string, qos: 0 | 1 = 1): void {
    this.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false } as never, (err?: Error) => {
      if (err) this.log.warn({ err, topic }, 'hub publish failed');
    });
  }

  /**
   * A client that stops reading its socket would hold up the hub: aedes waits for the socket to
   * drain before it finishes a delivery, and every delivery waiting on it occupies one of the
   * broker's shared delivery slots. A client whose socket has needed draining for more than
   * STALL_LIMIT_MS, or holds more than OUTPUT_LIMIT unsent bytes, is disconnected; a fob reconnects
   * and its outbox re-sends whatever was not acknowledged.
   */
  dropStalledClients(now = Date.now()): void {
    const clients = (this.aedes as unknown as { clients: Record<string, LwClient & { lwStalledSince?: number }> }).clients;
    for (const id in clients) {
      const c = clients[id];
      const conn = c.conn as { writableLength?: number; writableNeedDrain?: boolean };
      const pending = conn.writableLength ?? 0;
      if (!conn.writableNeedDrain && pending <= OUTPUT_LIMIT) {
        c.lwStalledSince = undefined;
        continue;
      }
      c.lwStalledSince ??= now;
      if (pending > OUTPUT_LIMIT || now - c.lwStalledSince >= STALL_LIMIT_MS) {
        this.counters.droppedSlowClients++;
        this.log.warn({ clientId: id, pending }, 'client is not reading its socket: disconnected so it cannot hold up the hub');
        c.close();
      }
    }
  }

  get connectedClients(): number {
    return this.aedes.connectedClients;
  }

  async close(): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    this.wss?.close();
    const tcpClosed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    // aedes ends only the clients it has registered. A connection that has not (yet) sent a CONNECT it
    // accepted (a fob mid-handshake, a port scan) would hold the listener open until aedes's connect
    // timeout, and a WebSocket one the HTTP server too: end those as well.
    this.dropConnections();
    await tcpClosed;
  }

  /** Ends every MQTT connection at once, over TCP and over WebSocket. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    for (const ws of this.wss?.clients ?? []) ws.terminate();
  }
}
