/**
 * Password and token hashing for the dashboard (node:crypto only). Passwords: scrypt with a random
 * salt, stored as `scrypt$N$r$p$salt$hash` so the cost can be raised later without breaking old
 * hashes. Session ids and API tokens are long random values, so a fast SHA-256 is enough for them.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt's work factors: N (CPU/memory cost, a power of two), r (block size), p (parallelism). */
export interface PasswordCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/**
 * The cost of every password the hub itself hashes (the API, `lonewatch users`, the first-admin
 * link), and the documented minimum (docs/dashboard.md "Passwords"): N=16384, r=8, p=1, the
 * scrypt paper's parameters for interactive logins, about 75 ms a hash on this machine, which makes
 * guessing a stolen hash slow while a sign-in still feels instant. No production
 * path passes a lower one: `hashPassword`'s `cost` exists so that a test creating users straight into
 * the store can hash them cheaply (test/dashboard/password-cost.test.ts checks that no module under
 * hub/ passes it, and that the default is this one).
 */
export const PASSWORD_COST: PasswordCost = Object.freeze({ N: 16384, r: 8, p: 1 });
const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEYLEN, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A salted scrypt hash; the stored string names its cost, so `verifyPassword` needs no other. */
export async function hashPassword(password: string, cost: PasswordCost = PASSWORD_COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, cost.N, cost.r, cost.p);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(password, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash to spend the same time on an unknown user as on a wrong password. */
let dummyHash: Promise<string> | null = null;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Rules a person can act on; checked by the API and the CLI alike. */
export function passwordProblem(password: string): string | null {
  if (password.length < 12) return 'password must be at least 12 characters';
  if (password.length > 256) return 'password must be at most 256 characters';
  return null;
}
