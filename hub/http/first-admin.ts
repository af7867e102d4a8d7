/**
 * First run (issue 15 item 9): a hub with no admin account cannot be signed in to. At start-up it
 * makes a one-time set-up token and logs a link carrying it; the dashboard's set-up page, opened
 * with that link, creates the first admin, once. The token lives only in this process (a restart
 * makes a new one) and is compared in constant time; `lonewatch users add NAME --admin` remains the
 * other way, and both are what the sign-in page tells a newcomer.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Store } from '../store/store.js';
import type { UserRecord } from '../store/store-types.js';
import { randomToken } from './passwords.js';
import { ApiError, createUser } from './users.js';

export const FIRST_ADMIN_COMMAND = 'npx lonewatch users add <username> --admin';

export class FirstAdminSetup {
  private token: string | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** True when no enabled admin account exists. */
  async needed(): Promise<boolean> {
    const users = await this.store.read((tx) => tx.listUsers());
    return !users.some((u) => u.role === 'admin' && u.disabledAt === null);
  }

  /** Makes the one-time token when no admin exists; null when one does (nothing to set up). */
  async open(): Promise<string | null> {
    if (!(await this.needed())) {
      this.token = null;
      return null;
    }
    this.token ??= randomToken();
    return this.token;
  }

  /** The dashboard path of the set-up page (the token is in the fragment: never sent in a request line). */
  static path(token: string): string {
    return `/#/setup/${token}`;
  }

  /** Creates the first admin with the token; refused (and nothing changed) otherwise. */
  async createAdmin(token: string, input: { username: string; name?: string; password: string }, ip: string): Promise<UserRecord> {
    if (!this.token || !(await this.needed())) {
      this.token = null;
      throw new ApiError(409, `the first admin already exists: sign in, or ask an admin for an account (or run ${FIRST_ADMIN_COMMAND} on the hub)`);
    }
    const a = Buffer.from(token);
    const b = Buffer.from(this.token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new ApiError(403, 'this set-up link is not valid: use the link the hub printed in its log at start-up (a restart prints a new one)', 'token');
    }
    // Once: the link is spent before the admin is written, so two submissions cannot both succeed;
    // it is given back only when the input was refused (a weak password) and nothing was created.
    const spent = this.token;
    this.token = null;
    try {
      return await createUser(this.store, { ...input, role: 'admin' }, `setup:${ip}`, this.clock.now());
    } catch (err) {
      if (await this.needed()) this.token = spent;
      throw err;
    }
  }
}
