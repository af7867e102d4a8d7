/**
 * The hub's HTTP side: health and metrics now; the dashboard and API register their routes on the
 * same fastify instance. MQTT over WebSocket shares the port (`/mqtt`).
 */
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';

export interface HttpServerOptions {
  /**
   * `http.trust_proxy`: whose X-Forwarded-For gives `req.ip` (the sign-in limits are per address).
   * false: nobody's; true: anyone's; a number: that many hops nearest the hub; else the proxies'
   * addresses / CIDRs.
   */
  trustProxy?: boolean | number | string[];
  /** Certificate and key: the port serves HTTPS (hub/http/https.ts). */
  https?: { cert: string; key: string };
}

export function createHttpServer(log: Logger, opts: HttpServerOptions = {}): FastifyInstance {
  const tp = opts.trustProxy ?? false;
  const http = Fastify({
    // Requests are logged at warn and above only: the hub's own log lines say what matters.
    loggerInstance: log.child({ component: 'http' }, { level: 'warn' }),
    bodyLimit: 256 * 1024,
    // Fastify turns a bare hop count into "trust nothing"; a hop count is the hops nearest the hub.
    trustProxy: typeof tp === 'number' ? (_address: string, hop: number) => hop < tp : tp,
    ...(opts.https ? { https: opts.https } : {}),
  }) as unknown as FastifyInstance;
  // Connections that have not sent a request yet (a browser opens spare ones ahead of need): Node's
  // server.close() counts them as busy, not idle, and would wait for their headers timeout (60 s)
  // before the hub could stop. They carry nothing: drop them when the server closes.
  const unused = new Set<Socket>();
  // Over HTTPS a request's socket is the TLS socket, not the TCP one 'connection' gives: track the
  // TLS sockets ('secureConnection'), or every HTTPS connection would count as unused and be cut.
  // A TLS connection whose handshake ends after the stop began would hold server.close() open: one
  // that arrives once closing is dropped at once.
  let closing = false;
  http.server.on(opts.https ? 'secureConnection' : 'connection', (socket: Socket) => {
    if (closing) return void socket.destroy();
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  http.server.on('request', (req: { socket: Socket }) => unused.delete(req.socket));
  http.server.on('upgrade', (req: { socket: Socket }) => unused.delete(req.socket));
  http.addHook('preClose', async () => {
    closing = true;
    for (const socket of unused) socket.destroy();
    unused.clear();
  });
  return http;
}
