/**
 * Fob credentials: a random secret shown once, stored only as a scrypt hash.
 *
 * scrypt's cost is set for random 128-bit secrets (brute force is hopeless whatever the cost), low
 * enough that 10,000 fobs reconnecting after a hub restart do not stall it: about 3 ms per check.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

const PARAMS = { N: 1024, r: 8, p: 1 };
const KEYLEN = 32;

/**
 * 22 characters of base64url: 128 bits of entropy. Never one that starts with '-': an engineer passes
 * it as `lonewatch flash --secret <secret>`, and the command line reads a value starting with '-' as
 * an option ("Option '--secret' argument is ambiguous"), 1 secret in 64 before. A clean-clone CI run
 * failed on it (2026-12-03). Drawing again loses 0.02 bits of the 128.
 */
export function generateDeviceSecret(): string {
  for (;;) {
    const secret = randomBytes(16).toString('base64url');
    if (!secret.startsWith('-')) return secret;
  }
}

/** `scrypt$N$r$p$salt$hash`, all base64url. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, KEYLEN, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(secret, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
