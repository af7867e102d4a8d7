/**
 * The MQTT side of the hub: aedes on TCP and on WebSocket (`/mqtt` on the HTTP port), with device
 * identity and topic access control. What a publish *means* is the ingest's business; this module
 * only decides who may connect, publish and subscribe, and hands valid publishes over.
 *
 * aedes writes a QoS 1 PUBACK only after authorizePublish calls back, so the ingest does its durable
 * work inside that callback: the fob's PUBACK means "committed". Because each client's packets wait
 * for their callback, a hub that is slow to commit slows its publishers down instead of queueing.
 */
import { createServer, Socket, type Server } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type Client, type AedesPublishPacket, type Subscription } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { commandTopic, parseDeviceTopic, ALERTS_PREFIX, TOPIC } from '../../shared/protocol-core.js';
import type { Logger } from '../logger.js';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { ConnectionGate, normaliseAddress } from './connection-gate.js';
import { GuardedConnection, type GuardSettings } from './guarded-connection.js';
import { SocketGuard, socketGuardOf } from './socket-guard.js';
import { describeViolation } from './packet-scanner.js';
import { closeWithSocket, forgetConnectPacket, leanParser, ownWillPayload } from './lean-connection.js';
import { KeepaliveSweep } from './keepalive-sweep.js';

export type ConnectIdentity = { kind: 'device'; deviceId: string } | { kind: 'service'; username: string };

/** What the broker asks of the rest of the hub. */
export interface BrokerHooks {
  /**
   * Checks credentials; resolves the identity or a reason for refusal. `conn` is the client's
   * connection (a TLSSocket over MQTTS, for the client-certificate check: broker/tls-listener.ts).
   */
  authenticate(clientId: string, username: string | undefined, password: Buffer | undefined, conn?: unknown): Promise<ConnectIdentity | { refused: string; returnCode?: 4 | 5 }>;
  /** A device publish on one of its own topics. Resolve to send the PUBACK; reject to drop the client. */
  /** qos: the publish's QoS (an edge drops a failed QoS 0 publish, but must not PUBACK a failed QoS 1 one). */
  onDevicePublish(deviceId: string, leaf: string, payload: Buffer, qos: 0 | 1 | 2): Promise<void>;
  onConnected(deviceId: string): void;
  onDisconnected(deviceId: string): void;
  /** True when the device has been revoked since it connected (a cached set: called on every publish). */
  isRevoked(deviceId: string): boolean;
}

/** The bounds on every connection, before and after authentication (mqtt.* in lonewatch.toml). */
export interface BrokerLimits {
  connectMaxBytes: number;
  packetMaxBytes: number;
  connectDeadlineMs: number;
  unauthenticatedPerAddress: number;
  unauthenticatedMax: number;
}

export const DEFAULT_LIMITS: BrokerLimits = {
  connectMaxBytes: 1024,
  packetMaxBytes: 1024,
  connectDeadlineMs: 5000,
  unauthenticatedPerAddress: 128,
  unauthenticatedMax: 2048,
};

export interface BrokerOptions {
  limits?: BrokerLimits;
  /** The CONNECT deadline and the log windows run on it. */
  clock?: Clock;
  /**
   * The clients' Keep Alive (MQTT 3.1.1 §3.1.2.10) runs on it: real time unless a test drives it.
   * Not `clock`: a Keep Alive is about the network link, and a drill moves the hub's clock on by
   * hours while the fobs' PINGREQs arrive in real time.
   */
  keepaliveClock?: Clock;
}

export interface BrokerCounters {
  refusedConnects: number;
  refusedPublishes: number;
  refusedSubscribes: number;
  droppedSlowClients: number;
  /** Connections cut for a packet over its size limit (or a malformed length), before buffering it. */
  cutOversize: number;
  /** Connections cut because the whole CONNECT did not arrive within mqtt.connect_deadline_ms. */
  cutConnectDeadline: number;
  /** Connections refused at once because their address, or everyone, holds too many unauthenticated ones. */
  refusedBusy: number;
  /** CONNECTs refused for their protocol version (MQTT 5, 3.1). */
  refusedProtocol: number;
  /** Revoked fobs disconnected while connected. */
  droppedRevoked: number;
}

/** Unsent bytes a client may hold before it is disconnected. */
const OUTPUT_LIMIT = 1024 * 1024;
/** How long a client's socket may stay full before it is disconnected. */
const STALL_LIMIT_MS = 1000;
/** How often the watchdog looks: a quarter of the stall limit, so a stall is seen within 1.25 s. */
const WATCHDOG_MS = 250;

