/**
 * `lonewatch bench` (`npm run bench`): the benchmark suite. Every comparison runs in the same run, on
 * the same machine, with the same load generator; every server listens on loopback and is stopped
 * at the end. Writes bench/results/<date>.json and docs/benchmarks.md with SVG charts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { defineCommand, UsageError } from '../bin/command.js';
import { benchIngest } from './ingest-bench.js';
import { benchFleet } from './latency-bench.js';
import { benchRules } from './rules-bench.js';
import { benchCatchUp } from './catch-up-bench.js';
import { benchFirmware } from './firmware-bench.js';
import { ensureMosquitto } from './servers.js';
import { writeReport } from './report.js';
import type { BenchResults } from './bench-results.js';

/** The per-process open-file limit (every MQTT connection is one). */
function fdLimit(): number {
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? n : 1024;
}

export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'run the benchmark suite (hub vs Mosquitto, SOS latency, fleet size, rules, firmware)',
  details: 'Full run: about 10 minutes. --quick: about 2 minutes with smaller fleets. Installs nothing: Mosquitto comes from `apt-get install mosquitto`.',
  options: {
    quick: { type: 'boolean', description: 'smaller fleets and shorter runs (under 2 minutes)' },
    only: { type: 'string', placeholder: 'list', description: 'comma-separated subset: ingest,latency,fleet,rules,catchup,firmware; cluster alone runs the cluster bench (with the single hub and Mosquitto beside it); idle alone measures an idle connection on the edge broker; fuzz alone runs the fuzz harness (lonewatch fuzz); chaos alone runs the cluster under random kills, partitions alone what per-device order costs, steady alone what an idle fleet costs the processes of the cluster (with and without the linger of the edges), heartbeats alone what a batch of heartbeats costs a worker on PostgreSQL (docs/cluster.md)' },
    out: { type: 'string', placeholder: 'dir', description: 'results folder (default bench/results)' },
    fobs: { type: 'string', placeholder: 'n', description: 'cluster: fobs across the edges (default 5000; 50000 for the full figure); steady: the idle fleet (default 30000)' },
    edges: { type: 'string', placeholder: 'n', description: 'cluster, steady: edges (default: enough for the fleet, at most 18,000 fobs each, at least 2)' },
    workers: { type: 'string', placeholder: 'n', description: 'cluster: workers (default 2, at least 2)' },
    sqlite: { type: 'boolean', description: 'cluster, chaos: the SQLite file even where PostgreSQL is installed' },
    seconds: { type: 'string', placeholder: 's', description: 'chaos: seconds of load with random kills (default 60)' },
    seed: { type: 'string', placeholder: 'n', description: 'chaos: seed of the kill schedule and the presses (default: the time; printed in the report)' },
  },
  async run(values) {
    const quick = values.quick === true;
    const only = values.only ? new Set(values.only.split(',')) : null;
    const want = (s: string): boolean => !only || only.has(s);
    // The fuzz harness is not a timed benchmark: `--only fuzz` runs it (as `lonewatch fuzz`) with its
    // own report and exit status; it is never part of the plain `npm run bench`.
    if (only?.has('fuzz')) {
      if (only.size > 1) throw new UsageError('--only fuzz runs the fuzz harness alone: leave the other names out');
      const { fuzzMain } = await import('./fuzz/fuzz-command.js');
      return fuzzMain({ ...(quick ? { short: true } : {}), ...(values.out ? { out: values.out } : {}) });
    }
    if (only?.has('heartbeats')) {
      if (only.size > 1) throw new UsageError('--only heartbeats runs alone: leave the other names out');
      const { heartbeatsMain } = await import('./heartbeat-batch-bench.js');
      return heartbeatsMain({ quick, out: values.out ?? 'bench/results' });
    }
    if (only?.has('steady')) {
      if (only.size > 1) throw new UsageError('--only steady runs alone: leave the other names out');
      const fobs = values.fobs === undefined ? 30_000 : Number(values.fobs);
      if (!Number.isInteger(fobs) || fobs < 100 || fobs > 200_000) throw new UsageError(`--fobs must be a whole number from 100 to 200000, not ${values.fobs}`);
      const edges = values.edges === undefined ? undefined : Number(values.edges);
      if (edges !== undefined && (!Number.isInteger(edges) || edges < 1 || edges > 32)) throw new UsageError(`--edges must be a whole number from 1 to 32, not ${values.edges}`);
      const { EDGE_FOBS_MAX } = await import('./cluster-bench.js');
      if (edges !== undefined && fobs / edges > EDGE_FOBS_MAX) throw new UsageError(`--edges ${edges} is too few for ${fobs} fobs: at most ${EDGE_FOBS_MAX.toLocaleString('en-GB')} an edge (20,000 open files a process); give at least --edges ${Math.ceil(fobs / EDGE_FOBS_MAX)}`);
      const { steadyMain } = await import('./steady-bench.js');
      return steadyMain({ fobs, quick, out: values.out ?? 'bench/results', ...(edges !== undefined ? { edges } : {}) });
    }
    if (only?.has('partitions')) {
      if (only.size > 1) throw new UsageError('--only partitions runs alone: leave the other names out');
      const { partitionsMain } = await import('./chaos/chaos-command.js');
      return partitionsMain({ quick, sqlite: values.sqlite === true, out: values.out ?? 'bench/results' });
    }
    if (only?.has('chaos')) {
      if (only.size > 1) throw new UsageError('--only chaos runs alone: leave the other names out');
      const fobs = values.fobs === undefined ? 24 : Number(values.fobs);
      if (!Number.isInteger(fobs) || fobs < 2 || fobs > 2000) throw new UsageError(`--fobs for chaos must be a whole number from 2 to 2000, not ${values.fobs}`);
      const seconds = values.seconds === undefined ? 60 : Number(values.seconds);
      if (!Number.isInteger(seconds) || seconds < 10 || seconds > 3600) throw new UsageError(`--seconds must be a whole number from 10 to 3600, not ${values.seconds}`);
      const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
      if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new UsageError(`--seed must be a whole number from 0 to 4294967295, not ${values.seed}`);
      const { chaosMain } = await import('./chaos/chaos-command.js');
      return chaosMain({ fobs, seconds, seed, sqlite: values.sqlite === true, out: values.out ?? 'bench/results' });
    }
    if (only?.has('cluster') || only?.has('idle')) {
      if (only.size > 1 && !(only.size === 2 && only.has('cluster') && only.has('idle'))) throw new UsageError('--only cluster (and idle) run alone: leave the other names out');
      const fobs = values.fobs === undefined ? 5000 : Number(values.fobs);
      if (!Number.isInteger(fobs) || fobs < 100 || fobs > 200_000) throw new UsageError(`--fobs must be a whole number from 100 to 200000, not ${values.fobs}`);
      const whole = (name: string, v: string | undefined, min: number): number | undefined => {
        if (v === undefined) return undefined;
        const x = Number(v);
        if (!Number.isInteger(x) || x < min || x > 32) throw new UsageError(`--${name} must be a whole number from ${min} to 32, not ${v}`);
        return x;
      };
      const edges = whole('edges', values.edges, 2);
      const workers = whole('workers', values.workers, 2);
      const { clusterMain } = await import('./cluster-command.js');
      const { edgesFor, ClusterBenchError, SOS_FOBS, FLOOD_FOBS } = await import('./cluster-bench.js');
      // Refused before anything starts (too few edges for the fleet): the message says how many.
      try {
        edgesFor(fobs + SOS_FOBS + FLOOD_FOBS, edges);
      } catch (err) {
        if (err instanceof ClusterBenchError) throw new UsageError(err.message);
        throw err;
      }
      return clusterMain({ fobs, quick, cluster: only.has('cluster'), sqlite: values.sqlite === true, out: values.out ?? 'bench/results', fdLimit: fdLimit(), ...(edges ? { edges } : {}), ...(workers ? { workers } : {}) });
    }
    const started = Date.now();
    const progress = (s: string): void => {
      const t = Math.round((Date.now() - started) / 1000);
      if (process.stderr.isTTY) process.stderr.write(`\r[${t}s] ${s}`.padEnd(100).slice(0, 100));
      else process.stderr.write(`[${t}s] ${s}\n`);
    };
    const results: BenchResults = {
      date: new Date().toISOString(),
      quick,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
      ingest: [],
      latency: null,
      fleet: [],
      rules: null,
      catchUp: null,
      firmware: [],
      notes: [],
    };
    if (want('fleet') && fdLimit() < 50_500) {
      results.notes.push(
        `A process may hold at most ${fdLimit()} open files on this machine (hard limit, not raisable here), so one hub cannot hold 50,000 connections; the fleet figure is the largest fleet below that limit, and memory per fob is what a 50,000-fob hub would need per connection.`,
      );
    }
    if (want('ingest') && !ensureMosquitto(progress)) results.notes.push('Mosquitto is not installed and could not be (apt-get install mosquitto): the comparison column is empty.');

    if (want('ingest')) for (const n of quick ? [200, 1000] : [1000, 10_000]) results.ingest.push(await benchIngest(n, quick ? 4 : 10, progress));
    if (want('latency')) {
      const [r] = await benchFleet([quick ? 2000 : 10_000], { seconds: quick ? 8 : 30, sosPerSecond: 10, hbIntervalMs: 30_000 }, progress);
      results.latency = r;
    }
    if (want('fleet')) {
      // One process may hold at most (open-file limit - a few) sockets; 20,000 here, hard, so the
      // fleet steps stop below it and the report says so (see fdLimit below).
      const steps = quick ? [1000, 3000] : [5000, 10_000, 15_000, Math.min(50_000, fdLimit() - 600)];
      results.fleet = await benchFleet(steps, { seconds: quick ? 4 : 10, sosPerSecond: 10, hbIntervalMs: 30_000, stopAboveP99Ms: 250 }, progress);
    }
    if (want('rules')) results.rules = await benchRules(quick ? 100_000 : 1_000_000, quick ? 10_000 : 100_000, progress);
    if (want('catchup')) results.catchUp = await benchCatchUp(10_000, quick ? 5 : 20, progress);
    if (want('firmware')) results.firmware = await benchFirmware(progress);
    if (process.stderr.isTTY) process.stderr.write('\n');

    const out = values.out ?? 'bench/results';
    mkdirSync(out, { recursive: true });
    const file = `${out}/${results.date.slice(0, 19).replace(/:/g, '-')}.json`;
    writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
    const table = writeReport(results, 'docs');
    process.stdout.write(table + `\nresults: ${file}\nreport:  docs/benchmarks.md\n`);
    return 0;
  },
});
