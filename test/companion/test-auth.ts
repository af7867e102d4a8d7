/**
 * A CompanionAuth for the tests: worker accounts and sessions in memory, shared by every hub a test
 * starts (so a session survives a hub restart, as the dashboard's stored sessions do).
 */
import { randomBytes } from 'node:crypto';
import { CompanionAuthError, type CompanionAuth, type CompanionWorker } from '../../hub/companion/companion-auth.js';

export class TestCompanionAuth implements CompanionAuth {
  private readonly users = new Map<string, { password: string; worker: CompanionWorker }>();
  private readonly sessions = new Map<string, string>();

  addWorkerUser(username: string, password: string, workerId: string, name = `Worker ${workerId}`): void {
    this.users.set(username, { password, worker: { workerId, name, actor: `user:${username}` } });
  }

  async signIn(username: string, password: string): Promise<{ token: string; worker: CompanionWorker }> {
    const u = this.users.get(username);
    if (!u || u.password !== password) throw new CompanionAuthError(401, 'wrong username or password');
    const token = randomBytes(24).toString('base64url');
    this.sessions.set(token, username);
    return { token, worker: u.worker };
  }

  async identify(token: string): Promise<CompanionWorker | null> {
    const username = this.sessions.get(token);
    return username ? (this.users.get(username)?.worker ?? null) : null;
  }

  async signOut(token: string): Promise<void> {
    this.sessions.delete(token);
  }

  /** A manager signs out every session of a user (a lost phone). */
  revokeUser(username: string): number {
    let n = 0;
    for (const [token, u] of this.sessions) if (u === username && this.sessions.delete(token)) n++;
    return n;
  }
}
