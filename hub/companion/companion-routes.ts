/**
 * The worker's companion (issue 10): a PWA served by the hub at /companion/ and its API under
 * /api/companion/. The phone relays the worker's BLE fob to the broker over MQTT-over-WebSocket
 * (/mqtt) with a short-lived relay token (relay-tokens.ts), and shows and changes the worker's day.
 *
 * Actions that must survive a poor signal (check-in, visit start/end/extend, end of shift, alarms)
 * travel as fob events over MQTT: they carry event ids, the hub stores them idempotently and acks
 * each on the fob's command topic, and the phone keeps them in IndexedDB until that ack. Reading the
 * day and recording an unplanned visit (which must be recorded before entering, R7) use this API.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { hasZodFastifySchemaValidationErrors, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { HubServices } from '../hub-services.js';
import { AdminError, addVisit } from '../admin/admin-service.js';
import { LIMITS } from '../../shared/protocol-core.js';
import { CompanionAuthError, type CompanionAuth, type CompanionWorker } from './companion-auth.js';
import type { RelayTokens } from './relay-tokens.js';
import type { RelayGrants } from './relay-grants.js';
import type { VisitRecord } from '../store/store-types.js';
import { visitLateness, type VisitLateness } from './visit-lateness.js';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const MQTT_BUNDLE = createRequire(import.meta.url).resolve('mqtt/dist/mqtt.esm');
const DAY = 24 * 3600_000;

/** The companion's static files: name -> content type. Nothing else under /companion/ is served. */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'fob-link.js': 'text/javascript; charset=utf-8',
  'hub-link.js': 'text/javascript; charset=utf-8',
  'outbox.js': 'text/javascript; charset=utf-8',
  'alarm-screen.js': 'text/javascript; charset=utf-8',
  'location.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'sw.js': 'text/javascript; charset=utf-8',
  'manifest.webmanifest': 'application/manifest+json',
  'icon.svg': 'image/svg+xml',
  'icon-192.png': 'image/png',
  'icon-512.png': 'image/png',
};

/**
 * The companion's security headers. `connect-src` is the page's own origin plus, in a cluster, the
 * origins of the edges' WebSocket URLs (the phone relays through them: `[cluster] edge_websockets`).
 */
export function companionHeaders(hubs: readonly string[] = []): Record<string, string> {
  const origins = [...new Set(hubs.map((u) => new URL(u).origin.replace(/^http/, 'ws')))];
  const csp = COMPANION_HEADERS['content-security-policy']!.replace("connect-src 'self'", ["connect-src 'self'", ...origins].join(' '));
  return { ...COMPANION_HEADERS, 'content-security-policy': csp };
}

