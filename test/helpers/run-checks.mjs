#!/usr/bin/env node
// `npm test`'s first step: the type-check and the lint, at the same time (issue 18: on 2 cores the
// two ran one after the other, about half a minute each, neither waiting on the other's result).
// Each one's output is printed whole when it ends, under its name, so the two never interleave; the
// step fails, after both have finished, if either failed, and says which.
import { spawn } from 'node:child_process';

const checks = [
  { name: 'typecheck', args: ['run', '--silent', 'typecheck'] },
  { name: 'lint', args: ['run', '--silent', 'lint'] },
];

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const results = await Promise.all(
  checks.map(
    (c) =>
      new Promise((resolve) => {
        const started = Date.now();
        const child = spawn(npm, c.args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('error', (err) => resolve({ ...c, code: 1, out: `could not start npm ${c.args.join(' ')}: ${err.message}\n`, ms: Date.now() - started }));
        child.on('close', (code) => {
          const r = { ...c, code, out, ms: Date.now() - started };
          process.stdout.write(`== ${c.name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${(r.ms / 1000).toFixed(1)} s\n${out}`);
          resolve(r);
        });
      }),
  ),
);

const failed = results.filter((r) => r.code !== 0);
if (failed.length > 0) {
  process.stderr.write(`\n${failed.map((r) => r.name).join(' and ')} failed (output above); no test was run.\n`);
  process.exit(1);
}
