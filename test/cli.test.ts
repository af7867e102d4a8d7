import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../bin/commands.js';
import { lonewatch } from './helpers/cli-in-process.js';

const run = promisify(execFile);
const bin = new URL('../bin/lonewatch.js', import.meta.url).pathname;

describe('lonewatch CLI', () => {
  it('--help lists every command', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    expect(stdout).toMatch(/^Usage: lonewatch <command>/);
    for (const c of COMMANDS) expect(stdout).toContain(`  ${c.name} `);
  });

  // One test per command, each through bin/cli.ts main() in this process (test/helpers/cli-in-process.ts):
  // the same command table, module load and option parsing a spawned CLI runs, without a Node and tsx
  // start per command (issue 18). The spawns above and below are what shows bin/lonewatch.js itself
  // starts and hands back the exit code.
  for (const c of COMMANDS) {
    it(`${c.name} has --help`, async () => {
      const r = await lonewatch([c.name, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: lonewatch ${c.name}`);
    });
  }

  it('an unknown command or option fails with exit code 2 and says why', async () => {
    const err = await run(process.execPath, [bin, 'nope']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('unknown command "nope"');
    const err2 = await run(process.execPath, [bin, 'protocol', '--bogus']).catch((e) => e);
    expect(err2.code).toBe(2);
    expect(err2.stderr).toContain("Unknown option '--bogus'");
  });
});