type LwClient = Client & { lwIdentity?: ConnectIdentity };

/** The remote address of a client's connection, as the caps count it. */
function addressOf(client: Client): string {
  return (client.conn instanceof GuardedConnection ? client.conn : socketGuardOf(client.conn))?.address ?? 'unknown';
}

export class MqttBroker {
  readonly aedes: Aedes;
  readonly counters: BrokerCounters = {
    refusedConnects: 0,
    refusedPublishes: 0,
    refusedSubscribes: 0,
    droppedSlowClients: 0,
    cutOversize: 0,
    cutConnectDeadline: 0,
    refusedBusy: 0,
    refusedProtocol: 0,
    droppedRevoked: 0,
  };
  readonly gate: ConnectionGate;
  /** Lines about refused connections and input, limited per source (issue 17, item 5). */
  readonly refusals: RateLimitedLog;
  /** A client speaking another MQTT version retries forever: one line per client a minute is plenty. */
  private readonly protocolRefusals: RateLimitedLog;
  /** The plain TCP and the MQTTS listeners. */
  private readonly servers: Server[] = [];
  /** Every open TCP connection (plain or TLS), registered with aedes or not (yet). */
  private readonly sockets = new Set<Socket>();
  /**
   * Connections a write found full (GuardSettings.onBackpressure), with when the watchdog first saw
   * one still full (null: not yet): the only ones dropStalledClients looks at. Scanning every client
   * four times a second took 8 % of an edge's CPU at 15,000 fobs (docs/cluster.md "Steady state at
   * 30,000 fobs").
   */
  private readonly full = new Map<Duplex, number | null>();
  private wss: WebSocketServer | null = null;
  private watchdog: TimerHandle | null = null;
  private keepalive: KeepaliveSweep | null = null;
  /** What every connection's guard shares (one object for the broker, not one per connection). */
  private readonly guardSettings: GuardSettings;
  /**
   * The one 'close' listener the broker puts on each TCP or TLS socket, the same function for all
   * (no closure per socket, issue 19): the socket leaves the open set, and its aedes client, if any,
   * is closed (lean-connection.ts closeWithSocket: aedes's own watch on the socket is removed).
   */
  private readonly socketClosed: (this: Socket) => void;

  private constructor(
    aedes: Aedes,
    private readonly log: Logger,
    readonly limits: BrokerLimits,
    private readonly clock: Clock,
  ) {
    this.aedes = aedes;
    const sockets = this.sockets;
    this.socketClosed = function (this: Socket): void {
      sockets.delete(this);
      (this as Socket & { client?: Client }).client?.close();
    };
    this.guardSettings = {
      connectMaxBytes: limits.connectMaxBytes,
      packetMaxBytes: limits.packetMaxBytes,
      connectDeadlineMs: limits.connectDeadlineMs,
      clock,
      onBackpressure: (conn) => {
        if (!this.full.has(conn as Duplex)) this.full.set(conn as Duplex, null);
      },
      onCut: (reason, bytesSeen, address, conn) => {
        const clientId = (conn as { client?: Client } | null)?.client?.id ?? undefined;
        if (reason.code === 'connect_deadline') {
          this.counters.cutConnectDeadline++;
          this.refusals.warn(`address ${address}`, { address, clientId, bytesSeen }, `connection cut: no complete CONNECT within ${reason.deadlineMs} ms (mqtt.connect_deadline_ms)`);
        } else {
          this.counters.cutOversize++;
          this.refusals.warn(`address ${address}`, { address, clientId, bytesSeen }, `connection cut after ${bytesSeen} bytes: ${describeViolation(reason)}`);
        }
      },
    };
    this.gate = new ConnectionGate({ perAddress: limits.unauthenticatedPerAddress, total: limits.unauthenticatedMax });
    this.refusals = new RateLimitedLog(log, clock);
    this.protocolRefusals = new RateLimitedLog(log, clock, { perWindow: 1, windowMs: 60_000 });
  }

