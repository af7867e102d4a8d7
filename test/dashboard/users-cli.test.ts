// `lonewatch users`: the first admin from the command line, worker accounts for the companion, and
// signing a user out everywhere.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { verifyPassword } from '../../hub/http/passwords.js';
import { lonewatch } from '../helpers/cli-in-process.js';

let dir: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lonewatch-users-'));
  env = { ...process.env, LONEWATCH_DATA_DIR: join(dir, 'data') };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

// The real command, run in this process (test/helpers/cli-in-process.ts: a spawned CLI shows nothing
// more here; test/cli.test.ts spawns bin/lonewatch.js), with this directory, environment and stdin.
function lw(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return lonewatch(args, { cwd: dir, env, stdin: input ?? '' });
}

describe('lonewatch users', () => {
  it('add --admin prints a generated password once; the hash (scrypt) is stored, never the password', async () => {
    const res = await lw(['users', 'add', 'ada', '--admin', '--name', 'Ada Admin']);
    expect(res.code).toBe(0);
    const password = /password: (\S+)/.exec(res.stdout)![1]!;
    expect(password.length).toBeGreaterThanOrEqual(16);
    const store = new SqliteStore(join(dir, 'data', 'lonewatch.db'));
    const user = await store.read((tx) => tx.getUser('ada'));
    await store.close();
    expect(user).toMatchObject({ role: 'admin', name: 'Ada Admin', workerId: null });
    expect(user!.passwordHash).toMatch(/^scrypt\$/);
    expect(user!.passwordHash).not.toContain(password);
    expect(await verifyPassword(password, user!.passwordHash)).toBe(true);
  });

  it('--password-stdin, worker accounts need an existing worker, short passwords are refused', async () => {
    expect((await lw(['users', 'add', 'dana', '--role', 'duty_officer', '--password-stdin'], 'short\n')).stderr).toMatch(/at least 12 characters/);
    expect((await lw(['users', 'add', 'dana', '--role', 'duty_officer', '--password-stdin'], 'a long enough password\n')).code).toBe(0);
    const noWorker = await lw(['users', 'add', 'sam-phone', '--role', 'worker', '--worker', 'sam', '--password-stdin'], 'a long enough password\n');
    expect(noWorker.code).toBe(1);
    expect(noWorker.stderr).toMatch(/no worker sam/);
    expect((await lw(['workers', 'add', 'sam', '--name', 'Sam Carter'])).code).toBe(0);
    expect((await lw(['users', 'add', 'sam-phone', '--role', 'worker', '--worker', 'sam', '--password-stdin'], 'a long enough password\n')).code).toBe(0);
    const list = await lw(['users', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ username: 'dana', role: 'duty_officer', workerId: null }),
      expect.objectContaining({ username: 'sam-phone', role: 'worker', workerId: 'sam' }),
    ]);
    expect((await lw(['users', 'sign-out', 'sam-phone'])).stdout).toMatch(/0 session\(s\) ended/);
    const first = await lw(['users', 'add', '--admin']);
    expect(first.stdout).toMatch(/^added admin \(admin\)/);
    const bad = await lw(['users', 'add', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--admin or --role/);
  });
});
