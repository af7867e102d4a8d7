// Administration: devices (register with credentials shown once, assign, revoke), contacts, the
// escalation policies in force, dashboard users (add, disable, sign out everywhere), API tokens and
// the audit log.
import { z } from 'zod';
import type { ApiApp, ApiContext } from './api-context.js';
import { ANY_ROLE, requireRole } from './auth.js';
import { ApiError, createApiToken, createUser, publicUser, setUserDisabled } from './users.js';
import { toEscalationPolicy } from '../config/config-schema.js';
import { ALARM_KINDS } from '../../shared/protocol-schemas.js';
import { BOARDS } from '../../shared/protocol-core.js';
import { STAFF_ROLES, USER_ROLES } from '../store/store-types.js';
import { ALARM_KIND } from '../../shared/vocabulary.js';
import { LINE_MANAGER_ROLES } from './views.js';
import { CsvError, CSV_COLUMNS, parseVisitsCsv } from '../admin/visits-csv.js';

const deviceParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, { error: 'must be a device id' }) });
const userParams = z.object({ username: z.string().regex(/^[a-z0-9][a-z0-9_.-]{1,31}$/, { error: 'must be a username' }) });
const tokenParams = z.object({ id: z.uuid({ error: 'must be a token id' }) });
const optionalId = z
  .string()
  .trim()
  .max(64)
  .nullable()
  .optional()
  .transform((v) => v || null);

