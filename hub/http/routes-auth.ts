// Sign-in, sign-out and "who am I" for the dashboard.
import { z } from 'zod';
import type { ApiApp, ApiContext } from './api-context.js';
import { requireRole } from './auth.js';
import { STAFF_ROLES, USER_ROLES } from '../store/store-types.js';
import { FIRST_ADMIN_COMMAND } from './first-admin.js';

/** Sign-out and the session are for every account, the companion's worker accounts too. */
const SIGNED_IN = requireRole(...USER_ROLES);

const userOut = z.object({ username: z.string(), name: z.string(), role: z.string(), workerId: z.string().nullable() });

export function registerAuthRoutes(app: ApiApp, { hub, auth }: ApiContext): void {
  app.post(
    '/auth/sign-in',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in with username and password; sets the session cookie and returns the CSRF token',
        security: [],
        body: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }),
        response: { 200: z.object({ user: userOut, csrf: z.string() }) },
      },
    },
    async (req, reply) => {
      const { user, sessionId, csrf } = await auth.signIn(req.body.username.trim().toLowerCase(), req.body.password, req.ip, { roles: STAFF_ROLES });
      auth.setSessionCookie(reply, sessionId);
      return { user: { username: user.username, name: user.name, role: user.role, workerId: user.workerId }, csrf };
    },
  );

  // First run (issue 15 item 9): the sign-in page asks whether an admin exists, to say how to make one.
  app.get(
    '/auth/setup',
    { schema: { tags: ['auth'], summary: 'Whether the hub still needs its first admin, and how to create one', security: [] } },
    async () => ({ setupNeeded: await hub.firstAdmin.needed(), command: FIRST_ADMIN_COMMAND, log: 'the hub printed a one-time set-up link in its log at start-up' }),
  );

  app.post(
    '/auth/setup',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create the first admin with the one-time set-up token the hub logged at start-up (works once)',
        security: [],
        body: z.strictObject({ token: z.string().min(1).max(128), username: z.string().trim().toLowerCase().min(1).max(64), name: z.string().trim().max(128).optional(), password: z.string().min(1).max(256) }),
      },
    },
    async (req, reply) => {
      const { token, ...input } = req.body;
      const user = await hub.firstAdmin.createAdmin(token, input, req.ip);
      hub.log.warn({ username: user.username }, 'first admin created with the set-up link; the link no longer works');
      reply.code(201);
      return { user: { username: user.username, name: user.name, role: user.role } };
    },
  );

  app.post('/auth/sign-out', { schema: { tags: ['auth'], summary: 'End this session' }, preHandler: SIGNED_IN }, async (req, reply) => {
    await auth.signOut(req.principal!);
    auth.clearSessionCookie(reply);
    return { ok: true };
  });

  app.get(
    '/auth/session',
    { schema: { tags: ['auth'], summary: 'The signed-in user and the CSRF token for state-changing requests' }, preHandler: SIGNED_IN },
    async (req) => {
      const p = req.principal!;
      return { user: { username: p.id, name: p.name, role: p.role, kind: p.kind, workerId: p.workerId }, csrf: p.csrf ?? null, hub: hub.config.hub.name, serverNow: hub.clock.now() };
    },
  );
}
