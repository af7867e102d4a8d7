#!/usr/bin/env node
// `npm test`: the type-check, the lint and the tests, all three at once (issue 18: under 4 minutes
// on 2 cores). The tests spend much of their time waiting on real time (child hubs starting, NATS
// clusters forming, browsers, the real interpreter), so the two cores have room for the type-check
// and the lint beside them: run first, one after the other, the checks added about half a minute
// of wall time on a fresh clone (no tsc or eslint cache) before the first test started.
//
// The tests' output streams as they run; each check's output is printed whole when it ends, under
// its name, so lines never interleave inside one block. The step fails, after all three have
// finished, if any one failed, and the last line says which. Arguments go to vitest
// (`npm test -- test/hub` runs that folder, still checked).
import { spawn } from 'node:child_process';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

const checks = [
  { name: 'typecheck', cmd: npm, args: ['run', '--silent', 'typecheck'] },
  { name: 'lint', cmd: npm, args: ['run', '--silent', 'lint'] },
];

// The checks run at the lowest CPU priority (nice 19) where there is `nice` (Linux): the tests are
// the longer step, and much of their time is spent waiting on real time, so the checks fill those
// gaps instead of taking the cores from a test that could run. They still finish long before the
// tests (a fresh clone: the type-check is about 22 CPU-s, the lint about 17).
const NICE = process.platform === 'linux' ? ['nice', '-n', '19'] : [];

function runBuffered(c) {
  return new Promise((resolve) => {
    const started = Date.now();
    const [cmd, ...args] = [...NICE, c.cmd, ...c.args];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let reported = false;
    // Printed once, whichever comes first: the check's end, or its command failing to start.
    const report = (code, text) => {
      if (reported) return;
      reported = true;
      process.stdout.write(`\n== ${c.name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n${text}`);
      resolve({ name: c.name, code });
    };
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (err) => report(1, `${out}could not start ${c.cmd} ${c.args.join(' ')}: ${err.message}\n`));
    child.on('close', (code) => report(code, out));
  });
}

function runLive(name, cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit' });
    child.on('error', (err) => {
      process.stderr.write(`could not start ${cmd} ${args.join(' ')}: ${err.message}\n`);
      resolve({ name, code: 1 });
    });
    child.on('close', (code, signal) => resolve({ name, code: code ?? (signal ? 1 : 0) }));
  });
}

const results = await Promise.all([...checks.map(runBuffered), runLive('tests', npx, ['vitest', 'run', ...process.argv.slice(2)])]);

const failed = results.filter((r) => r.code !== 0);
process.stdout.write(`\n== npm test: ${results.map((r) => `${r.name} ${r.code === 0 ? 'ok' : 'FAILED'}`).join(', ')}\n`);
if (failed.length > 0) {
  process.stderr.write(`${failed.map((r) => r.name).join(' and ')} failed (output above).\n`);
  process.exit(1);
}
