/**
 * Who is asking: a signed-in person (session cookie) or an integration (API token in
 * `Authorization: Bearer`). Cookie-authenticated requests that change state must also carry the
 * session's CSRF token in `x-csrf-token` (double submit: a page on another site can make the browser
 * send the cookie, but cannot read the token). Sign-in is rate-limited per username and address and per
 * address; guessing from elsewhere never locks the right person out (hub/http/sign-in-limiter.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import type { Store } from '../store/store.js';
import { STAFF_ROLES, type UserRecord, type UserRole } from '../store/store-types.js';
import { dummyPasswordHash, randomToken, sha256, verifyPassword } from './passwords.js';
import { ApiError } from './users.js';
import { DEFAULT_SIGN_IN_LIMITS, SignInLimiter, type LimitReason, type SignInLimits } from './sign-in-limiter.js';

export const SESSION_COOKIE = 'lw_session';
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_TTL_MS = 12 * 3600_000;

/** What a refused sign-in is told: which limit, so a duty officer knows whether it is their own typing. */
const LIMIT_WORDS: Record<LimitReason, string> = {
  'username-and-address': 'for this username from this address',
  address: 'from this address',
  'address-burst': 'from this address in the last minute',
  username: 'for this username (it is being guessed from several addresses)',
};

export interface Principal {
  kind: 'user' | 'token';
  /** username or token id */
  id: string;
  name: string;
  role: UserRole;
  /** How this principal appears in timelines and the audit log. */
  actor: string;
  /** For role `worker`: the only worker this principal may act about. */
  workerId: string | null;
  sessionHash?: string;
  csrf?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** Set once the request's credentials have been checked (by the /api hook or requireRole). */
    lwIdentified: boolean;
  }
  interface FastifyInstance {
    lonewatchAuth: Auth;
  }
}

