import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../bin/commands.js';

const run = promisify(execFile);
const bin = new URL('../bin/lonewatch.js', import.meta.url).pathname;

describe('lonewatch CLI', () => {
  it('--help lists every command', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    expect(stdout).toMatch(/^Usage: lonewatch <command>/);
    for (const c of COMMANDS) expect(stdout).toContain(`  ${c.name} `);
  });

  // One test per command: each spawns the CLI, which takes seconds on a loaded machine.
  for (const c of COMMANDS) {
    it(`${c.name} has --help`, async () => {
      const { stdout } = await run(process.execPath, [bin, c.name, '--help']);
      expect(stdout).toContain(`Usage: lonewatch ${c.name}`);
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
