/**
 * How the companion signs a worker in. The worker uses the dashboard's accounts (a user with the
 * `worker` role, linked to a worker record); the companion only needs these three operations, so it
 * depends on this port rather than on the dashboard's session code. The phone keeps the session
 * token it is given (kept signed in on the device) and sends it as `Authorization: Bearer <token>`;
 * no cookie, so no CSRF token is needed. A manager signs a lost phone out by revoking the session:
 * `identify` then answers null and the phone is back at the sign-in screen.
 */
export interface CompanionWorker {
  /** The worker record this account is linked to. */
  workerId: string;
  name: string;
  /** How actions appear in timelines and the audit log, e.g. `user:sam`. */
  actor: string;
}

export interface CompanionAuth {
  /** Verifies a worker account's credentials; throws a CompanionAuthError (401/403/429) when refused. */
  signIn(username: string, password: string, ip: string): Promise<{ token: string; worker: CompanionWorker }>;
  /** The worker a session token belongs to, or null when unknown, expired or revoked. */
  identify(token: string): Promise<CompanionWorker | null>;
  signOut(token: string): Promise<void>;
}

export class CompanionAuthError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'CompanionAuthError';
  }
}
