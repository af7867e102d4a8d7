/**
 * The companion's sign-in port (hub/companion/companion-auth.ts) on the dashboard's accounts: a user
 * with the `worker` role, linked to a worker record, signs in on their phone and gets a session token
 * (a session row like a dashboard session; only its hash is stored). The phone sends it as a bearer
 * token, so no cookie and no CSRF token. Signing in shares the dashboard's rate limits, and a manager
 * ends a lost phone's sessions with `DELETE /api/users/:username/sessions` (or `lonewatch users
 * sign-out`), after which `identify` answers null.
 */
import { CompanionAuthError, type CompanionAuth, type CompanionWorker } from '../companion/companion-auth.js';
import type { Auth } from './auth.js';
import { ApiError } from './users.js';
import { sha256 } from './passwords.js';
import type { Clock } from '../clock.js';
import type { Store } from '../store/store.js';
import type { FastifyInstance } from 'fastify';
import type { HubServices } from '../hub-services.js';

/** A phone stays signed in for 30 days; a lost one is signed out by a manager. */
export const COMPANION_SESSION_TTL_MS = 30 * 24 * 3600_000;

/** The companion's auth on a hub whose API is registered (registerApi ran on `http`). */
export function companionAuthFor(http: FastifyInstance, hub: HubServices): CompanionAuth {
  return new CompanionSessions(http.lonewatchAuth, hub.store, hub.clock);
}

export class CompanionSessions implements CompanionAuth {
  constructor(
    private readonly auth: Auth,
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  async signIn(username: string, password: string, ip: string): Promise<{ token: string; worker: CompanionWorker }> {
    const name = username.trim().toLowerCase();
    let result;
    try {
      result = await this.auth.signIn(name, password, ip, { roles: ['worker'], ttlMs: COMPANION_SESSION_TTL_MS });
    } catch (err) {
      if (err instanceof ApiError) throw new CompanionAuthError(err.status, err.message);
      throw err;
    }
    const { user, sessionId } = result;
    return { token: sessionId, worker: { workerId: user.workerId!, name: user.name, actor: `user:${user.username}` } };
  }

  async identify(token: string): Promise<CompanionWorker | null> {
    const now = this.clock.now();
    return this.store.read(async (tx) => {
      const session = await tx.getSession(sha256(token));
      if (!session || session.expiresAt < now) return null;
      const user = await tx.getUser(session.username);
      if (!user || user.disabledAt !== null || user.role !== 'worker' || !user.workerId) return null;
      return { workerId: user.workerId, name: user.name, actor: `user:${user.username}` };
    });
  }

  async signOut(token: string): Promise<void> {
    await this.store.transaction((tx) => tx.deleteSession(sha256(token)));
  }
}
