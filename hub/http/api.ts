/**
 * The hub's HTTP API and dashboard (issue 6): `registerApi(http, hub)` is called by Hub.start before the
 * server listens. JSON API under /api (zod schemas, OpenAPI at /docs), server-sent events for live
 * alarms at /api/events, and the dashboard's static files at /.
 *
 * Errors are always JSON `{ error, field? }` with a sentence a person can act on.
 */
import { fileURLToPath } from 'node:url';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { HubServices } from '../hub-services.js';
import { AdminError } from '../admin/admin-service.js';
import { AlarmActionError } from '../rules/rules-runtime.js';
import { Auth, decorateAuth, SESSION_COOKIE } from './auth.js';
import { ApiError } from './users.js';
import { registerAuthRoutes } from './routes-auth.js';
import { registerAlarmRoutes } from './routes-alarms.js';
import { registerWorkerRoutes } from './routes-workers.js';
import { registerAdminRoutes } from './routes-admin.js';
import { registerForwardingRoutes } from './routes-forwarding.js';
import { registerPositionRoutes } from './routes-positions.js';
import { LiveEvents } from './live-events.js';
import { registerAdminLive } from './admin-live.js';
import { registerBrowserModules } from './browser-modules.js';
import type { ApiContext } from './api-context.js';
import { registerSmsCallback } from './routes-sms.js';
import { LEAFLET_PREFIX, registerMapRoutes } from './routes-map.js';
import { tileOrigin } from '../config/map-config.js';


const PUBLIC_DIR = fileURLToPath(new URL('../dashboard/public/', import.meta.url));
/** Leaflet's own build (npm `leaflet`), served as it ships: no CDN, the CSP stays 'self'. */
const LEAFLET_DIR = fileURLToPath(new URL('../../node_modules/leaflet/dist/', import.meta.url));

/**
 * The dashboard's headers. The CSP allows images from the hub and from the configured tile server's
 * origin only (issue 20: the map's tiles); with no tile server nothing leaves the hub's origin.
 */
export function securityHeaders(tileServerOrigin: string | null): Record<string, string> {
  const img = ["'self'", 'data:', ...(tileServerOrigin ? [tileServerOrigin] : [])].join(' ');
  return {
    'content-security-policy': `default-src 'self'; img-src ${img}; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
}

export async function registerApi(http: FastifyInstance, hub: HubServices): Promise<void> {
  const secure = hub.config.hub.public_url.startsWith('https:');
  const auth = new Auth(hub.store, hub.clock, secure);
  const live = new LiveEvents(hub);
  const SECURITY_HEADERS = securityHeaders(tileOrigin(hub.config.map));

  await http.register(fastifyCookie);
  decorateAuth(http, auth);
  await http.register(fastifySwagger, {
    openapi: {
      info: { title: 'Lonewatch hub API', description: 'Alarms, workers, itineraries, records and administration of a Lonewatch hub.', version: '1' },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
          token: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ session: [] }, { token: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await http.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await http.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/',
    index: 'index.html',
    setHeaders: (res) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
      if (secure) res.setHeader('strict-transport-security', 'max-age=31536000');
      // The page and its script change with the hub: never serve a stale dashboard at 2 a.m.
      res.setHeader('cache-control', 'no-cache');
    },
  });
  await http.register(fastifyStatic, {
    root: LEAFLET_DIR,
    prefix: LEAFLET_PREFIX,
    decorateReply: false,
    index: false,
    allowedPath: (path) => /^\/(leaflet-src\.esm\.js|leaflet\.css|images\/[a-z0-9-]+\.png)$/.test(path),
    setHeaders: (res) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
      res.setHeader('cache-control', 'no-cache');
    },
  });
  // The shared vocabulary and protocol, and preact with htm, as ES modules for the browser apps.
  await registerBrowserModules(http);
  // Browsers and bookmarks ask for /favicon.ico whatever the page links (issue 15 item 15).
  http.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/favicon.svg', 301));
  // Links in notifications point at /alarms/<id>.
  http.get('/alarms/:id', { schema: { hide: true } }, async (req, reply) => reply.redirect(`/#/alarm/${encodeURIComponent((req.params as { id: string }).id)}`));

  // The SMS gateway's delivery callback authenticates with its own token, not as a user.
  registerSmsCallback(http, hub);
  await http.register(
    async (api) => {
      api.setValidatorCompiler(validatorCompiler);
      api.setSerializerCompiler(serializerCompiler);
      api.setErrorHandler((err: FastifyError, request, reply) => sendError(err, request, reply));
      api.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no API route ${request.method} ${request.url.split('?')[0]}: see /docs` }));
      api.addHook('onRequest', async (request) => {
        await auth.authenticate(request);
      });
      // Admin lists follow changes made here or by the CLI at once (issue 15 item 13).
      const stopAdminLive = registerAdminLive(api, { store: hub.store, log: hub.log, intervalMs: hub.config.http.external_check_ms, broadcast: (event, data) => live.broadcast(event, data) });
      api.addHook('onClose', async () => stopAdminLive());
      const app = api.withTypeProvider<ZodTypeProvider>();
      const ctx: ApiContext = { hub, auth, live };
      registerAuthRoutes(app, ctx);
      registerAlarmRoutes(app, ctx);
      registerWorkerRoutes(app, ctx);
      registerAdminRoutes(app, ctx);
      registerForwardingRoutes(app, ctx);
      registerMapRoutes(app, ctx);
      registerPositionRoutes(app, ctx);
    },
    { prefix: '/api' },
  );
  // Live streams never end by themselves: end them, and drop their sockets, so the hub stops at once.
  http.addHook('preClose', async () => {
    live.closeAll();
    http.server.closeIdleConnections();
  });
}

function sendError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const first = err.validation[0];
    const field = first.instancePath.replace(/^\//, '').replace(/\//g, '.') || (err.validationContext ?? 'body');
    const where = err.validationContext === 'querystring' ? 'query parameter' : err.validationContext === 'params' ? 'path parameter' : 'field';
    return reply.code(400).send({ error: `${where} "${field}": ${first.message}`, field });
  }
  if (err instanceof ApiError || err instanceof AdminError) {
    if (err instanceof ApiError && err.status === 429) reply.header('retry-after', /(\d+) s/.exec(err.message)?.[1] ?? '60');
    return reply.code(err.status).send({ error: err.message, ...(err.field ? { field: err.field } : {}) });
  }
  if (err instanceof AlarmActionError) return reply.code(err.status).send({ error: err.message });
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const message = err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'the request body is empty: send JSON' : err.message;
    return reply.code(status).send({ error: message });
  }
  request.log.error({ err, url: request.url }, 'API request failed');
  return reply.code(500).send({ error: 'the hub could not complete this request; the hub log has the details' });
}
