// Fob secrets (hub/device-secrets.ts): what `devices add` and `flash` generate and print once.
import { describe, expect, it } from 'vitest';
import { generateDeviceSecret, hashSecret, verifySecret } from '../../hub/device-secrets.js';

describe('generated fob secrets', () => {
  it('are 22 base64url characters, all different, and none starts with "-" (the command line would read it as an option)', () => {
    // 1 in 64 base64url strings starts with '-': 5,000 drawn without the rule hold one with
    // probability 1 - (63/64)^5000, more than 99.99...%.
    const secrets = Array.from({ length: 5000 }, generateDeviceSecret);
    for (const s of secrets) expect(s).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(new Set(secrets).size).toBe(secrets.length);
  });

  it('verify against their hash, and another secret does not', async () => {
    const secret = generateDeviceSecret();
    const hash = await hashSecret(secret);
    expect(await verifySecret(secret, hash)).toBe(true);
    expect(await verifySecret(generateDeviceSecret(), hash)).toBe(false);
  });
});