  static async create(hooks: BrokerHooks, log: Logger, opts: BrokerOptions = {}): Promise<MqttBroker> {
    const limits = opts.limits ?? DEFAULT_LIMITS;
    // Assigned below; the hooks close over it.
    // eslint-disable-next-line prefer-const
    let broker: MqttBroker;
    const aedes = await Aedes.createBroker({
      id: 'lonewatch-hub',
      // Fob client ids are device ids (up to 32 characters).
      maxClientsIdLength: 64,
      maxTopicLevels: 8,
      queueLimit: 100,
      // The guard (guarded-connection.ts) cuts a connection whose CONNECT is late on the hub's clock;
      // aedes's own timer, in real time, is only the backstop.
      connectTimeout: limits.connectDeadlineMs + 5000,
      preConnect: (client, packet, done) => {
        // aedes 1.2 speaks MQTT 3.1.1 only and answers any other version with CONNACK 1
        // ("unacceptable protocol version", MQTT 3.1.1 §3.2.2.3); say so once per source, in words.
        const version = (packet as { protocolVersion?: number }).protocolVersion;
        if (version !== 4) {
          broker.counters.refusedProtocol++;
          const address = addressOf(client);
          broker.protocolRefusals.warn(
            `address ${address}`,
            { address, clientId: packet.clientId, protocolVersion: version },
            `connection refused: MQTT protocol version ${version === 5 ? '5' : String(version)} is not supported; the hub speaks MQTT 3.1.1 only (set protocolVersion 4 in the client)`,
          );
        }
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        hooks
          .authenticate(client.id, username, password, client.conn)
          .then((result) => {
            if ('refused' in result) {
              broker.counters.refusedConnects++;
              // Limited per address, not per client id: before log-in a sender can pick any client id.
              const address = addressOf(client);
              broker.refusals.warn(`address ${address}`, { address, clientId: client.id, username }, `connection refused: ${result.refused}`);
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
          broker.refusals.warn(`client ${client.id}`, { clientId: client.id, topic: packet.topic }, 'publish refused: service accounts only subscribe');
          return done(new Error('service accounts may not publish'));
        }
        if (hooks.isRevoked(identity.deviceId)) {
          // Revoked while connected (the dashboard, or the CLI on the database file): nothing more is
          // taken from it, and the connection is dropped (issue 17, item 9).
          broker.counters.refusedPublishes++;
          // (Its will, published as it goes, is refused too, but that drops nothing.)
          if (!client.closed) broker.counters.droppedRevoked++;
          broker.refusals.warn(`device ${identity.deviceId}`, { deviceId: identity.deviceId, topic: packet.topic }, 'publish refused: the device has been revoked; disconnected');
          return done(new Error(`device ${identity.deviceId} is revoked`));
        }
        const parsed = parseDeviceTopic(packet.topic);
        if (!parsed || parsed.deviceId !== identity.deviceId || parsed.leaf === TOPIC.command) {
          broker.counters.refusedPublishes++;
          broker.refusals.warn(`device ${identity.deviceId}`, { deviceId: identity.deviceId, topic: packet.topic }, 'publish refused: a device may publish only on its own topics');
          return done(new Error(`not allowed to publish on ${packet.topic}`));
        }
        hooks.onDevicePublish(identity.deviceId, parsed.leaf, packet.payload as Buffer, packet.qos).then(
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
        broker.refusals.warn(`client ${client.id}`, { clientId: client.id, topic: sub.topic }, 'subscribe refused: a device may subscribe only to its command topic, a service only to lw/alerts/#');
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
    broker = new MqttBroker(aedes, log, limits, opts.clock ?? systemClock);
    // Housekeeping on the hub's clock (issue 18: every timer through Clock): the rule is "a stalled
    // client goes within about a second", so a run looks at each socket as it is now, and a ManualClock
    // runs it at the end of an advance instead of stopping a drill every 250 ms.
    broker.watchdog = broker.clock.housekeeping(() => broker.dropStalledClients(), WATCHDOG_MS);
    broker.keepalive = new KeepaliveSweep(() => (aedes as unknown as { clients: Record<string, unknown> }).clients, opts.keepaliveClock ?? systemClock);
    aedes.on('clientReady', (client) => {
      // CONNACKed: the connection leaves the unauthenticated caps.
      (client.conn instanceof GuardedConnection ? client.conn : socketGuardOf(client.conn))?.accepted();
      forgetConnectPacket(client);
      ownWillPayload(client);
      broker.keepalive?.adopt(client);
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

  /**
   * Hands one connection (TCP, TLS, or a WebSocket stream) to aedes behind the bounds: the
   * unauthenticated-connection caps, the packet size limits and the CONNECT deadline. Returns false
   * (and destroys the connection) when a cap refuses it. Every listener goes through here.
   */
  handleConnection(stream: Duplex, remoteAddress: string | undefined, req?: IncomingMessage): boolean {
    const address = normaliseAddress(remoteAddress);
    const ticket = this.gate.admit(address);
    if ('refused' in ticket) {
      this.counters.refusedBusy++;
      const who = ticket.refused === 'per_address' ? `${address} already holds` : 'the hub already holds';
      this.refusals.warn(`address ${address}`, { address }, `connection refused before CONNECT: ${who} ${ticket.limit} connections that have not logged in (mqtt.unauthenticated_${ticket.refused === 'per_address' ? 'per_address' : 'max'})`);
      stream.destroy();
      return false;
    }
    // A TCP or TLS socket is guarded in place (socket-guard.ts: no stream in front of it, about 1 KB
    // less per idle fob); anything else (a WebSocket stream) behind a GuardedConnection.
    const socket = stream instanceof Socket ? stream : null;
    let conn: Duplex;
    if (socket) {
      new SocketGuard(socket, this.guardSettings, address, ticket);
      conn = socket;
    } else conn = new GuardedConnection(stream, this.guardSettings, address, ticket);
    const client = this.aedes.handle(conn as never, req as never);
    leanParser(client);
    // The broker's one 'close' listener on the socket (track) closes the client: aedes's own
    // stream.finished() watch goes (lean-connection.ts). Only where that listener is there.
    if (socket && this.sockets.has(socket)) closeWithSocket(client, socket);
    return true;
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
    // No 'error' listener of ours: handleConnection hands the socket to aedes (which listens for
    // errors and destroys the socket on one) or destroys it, before any event can be emitted.
    // The bounds before authentication apply to every listener (issue 17).
    this.handleConnection(socket, socket.remoteAddress);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', this.socketClosed);
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
    // One WebSocket message carries one MQTT packet from mqtt.js (and may carry several, or part of
    // one, MQTT 3.1.1 §6.0); either way a message larger than the largest packet allowed is refused
    // by ws before it is buffered (close 1009), and the guard bounds each packet inside it.
    const maxPayload = Math.max(this.limits.connectMaxBytes, this.limits.packetMaxBytes);
    const wss = new WebSocketServer({ noServer: true, maxPayload });
    this.wss = wss;
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== path) return;
      const address = normaliseAddress(req.socket.remoteAddress);
      // The caps are checked before the upgrade too, so a refused address costs no WebSocket.
      const probe = this.gate.admit(address);
      if ('refused' in probe) {
        this.counters.refusedBusy++;
        this.refusals.warn(`address ${address}`, { address }, `WebSocket connection refused before CONNECT: too many connections that have not logged in (limit ${probe.limit})`);
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy());
        return;
      }
      probe.release();
      wss.handleUpgrade(req, socket, head, (ws) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => stream.destroy());
        this.handleConnection(stream, address, req);
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
   * and its outbox re-sends whatever was not acknowledged. Only connections a write found full are
   * looked at (`full`): one holding more than OUTPUT_LIMIT has needed draining since its buffer
   * (writableHighWaterMark, far smaller) filled, so it is among them.
   */
  dropStalledClients(now = this.clock.now()): void {
    for (const [conn, since] of this.full) {
      // A guarded socket is read by aedes directly: its own writableLength is what it holds.
      const guarded = conn instanceof GuardedConnection ? conn : null;
      const pending = guarded ? guarded.pendingOutput : conn.writableLength;
      const needsDrain = guarded ? guarded.needsDrain : conn.writableNeedDrain;
      if (conn.destroyed || (!needsDrain && pending <= OUTPUT_LIMIT)) {
        this.full.delete(conn);
        continue;
      }
      const stalledSince = since ?? now;
      if (since === null) this.full.set(conn, now);
      if (pending > OUTPUT_LIMIT || now - stalledSince >= STALL_LIMIT_MS) {
        this.full.delete(conn);
        const client = (conn as Duplex & { client?: Client }).client;
        this.counters.droppedSlowClients++;
        this.log.warn({ clientId: client?.id, pending }, 'client is not reading its socket: disconnected so it cannot hold up the hub');
        if (client) client.close();
        else conn.destroy();
      }
    }
  }

  /** Drops a device's live connection (revoked). True when one was connected. */
  disconnectDevice(deviceId: string, why: string): boolean {
    const client = (this.aedes as unknown as { clients: Record<string, LwClient | undefined> }).clients[deviceId];
    if (!client || client.lwIdentity?.kind !== 'device') return false;
    this.counters.droppedRevoked++;
    this.log.warn({ deviceId }, `fob disconnected: ${why}`);
    client.close();
    return true;
  }

  get connectedClients(): number {
    return this.aedes.connectedClients;
  }

  async close(): Promise<void> {
    this.watchdog?.cancel();
    this.watchdog = null;
    this.keepalive?.stop();
    this.keepalive = null;
    this.refusals.flush();
    this.protocolRefusals.flush();
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
    this.full.clear();
    for (const ws of this.wss?.clients ?? []) ws.terminate();
  }
}