export function registerAdminRoutes(app: ApiApp, { hub, auth }: ApiContext): void {
  const now = () => hub.clock.now();
  const ADMIN = requireRole('admin');
  const MANAGERS = requireRole('manager', 'admin');

  // ---------------------------------------------------------------------------------------------
  // Visit import from the dashboard (issue 15 item 13): the same parser and the same all-or-nothing
  // transaction as `lonewatch visits import`, so an upload and the CLI accept exactly the same files.

  app.post(
    '/admin/visits/import',
    {
      schema: {
        tags: ['admin'],
        summary: `Import an itinerary CSV, all or nothing (columns: ${CSV_COLUMNS.join(',')}; times ISO 8601)`,
        body: z.strictObject({
          csv: z.string().min(1, { error: 'the file is empty' }).max(200_000, { error: 'the file is over 200 kB: split it' }),
          file: z.string().trim().max(120).default('visits.csv').describe('the file name, used in the line references of errors'),
        }),
      },
      preHandler: requireRole('duty_officer', 'manager', 'admin'),
    },
    async (req, reply) => {
      const file = req.body.file.replace(/[^\w .-]/g, '_') || 'visits.csv';
      let rows;
      try {
        rows = parseVisitsCsv(req.body.csv, file);
      } catch (err) {
        if (err instanceof CsvError) {
          reply.code(422);
          const refused = err.message.split('\n');
          return { error: refused.length === 1 ? `${refused[0]}; nothing was imported` : `nothing was imported: ${refused.length} problems in the file`, refused, imported: 0 };
        }
        throw err;
      }
      // Through the command service, as the CLI's import: all or nothing, and each worker's
      // check-in rules re-read the itinerary (a visit starting soon needs its timer).
      const result = await hub.commands.importVisits(rows, file, req.principal!.actor);
      await hub.store.transaction((tx) => tx.appendAudit({ at: now(), actor: req.principal!.actor, action: 'visits.import', subject: `file:${file}`, detail: { rows: rows.length, imported: result.imported, refused: result.refused.length } }));
      if (result.refused.length > 0) {
        reply.code(422);
        return { error: `nothing was imported: ${result.refused.length} of ${rows.length} line(s) refused; fix them and import the file again`, refused: result.refused, imported: 0 };
      }
      return { imported: result.imported, warnings: result.warnings };
    },
  );

  // ---------------------------------------------------------------------------------------------
  // Devices

  app.get('/admin/devices', { schema: { tags: ['admin'], summary: 'Every fob with its worker, state and battery (never its secret)' }, preHandler: ANY_ROLE }, async () => {
    const devices = await hub.store.read((tx) => tx.listDevices());
    return {
      devices: devices.map((d) => ({ id: d.id, workerId: d.workerId, board: d.board, createdAt: d.createdAt, revokedAt: d.revokedAt, lastSeenAt: d.lastSeenAt, battery: d.battery, online: d.online, firmware: d.firmware })),
    };
  });

  app.post(
    '/admin/devices',
    {
      schema: {
        tags: ['admin'],
        summary: 'Register a fob. The answer holds its secret, shown this once: write it to the fob (`lonewatch flash`)',
        body: z.object({
          deviceId: z.string().trim().regex(/^[A-Za-z0-9_-]{1,32}$/, { error: 'must be 1-32 letters, digits, - or _' }),
          workerId: optionalId,
          board: z.enum(BOARDS).nullable().optional(),
        }),
      },
      preHandler: ADMIN,
    },
    async (req, reply) => {
      const created = await hub.commands.addDevice({ deviceId: req.body.deviceId, workerId: req.body.workerId, board: req.body.board ?? null }, req.principal!.actor);
      reply.code(201).header('cache-control', 'no-store');
      return { deviceId: created.deviceId, secret: created.secret, note: 'shown once: the hub keeps only a hash of this secret' };
    },
  );

  app.post('/admin/devices/:id/revoke', { schema: { tags: ['admin'], summary: 'Refuse the fob from now on (it is disconnected at once)', params: deviceParams }, preHandler: ADMIN }, async (req) => {
    // A revoked fob that is still connected is dropped now (the service tells the device watch).
    await hub.commands.revokeDevice(req.params.id, req.principal!.actor);
    return { ok: true };
  });

  app.post(
    '/admin/devices/:id/assign',
    { schema: { tags: ['admin'], summary: 'Give the fob to a worker (or to nobody with null)', params: deviceParams, body: z.object({ workerId: optionalId }) }, preHandler: ADMIN },
    async (req) => {
      // The fob's heartbeats now count as sightings of its new worker only (the service tells the device watch).
      await hub.commands.assignDevice(req.params.id, req.body.workerId, req.principal!.actor);
      await hub.store.transaction((tx) => tx.appendAudit({ at: now(), actor: req.principal!.actor, action: 'device.assign', subject: req.params.id, detail: { workerId: req.body.workerId } }));
      return { ok: true };
    },
  );

  // ---------------------------------------------------------------------------------------------
  // Contacts and policies (read from config)

  app.get('/admin/contacts', { schema: { tags: ['admin'], summary: 'Office contacts (duty officers, managers, head of service, director)' }, preHandler: ANY_ROLE }, async () => ({
    // lineManager: may be chosen as a worker's line manager (issue 15 item 13).
    contacts: (await hub.store.read((tx) => tx.listContacts())).map((c) => ({ ...c, lineManager: LINE_MANAGER_ROLES.includes(c.role) })),
  }));

  app.get('/admin/policies', { schema: { tags: ['admin'], summary: 'The escalation policies in force and which alarm kind uses which (from lonewatch.toml)' }, preHandler: ANY_ROLE }, async () => {
    const cfg = hub.config;
    return {
      alarmPolicies: ALARM_KINDS.map((kind) => ({ kind, label: ALARM_KIND[kind].label, policy: cfg.alarm_policies[kind] })),
      policies: Object.keys(cfg.policies)
        .sort()
        .map((name) => toEscalationPolicy(name, cfg.policies[name])),
      rules: cfg.rules,
    };
  });

  // ---------------------------------------------------------------------------------------------
  // Users and sessions

  app.get('/admin/users', { schema: { tags: ['admin'], summary: 'Dashboard and companion users, with how many sessions each has open' }, preHandler: MANAGERS }, async () => {
    const t = now();
    const users = await hub.store.read(async (tx) => {
      const out = [];
      for (const u of await tx.listUsers()) out.push({ ...publicUser(u), sessions: await tx.countUserSessions(u.username, t) });
      return out;
    });
    return { users };
  });

  app.post(
    '/admin/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'Add a user (admin). Role worker needs workerId: such an account may only use the companion app, about its own worker',
        body: z.object({
          username: z.string().trim().toLowerCase().max(32),
          name: z.string().trim().max(128).optional(),
          role: z.enum(USER_ROLES),
          password: z.string().max(256),
          workerId: optionalId,
        }),
      },
      preHandler: ADMIN,
    },
    async (req, reply) => {
      const user = await createUser(hub.store, req.body, req.principal!.actor, now());
      reply.code(201);
      return { user: publicUser(user) };
    },
  );

  app.post(
    '/admin/users/:username/disable',
    { schema: { tags: ['admin'], summary: 'Disable (or with {"disabled": false} re-enable) a user; disabling ends their sessions', params: userParams, body: z.object({ disabled: z.boolean().default(true) }).default({ disabled: true }) }, preHandler: ADMIN },
    async (req) => {
      if (req.params.username === req.principal!.id && req.body.disabled) throw new ApiError(409, 'you cannot disable your own account', 'username');
      await setUserDisabled(hub.store, req.params.username, req.body.disabled, req.principal!.actor, now());
      return { ok: true };
    },
  );

  // A manager signs out a lost phone: every session of that user ends now.
  app.delete(
    '/users/:username/sessions',
    { schema: { tags: ['admin'], summary: "Sign a user out everywhere (a lost phone). Managers may do this for worker accounts, admins for anyone", params: userParams }, preHandler: MANAGERS },
    async (req) => {
      const user = await hub.store.read((tx) => tx.getUser(req.params.username));
      if (!user) throw new ApiError(404, `no user ${req.params.username}`, 'username');
      if (req.principal!.role === 'manager' && user.role !== 'worker') throw new ApiError(403, 'a manager may sign out worker accounts only; ask an admin', 'username');
      const ended = await auth.revokeSessions(user.username, req.principal!.actor);
      return { ended };
    },
  );

  // ---------------------------------------------------------------------------------------------
  // API tokens

  app.get('/admin/tokens', { schema: { tags: ['admin'], summary: 'API tokens (never the token itself)' }, preHandler: ADMIN }, async () => {
    const tokens = await hub.store.read((tx) => tx.listApiTokens());
    return { tokens: tokens.map(({ tokenHash: _h, ...t }) => t) };
  });

  app.post(
    '/admin/tokens',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create an API token for an integration; the answer holds the token, shown this once',
        body: z.object({ name: z.string().trim().min(1, { error: 'name the integration' }).max(64), role: z.enum(STAFF_ROLES) }),
      },
      preHandler: ADMIN,
    },
    async (req, reply) => {
      const { record, token } = await createApiToken(hub.store, req.body.name, req.body.role, req.principal!.actor, now());
      reply.code(201).header('cache-control', 'no-store');
      return { id: record.id, name: record.name, role: record.role, token, note: 'shown once: send it as "Authorization: Bearer <token>"' };
    },
  );

  app.post('/admin/tokens/:id/revoke', { schema: { tags: ['admin'], summary: 'Revoke an API token', params: tokenParams }, preHandler: ADMIN }, async (req) => {
    const t = now();
    await hub.store.transaction(async (tx) => {
      const tokens = await tx.listApiTokens();
      const found = tokens.find((x) => x.id === req.params.id);
      if (!found) throw new ApiError(404, `no API token ${req.params.id}`, 'id');
      if (found.revokedAt !== null) throw new ApiError(409, 'this token is already revoked', 'id');
      await tx.updateApiToken(found.id, { revokedAt: t });
      await tx.appendAudit({ at: t, actor: req.principal!.actor, action: 'token.revoke', subject: `token:${found.id}`, detail: { name: found.name } });
    });
    return { ok: true };
  });

  // ---------------------------------------------------------------------------------------------
  // Audit log (R22): who saw which private details, and every administrative change

  app.get(
    '/admin/audit',
    {
      schema: {
        tags: ['admin'],
        summary: 'The audit log, newest first: views and refused views of private details, sign-ins, administration',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(5000).default(200), action: z.string().max(64).optional(), subject: z.string().max(128).optional() }),
      },
      preHandler: MANAGERS,
    },
    async (req) => {
      const all = await hub.store.listAudit(req.query.action || req.query.subject ? 5000 : req.query.limit);
      const entries = all.filter((e) => (!req.query.action || e.action === req.query.action) && (!req.query.subject || e.subject === req.query.subject)).slice(0, req.query.limit);
      return { entries };
    },
  );
}
