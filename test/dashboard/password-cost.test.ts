// The password hashing cost (docs/dashboard.md "Security"): tests add their users at a cheap scrypt
// cost to save time (TEST_PASSWORD_COST, issue 18); this file checks that the hub itself never does:
// PASSWORD_COST is N=16384, r=8, p=1, createUser and setPassword use it unless told otherwise, a user
// the admin API adds gets it, and no production module passes a cost at all.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword, PASSWORD_COST, verifyPassword } from '../../hub/http/passwords.js';
import { createUser, setPassword } from '../../hub/http/users.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { PASSWORD, TEST_PASSWORD_COST, userClient } from './api-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const costOf = (hash: string) => hash.split('$').slice(0, 4).join('$');

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(name) ? [path] : [];
  });
}

describe('password hashing cost', () => {
  it('the production cost is N=16384, r=8, p=1 and is the default of hashPassword, createUser and setPassword', async () => {
    expect(PASSWORD_COST).toEqual({ N: 16384, r: 8, p: 1 });
    expect(costOf(await hashPassword(PASSWORD))).toBe('scrypt$16384$8$1');
    const dir = mkdtempSync(join(tmpdir(), 'lonewatch-pwcost-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = new SqliteStore(join(dir, 'lonewatch.db'));
    cleanup.push(() => store.close());
    const user = await createUser(store, { username: 'ada', role: 'admin', password: PASSWORD }, 'test', 1);
    expect(costOf(user.passwordHash)).toBe('scrypt$16384$8$1');
    expect(await verifyPassword(PASSWORD, user.passwordHash)).toBe(true);
    await setPassword(store, 'ada', 'another long password', 'test', 2);
    const changed = (await store.read((tx) => tx.getUser('ada')))!;
    expect(costOf(changed.passwordHash)).toBe('scrypt$16384$8$1');
    // The tests' cheaper cost is honoured only where it is passed, and verifies as its hash says.
    const cheap = await createUser(store, { username: 'dana', role: 'duty_officer', password: PASSWORD }, 'test', 3, { passwordCost: TEST_PASSWORD_COST });
    expect(costOf(cheap.passwordHash)).toBe('scrypt$1024$8$1');
    expect(await verifyPassword(PASSWORD, cheap.passwordHash)).toBe(true);
    expect(await verifyPassword('not the password', cheap.passwordHash)).toBe(false);
  });

  it('a user the admin API adds is hashed at the production cost', async () => {
    const t: TestHub = await startTestHub({ manualClock: true });
    cleanup.push(() => t.stop());
    const admin = await userClient(t, 'adam', 'admin');
    const res = await admin.post('/api/admin/users', { username: 'dana', role: 'duty_officer', password: PASSWORD });
    expect(res.status).toBe(201);
    const dana = (await t.hub.store.read((tx) => tx.getUser('dana')))!;
    expect(costOf(dana.passwordHash)).toBe('scrypt$16384$8$1');
  });

  it('no module of the hub, the CLI, the simulator or the bench passes a password cost', () => {
    const offenders: string[] = [];
    for (const top of ['hub', 'bin', 'simulator', 'bench', 'shared']) {
      for (const file of sourceFiles(join(ROOT, top))) {
        const rel = relative(ROOT, file);
        const text = readFileSync(file, 'utf8');
        // users.ts only forwards createUser's own option; passwords.ts defines it.
        if (rel === join('hub', 'http', 'passwords.ts')) continue;
        const allowed = rel === join('hub', 'http', 'users.ts') ? ['hashPassword(input.password, opts.passwordCost)'] : [];
        let rest = text;
        for (const a of allowed) rest = rest.split(a).join('');
        if (/hashPassword\([^)]*,/.test(rest)) offenders.push(`${rel}: hashPassword with a cost`);
        if (rel !== join('hub', 'http', 'users.ts') && /passwordCost/.test(rest)) offenders.push(`${rel}: passwordCost`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
