/**
 * A small HTTP client for the hub's API in tests: signs in like the dashboard does (session cookie +
 * CSRF token) or uses an API token, and returns status, headers and parsed JSON.
 */
import { createUser } from '../../hub/http/users.js';
import type { PasswordCost } from '../../hub/http/passwords.js';
import type { UserRole } from '../../hub/store/store-types.js';
import type { TestHub } from '../helpers/hub-harness.js';

export const PASSWORD = 'correct horse battery';

/**
 * The scrypt cost of the users tests add straight into the store (`createUser`'s `passwordCost`):
 * N=1024, about 3 ms a hash and as much a sign-in, where the hub's own PASSWORD_COST takes about 75
 * (issue 18: a few hundred users made and signed in across the suite). The hub's hashing is still
 * at PASSWORD_COST, checked by test/dashboard/password-cost.test.ts.
 */
export const TEST_PASSWORD_COST: PasswordCost = { N: 1024, r: 8, p: 1 };

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export class ApiClient {
  cookie: string | null = null;
  csrf: string | null = null;
  bearer: string | null = null;

  constructor(readonly baseUrl: string) {}

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown, opts: { csrf?: boolean; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    if (this.csrf && opts.csrf !== false && method !== 'GET') headers['x-csrf-token'] = this.csrf;
    const res = await fetch(this.baseUrl + path, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  get<T = Record<string, unknown>>(path: string) {
    return this.request<T>('GET', path);
  }

  post<T = Record<string, unknown>>(path: string, body: unknown = {}, opts?: { csrf?: boolean }) {
    return this.request<T>('POST', path, body, opts);
  }

  async signIn(username: string, password = PASSWORD): Promise<ApiResponse> {
    const res = await this.post('/api/auth/sign-in', { username, password });
    if (res.status === 200) {
      const set = res.headers.get('set-cookie') ?? '';
      this.cookie = set.split(';')[0]!;
      this.csrf = (res.body as { csrf: string }).csrf;
    }
    return res;
  }
}

/** Adds a user straight into the store (as `lonewatch users add` does) and returns a signed-in client. */
export async function userClient(t: TestHub, username: string, role: UserRole, workerId?: string): Promise<ApiClient> {
  if (!(await t.hub.store.read((tx) => tx.getUser(username)))) {
    await createUser(t.hub.store, { username, role, password: PASSWORD, name: username.replace(/^./, (c) => c.toUpperCase()), workerId: workerId ?? null }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
  }
  const c = new ApiClient(t.httpUrl);
  const res = await c.signIn(username);
  if (res.status !== 200) throw new Error(`sign-in as ${username} failed: ${res.text}`);
  return c;
}
