/**
 * Dashboard users and API tokens, shared by the API and `lonewatch users`. Every change is audited.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../store/store.js';
import { USER_ROLES, type ApiTokenRecord, type StaffRole, type UserRecord, type UserRole } from '../store/store-types.js';
import { hashPassword, passwordProblem, randomToken, sha256, type PasswordCost } from './passwords.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** So that fastify's own error handler (routes outside /api) answers with the right status. */
  get statusCode(): number {
    return this.status;
  }
}

export const USERNAME_RE = /^[a-z0-9][a-z0-9_.-]{1,31}$/;

export interface NewUser {
  username: string;
  name?: string;
  role: UserRole;
  password: string;
  /** Required for role `worker`: the worker this account belongs to. */
  workerId?: string | null;
}

/**
 * Adds a user. `opts.passwordCost` is for tests that add users straight into the store (their
 * sign-in then verifies at that cost, as the stored hash says); the hub never passes it, so every
 * user it adds is hashed at PASSWORD_COST (hub/http/passwords.ts).
 */
export async function createUser(store: Store, input: NewUser, actor: string, now: number, opts: { passwordCost?: PasswordCost } = {}): Promise<UserRecord> {
  if (!USERNAME_RE.test(input.username)) throw new ApiError(400, 'username must be 2-32 lower-case letters, digits, _ . - (starting with a letter or digit)', 'username');
  if (!(USER_ROLES as readonly string[]).includes(input.role)) throw new ApiError(400, `role must be one of ${USER_ROLES.join(', ')}`, 'role');
  const workerId = input.workerId?.trim() || null;
  if (input.role === 'worker' && !workerId) throw new ApiError(400, 'a worker account needs the worker it belongs to (workerId / --worker)', 'workerId');
  if (input.role !== 'worker' && workerId) throw new ApiError(400, 'only a worker account is linked to a worker: leave workerId out for office roles', 'workerId');
  const problem = passwordProblem(input.password);
  if (problem) throw new ApiError(400, problem, 'password');
  const passwordHash = await hashPassword(input.password, opts.passwordCost);
  return store.transaction(async (tx) => {
    if (await tx.getUser(input.username)) throw new ApiError(409, `user ${input.username} already exists`, 'username');
    if (workerId && !(await tx.getWorker(workerId))) throw new ApiError(404, `no worker ${workerId}: add the worker first`, 'workerId');
    const user: UserRecord = { username: input.username, name: input.name?.trim() || input.username, role: input.role, passwordHash, createdAt: now, disabledAt: null, workerId };
    await tx.insertUser(user);
    await tx.appendAudit({ at: now, actor, action: 'user.add', subject: `user:${user.username}`, detail: { role: user.role, workerId } });
    return user;
  });
}

export async function setPassword(store: Store, username: string, password: string, actor: string, now: number): Promise<void> {
  const problem = passwordProblem(password);
  if (problem) throw new ApiError(400, problem, 'password');
  const passwordHash = await hashPassword(password);
  await store.transaction(async (tx) => {
    if (!(await tx.getUser(username))) throw new ApiError(404, `no user ${username}`, 'username');
    await tx.updateUser(username, { passwordHash });
    await tx.appendAudit({ at: now, actor, action: 'user.password', subject: `user:${username}`, detail: {} });
  });
}

export function publicUser(u: UserRecord): { username: string; name: string; role: UserRole; workerId: string | null; createdAt: number; disabled: boolean } {
  return { username: u.username, name: u.name, role: u.role, workerId: u.workerId, createdAt: u.createdAt, disabled: u.disabledAt !== null };
}

/** Disables (or re-enables) a user; disabling also ends their sessions. */
export async function setUserDisabled(store: Store, username: string, disabled: boolean, actor: string, now: number): Promise<void> {
  await store.transaction(async (tx) => {
    if (!(await tx.getUser(username))) throw new ApiError(404, `no user ${username}`, 'username');
    await tx.updateUser(username, { disabledAt: disabled ? now : null });
    if (disabled) await tx.deleteUserSessions(username);
    await tx.appendAudit({ at: now, actor, action: disabled ? 'user.disable' : 'user.enable', subject: `user:${username}`, detail: {} });
  });
}

/** Creates an API token for an integration; the token itself is returned once and only its hash kept. */
export async function createApiToken(store: Store, name: string, role: StaffRole, actor: string, now: number): Promise<{ record: ApiTokenRecord; token: string }> {
  const token = `lwt_${randomToken(32)}`;
  const record: ApiTokenRecord = { id: randomUUID(), name, role, tokenHash: sha256(token), createdBy: actor, createdAt: now, revokedAt: null, lastUsedAt: null };
  await store.transaction(async (tx) => {
    await tx.insertApiToken(record);
    await tx.appendAudit({ at: now, actor, action: 'token.add', subject: `token:${record.id}`, detail: { name, role } });
  });
  return { record, token };
}