export class Auth {
  /** Sign-in limits (hub/http/sign-in-limiter.ts): per username and address, per address, and a short username-wide wait. */
  readonly limiter: SignInLimiter;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    readonly secureCookies: boolean,
    limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS,
  ) {
    this.limiter = new SignInLimiter(limits);
  }

  /**
   * Checks a password and opens a session. `roles` limits who may sign in here: the dashboard takes
   * office roles only, the companion worker accounts only (each is told where to go instead).
   */
  async signIn(username: string, password: string, ip: string, opts: { roles?: readonly UserRole[]; ttlMs?: number } = {}): Promise<{ user: UserRecord; sessionId: string; csrf: string }> {
    const now = this.clock.now();
    const { retryAfterS, reason } = this.limiter.check(username, ip, now);
    if (retryAfterS > 0) throw new ApiError(429, `too many sign-in attempts ${LIMIT_WORDS[reason!]}: try again in ${retryAfterS} s`);
    this.limiter.attempted(ip, now);
    const user = await this.store.read((tx) => tx.getUser(username));
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
    if (!user || !ok || user.disabledAt !== null) {
      this.limiter.failed(username, ip, now);
      await this.store.transaction((tx) => tx.appendAudit({ at: now, actor: `ip:${ip}`, action: 'signin.failed', subject: `user:${username}`, detail: {} }));
      throw new ApiError(401, 'wrong username or password', 'password');
    }
    this.limiter.succeeded(username, ip);
    if (opts.roles && !opts.roles.includes(user.role)) {
      throw new ApiError(403, user.role === 'worker' ? 'this is a worker account: sign in on the Lonewatch companion app on your phone' : 'this is an office account: sign in on the dashboard', 'username');
    }
    const sessionId = randomToken(32);
    const csrf = randomToken(24);
    await this.store.transaction(async (tx) => {
      await tx.deleteExpiredSessions(now);
      await tx.insertSession({ idHash: sha256(sessionId), username, csrf, createdAt: now, expiresAt: now + (opts.ttlMs ?? SESSION_TTL_MS) });
      await tx.appendAudit({ at: now, actor: `user:${username}`, action: 'signin', subject: `user:${username}`, detail: { ip } });
    });
    return { user, sessionId, csrf };
  }

  async signOut(principal: Principal): Promise<void> {
    if (!principal.sessionHash) return;
    await this.store.transaction((tx) => tx.deleteSession(principal.sessionHash!));
  }

  setSessionCookie(reply: FastifyReply, sessionId: string): void {
    reply.setCookie(SESSION_COOKIE, sessionId, { path: '/', httpOnly: true, sameSite: 'strict', secure: this.secureCookies, maxAge: SESSION_TTL_MS / 1000 });
  }

  clearSessionCookie(reply: FastifyReply): void {
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: this.secureCookies });
  }

  /** Resolves the principal of a request, or null (anonymous). Bad credentials are an error. */
  async identify(request: FastifyRequest): Promise<Principal | null> {
    const now = this.clock.now();
    const header = request.headers.authorization;
    if (header) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m) throw new ApiError(401, 'the Authorization header must be "Bearer <API token>"', 'authorization');
      const token = await this.store.read((tx) => tx.getApiTokenByHash(sha256(m[1])));
      if (!token || token.revokedAt !== null) throw new ApiError(401, 'this API token is unknown or revoked: ask an admin for a new one', 'authorization');
      await this.store.transaction((tx) => tx.updateApiToken(token.id, { lastUsedAt: now }));
      return { kind: 'token', id: token.id, name: token.name, role: token.role, actor: `token:${token.name}`, workerId: null };
    }
    const cookie = request.cookies?.[SESSION_COOKIE];
    if (!cookie) return null;
    const found = await this.store.read(async (tx) => {
      const session = await tx.getSession(sha256(cookie));
      const user = session ? await tx.getUser(session.username) : null;
      return session && user ? { session, user } : null;
    });
    if (!found || found.session.expiresAt < now || found.user.disabledAt !== null) return null;
    const { session, user } = found;
    return { kind: 'user', id: user.username, name: user.name, role: user.role, actor: `user:${user.username}`, workerId: user.workerId, sessionHash: session.idHash, csrf: session.csrf };
  }

  /** Checks the request's credentials once (session or token) and the CSRF rule; sets request.principal. */
  async authenticate(request: FastifyRequest): Promise<Principal | null> {
    if (request.lwIdentified) return request.principal;
    request.lwIdentified = true;
    request.principal = await this.identify(request);
    checkCsrf(request);
    return request.principal;
  }

  /** Ends every session of a user (a lost phone, a leaver). Audited; returns how many ended. */
  async revokeSessions(username: string, actor: string): Promise<number> {
    const now = this.clock.now();
    return this.store.transaction(async (tx) => {
      const n = await tx.deleteUserSessions(username);
      await tx.appendAudit({ at: now, actor, action: 'sessions.revoke', subject: `user:${username}`, detail: { sessions: n } });
      return n;
    });
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The CSRF rule: a cookie-authenticated state change must echo the session's token. */
export function checkCsrf(request: FastifyRequest): void {
  const p = request.principal;
  if (!p || p.kind !== 'user' || SAFE_METHODS.has(request.method)) return;
  const sent = request.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || sent !== p.csrf) {
    throw new ApiError(403, `missing or wrong ${CSRF_HEADER} header: reload the dashboard and try again`, CSRF_HEADER);
  }
}

/** Registers what requireRole needs on the root instance (called once by registerApi). */
export function decorateAuth(http: FastifyInstance, auth: Auth): void {
  http.decorate('lonewatchAuth', auth);
  http.decorateRequest('principal', null);
  http.decorateRequest('lwIdentified', false);
}

/**
 * preHandler: the request must come from a signed-in principal (session or API token) with one of
 * these roles. Usable on any route of the hub's HTTP server, inside /api or not (the companion's
 * routes use `requireRole('worker')`, then check `request.principal.workerId`).
 */
export function requireRole(...roles: UserRole[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const p = await request.server.lonewatchAuth.authenticate(request);
    if (!p) throw new ApiError(401, 'sign in first (or send an API token as "Authorization: Bearer ...")');
    if (!roles.includes(p.role)) {
      throw new ApiError(403, p.role === 'worker' ? 'a worker account may only use the companion app' : `this needs the role ${roles.join(' or ')}; you are signed in as ${p.role}`);
    }
  };
}

/** A worker account acting about its own worker, or office staff: returns the principal. */
export async function requireWorkerSelfOrStaff(request: FastifyRequest, workerId: string): Promise<Principal> {
  const p = await request.server.lonewatchAuth.authenticate(request);
  if (!p) throw new ApiError(401, 'sign in first');
  if (p.role === 'worker' && p.workerId !== workerId) throw new ApiError(403, 'a worker account may only act about its own worker', 'workerId');
  return p;
}

/** Any office role (duty officer, manager, admin): every dashboard route. Worker accounts are refused. */
export const ANY_ROLE = requireRole(...STAFF_ROLES);
