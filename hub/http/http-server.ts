/**
 * The hub's HTTP side: health and metrics now; the dashboard and API register their routes on the
 * same fastify instance. MQTT over WebSocket shares the port (`/mqtt`).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';

export function createHttpServer(log: Logger): FastifyInstance {
  return Fastify({
    // Requests are logged at warn and above only: the hub's own log lines say what matters.
    loggerInstance: log.child({ component: 'http' }, { level: 'warn' }),
    bodyLimit: 256 * 1024,
  }) as unknown as FastifyInstance;
}