export const COMPANION_HEADERS: Record<string, string> = {
  // No inline script or style; the MQTT connection is same-origin WebSocket. `worker-src blob:`: MQTT.js
  // runs its keep-alive timers in a small worker it creates from a blob, so a phone that puts the tab
  // in the background does not throttle them into a dropped connection (only our own scripts, from
  // 'self', can create one).
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; manifest-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export interface CompanionOptions {
  auth: CompanionAuth;
  /** The grants the broker's device authentication checks relay tokens against (built by hub.ts). */
  relays: RelayGrants;
  /**
   * The edges' MQTT-over-WebSocket URLs (a cluster node, `[cluster] edge_websockets`), given to the
   * phone with its token to try in turn; empty: the page's own /mqtt.
   */
  hubs?: readonly string[];
}

export interface Companion {
  tokens: RelayTokens;
  /**
   * Ends relay connections whose phone session was signed out (a lost phone), whose worker no longer
   * has that fob, or whose fob was revoked. Runs about every RELAY_SWEEP_MS of the hub's clock (housekeeping); returns the devices dropped.
   */
  sweep(): Promise<string[]>;
}

/** How often live relay connections are checked against their phone's session. */
export const RELAY_SWEEP_MS = 30_000;

declare module 'fastify' {
  interface FastifyRequest {
    companionWorker?: CompanionWorker | null;
  }
  interface FastifyInstance {
    lonewatchCompanion: Companion;
  }
}

const visitOut = z.object({
  ref: z.string(),
  scheduledStart: z.number(),
  expectedEnd: z.number(),
  riskCategory: z.number(),
  rag: z.string(),
  status: z.string(),
  startedAt: z.number().nullable(),
  endedAt: z.number().nullable(),
  unplanned: z.boolean(),
  checkinIntervalMin: z.number().nullable(),
  /** Past its start and not started (visit-lateness.ts); officeTold once the missed-check-in ladder runs for it. */
  late: z.object({ since: z.number(), officeTold: z.boolean() }).nullable(),
});

/** What the phone shows of a visit: no next location, second worker or policy flags. */
function companionVisit(v: VisitRecord, late: VisitLateness | null = null): z.infer<typeof visitOut> {
  return {
    ref: v.ref,
    scheduledStart: v.scheduledStart,
    expectedEnd: v.expectedEnd,
    riskCategory: v.riskCategory,
    rag: v.rag,
    status: v.status,
    startedAt: v.startedAt,
    endedAt: v.endedAt,
    unplanned: v.unplanned,
    checkinIntervalMin: v.checkinIntervalMin,
    late,
  };
}

const workerOut = z.object({ id: z.string(), name: z.string() });
const deviceOut = z.object({ id: z.string(), board: z.string().nullable() }).nullable();
const errorOut = z.object({ error: z.string(), field: z.string().optional() });

export async function registerCompanion(http: FastifyInstance, hub: HubServices, opts: CompanionOptions): Promise<Companion> {
  const { auth, relays } = opts;
  const hubs = [...(opts.hubs ?? [])];
  const headers = companionHeaders(hubs);
  const tokens: RelayTokens = relays.tokens;
  const sweep = async (): Promise<string[]> => {
    const dropped: string[] = [];
    const now = hub.clock.now();
    for (const [clientId, held] of relays.entries()) {
      if (!hub.sessions.isConnected(clientId)) {
        if (held.expiresAt <= now) relays.drop(clientId);
        continue;
      }
      const worker = await auth.identify(held.session);
      const device = await hub.store.read((tx) => tx.getDevice(held.deviceId));
      if (worker && worker.workerId === held.workerId && device && device.revokedAt === null && device.workerId === worker.workerId) continue;
      hub.log.warn({ deviceId: held.deviceId, workerId: held.workerId }, "companion relay disconnected: its phone was signed out, or the fob is no longer this worker's");
      relays.drop(clientId);
      hub.sessions.disconnect(clientId);
      dropped.push(held.deviceId);
    }
    return dropped;
  };
  // Housekeeping on the hub's clock (issue 18): the rule is "a signed-out phone's relay goes within
  // about RELAY_SWEEP_MS", and each sweep looks at the sessions as they are now.
  const sweeper = hub.clock.housekeeping(() => void sweep().catch((err) => hub.log.error({ err }, 'companion relay sweep failed')), RELAY_SWEEP_MS);
  http.addHook('onClose', async () => sweeper.cancel());
  const companion: Companion = { tokens, sweep };
  http.decorate('lonewatchCompanion', companion);

  // ---- the PWA's files
  const sendFile = async (name: string, reply: FastifyReply, path = join(PUBLIC_DIR, name)): Promise<FastifyReply> => {
    const body = await readFile(path);
    for (const [k, v] of Object.entries(headers)) reply.header(k, v);
    // The service worker decides what the phone keeps; the browser's HTTP cache must not get in its way.
    reply.header('cache-control', 'no-cache');
    if (name === 'sw.js') reply.header('service-worker-allowed', '/companion/');
    return reply.type(FILES[name] ?? 'text/javascript; charset=utf-8').send(body);
  };
  http.get('/companion', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/companion/'));
  http.get('/companion/', { schema: { hide: true } }, async (_req, reply) => sendFile('index.html', reply));
  http.get('/companion/vendor/mqtt.js', { schema: { hide: true } }, async (_req, reply) => sendFile('mqtt.js', reply, MQTT_BUNDLE));
  http.get('/companion/:file', { schema: { hide: true } }, async (req, reply) => {
    const file = (req.params as { file: string }).file;
    if (!Object.hasOwn(FILES, file)) return reply.code(404).type('text/plain').send('not found');
    return sendFile(file, reply);
  });

  // ---- the API
  await http.register(
    async (api) => {
      api.setValidatorCompiler(validatorCompiler);
      api.setSerializerCompiler(serializerCompiler);
      api.setErrorHandler((err: FastifyError, request, reply) => sendError(err, request, reply));
      const app = api.withTypeProvider<ZodTypeProvider>();

      const signedIn = async (request: FastifyRequest): Promise<void> => {
        const bearer = bearerOf(request);
        const worker = bearer ? await auth.identify(bearer) : null;
        if (!worker) throw new CompanionAuthError(401, 'sign in on this phone first (the session is unknown, expired or was signed out)');
        request.companionWorker = worker;
      };
      const me = (request: FastifyRequest): CompanionWorker => request.companionWorker!;
      const deviceOf = async (workerId: string) =>
        hub.store.read(async (tx) => (await tx.listDevices()).find((d) => d.workerId === workerId && d.revokedAt === null) ?? null);

      app.post(
        '/sign-in',
        {
          schema: {
            tags: ['companion'],
            summary: "Worker sign-in on the companion: returns a session token the phone keeps",
            body: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }),
            response: { 200: z.object({ token: z.string(), worker: workerOut }), 401: errorOut, 403: errorOut, 429: errorOut },
          },
        },
        async (req) => {
          const { token, worker } = await auth.signIn(req.body.username.trim().toLowerCase(), req.body.password, req.ip);
          return { token, worker: { id: worker.workerId, name: worker.name } };
        },
      );

      app.post('/sign-out', { schema: { tags: ['companion'], summary: 'End this phone session' }, preHandler: signedIn }, async (req) => {
        await auth.signOut(bearerOf(req)!);
        return { ok: true };
      });

      app.get(
        '/me',
        {
          schema: { tags: ['companion'], summary: 'The signed-in worker and the fob assigned to them', response: { 200: z.object({ worker: workerOut, device: deviceOut, hub: z.string(), serverNow: z.number() }) } },
          preHandler: signedIn,
        },
        async (req) => {
          const w = me(req);
          const device = await deviceOf(w.workerId);
          return { worker: { id: w.workerId, name: w.name }, device: device ? { id: device.id, board: device.board } : null, hub: hub.config.hub.name, serverNow: hub.clock.now() };
        },
      );

      app.get(
        '/today',
        {
          schema: {
            tags: ['companion'],
            summary: "The worker's visits today, what is due and the last confirmed sighting",
            response: {
              200: z.object({
                serverNow: z.number(),
                onShift: z.boolean(),
                activeVisitRef: z.string().nullable(),
                due: z.object({ at: z.number(), reason: z.string(), visitRef: z.string().nullable() }).nullable(),
                lastSightingAt: z.number().nullable(),
                visits: z.array(visitOut),
              }),
            },
          },
          preHandler: signedIn,
        },
        async (req) => {
          const { workerId } = me(req);
          const now = hub.clock.now();
          const start = new Date(now);
          start.setHours(0, 0, 0, 0);
          const { visits, state, alarms } = await hub.store.read(async (tx) => ({
            visits: await tx.listVisits(workerId, Math.min(start.getTime(), now - 12 * 3600_000), start.getTime() + DAY),
            state: await tx.getCheckinState(workerId),
            alarms: await tx.listAlarms({ open: true, workerId, limit: 50 }),
          }));
          visits.sort((a, b) => a.scheduledStart - b.scheduledStart);
          const refOf = (id: string | null | undefined) => visits.find((v) => v.id === id)?.ref ?? null;
          return {
            serverNow: now,
            onShift: state?.onShift ?? false,
            activeVisitRef: refOf(state?.activeVisitId),
            due: state?.due ? { at: state.due.at, reason: state.due.reason, visitRef: refOf(state.due.visitId) } : null,
            lastSightingAt: state?.lastSighting?.at ?? null,
            visits: visits.map((v) => companionVisit(v, visitLateness(v, now, state, alarms))),
          };
        },
      );

      app.post(
        '/relay-token',
        {
          schema: {
            tags: ['companion'],
            summary: "A short-lived MQTT credential for relaying the worker's own fob (and only that fob)",
            response: { 200: z.object({ deviceId: z.string(), clientId: z.string(), username: z.string(), password: z.string(), expiresAt: z.number(), path: z.string(), hubs: z.array(z.string()) }), 404: errorOut },
          },
          preHandler: signedIn,
        },
        async (req) => {
          const w = me(req);
          const device = await deviceOf(w.workerId);
          if (!device) throw new CompanionAuthError(404, 'no fob is assigned to you: ask your manager to assign one (lonewatch devices assign)');
          const { token, clientId, expiresAt } = relays.issue(device.id, w.workerId, bearerOf(req)!);
          await hub.store.transaction((tx) =>
            tx.appendAudit({ at: hub.clock.now(), actor: w.actor, action: 'companion.relay_token', subject: device.id, detail: { workerId: w.workerId, ip: req.ip } }),
          );
          // hubs: the edges to try in turn (a cluster); empty: this page's own origin and path.
          return { deviceId: device.id, clientId, username: device.id, password: token, expiresAt, path: '/mqtt', hubs };
        },
      );

      app.post(
        '/visits',
        {
          schema: {
            tags: ['companion'],
            summary: 'Record an unplanned visit before entering (R7)',
            body: z.object({
              ref: z.string().min(1).max(LIMITS.visitRefMaxLength),
              minutes: z.int().min(5).max(12 * 60),
              riskCategory: z.union([z.literal(1), z.literal(2)]).default(1),
              rag: z.enum(['red', 'amber', 'green']).default('green'),
              nextLocation: z.string().max(128).nullable().default(null),
            }),
            response: { 200: z.object({ visit: visitOut, warnings: z.array(z.string()) }), 400: errorOut, 409: errorOut, 422: errorOut },
          },
          preHandler: signedIn,
        },
        async (req) => {
          const w = me(req);
          const now = hub.clock.now();
          const b = req.body;
          const res = await addVisit(
            hub.store,
            {
              workerId: w.workerId,
              ref: b.ref,
              scheduledStart: now,
              expectedEnd: now + b.minutes * 60_000,
              riskCategory: b.riskCategory,
              rag: b.rag,
              checkinIntervalMin: b.rag !== 'green' || b.riskCategory === 2 ? 30 : null,
              nextLocation: b.nextLocation,
              secondWorkerId: null,
              unplanned: true,
            },
            { onBreach: hub.config.rules.visit_policy_breach, trainingValidYears: hub.config.rules.training_valid_years },
          );
          await hub.store.transaction((tx) => tx.appendAudit({ at: now, actor: w.actor, action: 'visit.unplanned', subject: `worker:${w.workerId}`, detail: { ref: b.ref } }));
          await hub.runtime.workerAction(w.workerId, { type: 'itinerary_changed' });
          return {
            visit: companionVisit(res.visit),
            warnings: res.warnings,
          };
        },
      );
    },
    { prefix: '/api/companion' },
  );
  return companion;
}

function bearerOf(request: FastifyRequest): string | null {
  return /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? null;
}

function sendError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const first = err.validation[0];
    const field = first.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'body';
    return reply.code(400).send({ error: `field "${field}": ${first.message}`, field });
  }
  if (err instanceof CompanionAuthError) {
    if (err.status === 429) reply.header('retry-after', /(\d+) s/.exec(err.message)?.[1] ?? '60');
    return reply.code(err.status).send({ error: err.message });
  }
  if (err instanceof AdminError) return reply.code(err.status).send({ error: err.message, ...(err.field ? { field: err.field } : {}) });
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return reply.code(status).send({ error: err.message });
  request.log.error({ err, url: request.url }, 'companion API request failed');
  return reply.code(500).send({ error: 'the hub could not complete this request; the hub log has the details' });
}
