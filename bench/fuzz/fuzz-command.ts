/**
 * `lonewatch fuzz` (also `npm run bench -- --only fuzz`): the fuzzing and fault harness (issue 17).
 * Not a timed test: it prints what it tried, what the hub refused and any crash, 5xx, hang or loss,
 * writes the figures to bench/results/fuzz-<date>.json, and exits 1 on any of those.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { defineCommand, UsageError } from '../../bin/command.js';
import { randomSeed } from './prng.js';
import { FULL, SHORT, runFuzz, type FuzzOptions } from './fuzz-run.js';
import { formatReport, verdict } from './fuzz-report.js';
import { fuzzSection, writeFuzzSection } from './fuzz-docs.js';

function count(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const x = Number(v.replace(/[_,]/g, ''));
  if (!Number.isInteger(x) || x < 0) throw new UsageError(`--${name} must be a whole number, not "${v}"`);
  return x;
}

export async function fuzzMain(values: { seed?: string; short?: boolean; packets?: string; api?: string; kills?: string; 'max-seconds'?: string; out?: string }): Promise<number> {
  const base = values.short ? SHORT : FULL;
  const opts: FuzzOptions = {
    ...base,
    seed: values.seed !== undefined ? count(values.seed, 'seed', 0) : randomSeed(),
    packets: count(values.packets, 'packets', base.packets),
    apiRequests: count(values.api, 'api', base.apiRequests),
    killRounds: count(values.kills, 'kills', base.killRounds),
    maxSeconds: count(values['max-seconds'], 'max-seconds', base.maxSeconds),
    progress: (s) => process.stderr.write(`[fuzz ${new Date().toISOString().slice(11, 19)}] ${s}\n`),
  };
  // The seed first, so a run that dies half-way can still be replayed.
  process.stderr.write(`fuzz seed ${opts.seed}\n`);
  const report = await runFuzz(opts);
  process.stdout.write(formatReport(report));
  const out = values.out ?? 'bench/results';
  mkdirSync(out, { recursive: true });
  const file = `${out}/fuzz-${report.date.slice(0, 19).replace(/:/g, '-')}.json`;
  writeFileSync(file, JSON.stringify({ ...report, verdict: verdict(report) }, null, 2) + '\n');
  process.stdout.write(`results: ${file}\n`);
  // A full run (not --short, default results folder) puts its figures in docs/benchmarks.md.
  if (!values.short && values.out === undefined) {
    writeFuzzSection('docs/benchmarks.md', fuzzSection(report, file));
    process.stdout.write('report:  docs/benchmarks.md (section "Fuzz and fault harness")\n');
  }
  return verdict(report).ok ? 0 : 1;
}

export const fuzzCommand = defineCommand({
  name: 'fuzz',
  summary: 'fuzz a hub of its own: 1,000,000 MQTT packets, 100,000 API requests, 100 kill -9 restarts under SOS load',
  details: 'Starts its own hub on loopback with a temporary store. Full run: up to about 25 minutes on 2 cores. Exit status 1 on any crash, 5xx, hang or lost alarm.',
  options: {
    seed: { type: 'string', placeholder: 'n', description: 'the seed to replay (default: from the clock; printed first)' },
    short: { type: 'boolean', description: 'the short version npm test runs: 5,000 packets, 500 requests, 3 kill rounds' },
    packets: { type: 'string', placeholder: 'n', description: 'MQTT packets to send (default 1,000,000)' },
    api: { type: 'string', placeholder: 'n', description: 'API requests to send (default 100,000)' },
    kills: { type: 'string', placeholder: 'n', description: 'kill -9 rounds (default 100)' },
    'max-seconds': { type: 'string', placeholder: 's', description: 'time bound of the fuzzing phase (default 1200); the report says if it was reached' },
    out: { type: 'string', placeholder: 'dir', description: 'results folder (default bench/results)' },
  },
  run: (values) => fuzzMain(values),
});
