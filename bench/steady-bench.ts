/**
 * What a connected fleet costs the cluster when nothing happens but heartbeats (issue 19; docs/cluster.md
 * "Steady state at 30,000 fobs"): `npm run bench -- --only steady [--fobs 30000] [--edges n] [--quick]`.
 *
 * The cluster of `cluster up` without its HTTP node (three NATS nodes, two workers, the edges, on
 * PostgreSQL where Debian's postgresql is installed), `--fobs` registered fobs connected evenly over
 * the edges from load processes of at most 9,000 connections each, each sending a QoS 0 heartbeat
 * every 30 s as the firmware does. Once the workers have the fleet's arrival (presence, first
 * heartbeats) worked off, three windows measure what each kind of process used of the cores
 * (bench/proc-cpu.ts), the stream messages the edges added a second (records an envelope), and the
 * workers' bulk backlog at each end (growing: they do not keep up). Run once with the edges'
 * `edge_batch_linger_ms` at 0 (every bulk record goes at once when a publish slot is free, as before
 * 2026-12-04) and once at the default, each on a fresh cluster, so the two are from the same run.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { LocalCluster } from '../hub/cluster/cluster-up.js';
import { postgresBinDir } from '../hub/cluster/postgres-local.js';
import { parseConfig } from '../hub/config/load-config.js';
import { LoadPool } from './load/load-pool.js';
import { BENCH_SECRET, seedHubDatabase } from './servers.js';
import { backlogOf, EDGE_FOBS_MAX, seedPostgres, streamMessages } from './cluster-bench.js';
import { cpuWindow, describeCores, totalCores, type ProcessKind } from './proc-cpu.js';

const HB_INTERVAL_MS = 30_000;
/** The [cluster] defaults, as a node would read them (servers are required to have the section). */
const CLUSTER_DEFAULTS = parseConfig({ cluster: { servers: ['nats://127.0.0.1:4222'] } }).cluster!;
const PER_PROCESS = 9_000;
const STREAM = 'LW_IN';
const CONSUMER = 'lw-workers';

export interface SteadyWindow {
  seconds: number;
  cores: Partial<Record<ProcessKind, number>>;
  totalCores: number;
  /** Messages the stream gained a second (batch envelopes and single records). */
  streamMessagesPerS: number;
  /** The workers' bulk backlog (pending + unacked on the bulk consumer) at the window's start and end. */
  bulkBacklog: [number, number];
  loadAverage: number;
}

export interface SteadyRun {
  lingerMs: number;
  connected: number;
  connectSeconds: number;
  /** Seconds from the fleet connected to the bulk backlog under 2 s of heartbeats (null: it did not get there in 120 s). */
  drainSeconds: number | null;
  windows: SteadyWindow[];
}

export interface SteadyResult {
  at: string;
  fobs: number;
  edges: number;
  workers: number;
  store: 'postgres' | 'sqlite';
  heartbeatsPerS: number;
  runs: SteadyRun[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function steadyRun(fobs: number, edges: number, store: 'postgres' | 'sqlite', lingerMs: number, windows: number, seconds: number, progress: (s: string) => void): Promise<SteadyRun> {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-bench-steady-'));
  progress(`steady (linger ${lingerMs} ms): starting 3 NATS nodes, 2 workers, ${edges} edges on ${store}`);
  const cluster = await LocalCluster.start({ dir, store, httpNode: false, logLevel: 'warn', edges, workers: 2, cluster: { edge_batch_linger_ms: lingerMs } });
  const nc = await connect({ servers: cluster.nats.urls, user: cluster.nats.user, pass: cluster.nats.password });
  const pools: LoadPool[] = [];
  try {
    // The workers' backlog and the stream's length, as the cluster bench reads them (NaN / null
    // when JetStream does not answer).
    const backlog = () => backlogOf(nc, STREAM, CONSUMER, CLUSTER_DEFAULTS.partitions);
    progress(`steady: registering ${fobs} fobs`);
    const ids = cluster.postgres ? await seedPostgres(cluster.postgres.url, fobs, 'sb') : await seedHubDatabase(join(dir, 'data'), fobs, 'sb');
    const urls = cluster.edges.map((e) => `mqtt://${e.host}:${e.port}`);
    const shares = urls.map((_, e) => ids.filter((_, i) => i % urls.length === e));
    const connectStarted = Date.now();
    const counts = new Array<number>(urls.length).fill(0);
    const fleet = await Promise.all(
      shares.map((mine, e) =>
        LoadPool.start({
          url: urls[e]!,
          devices: mine.map((id) => ({ id, password: BENCH_SECRET })),
          processes: Math.max(1, Math.ceil(mine.length / PER_PROCESS)),
          mode: 'steady',
          hbIntervalMs: HB_INTERVAL_MS,
          sosPerSecond: 0,
          rampConcurrency: 60,
          subscribe: true,
          onProgress: (n) => {
            counts[e] = n;
            progress(`steady: ${counts.reduce((a, b) => a + b, 0)}/${fobs} fobs connected`);
          },
        }),
      ),
    );
    for (const f of fleet) pools.push(f.pool);
    const connected = fleet.reduce((a, f) => a + f.connected, 0);
    const connectSeconds = Math.round((Date.now() - connectStarted) / 100) / 10;
    progress(`steady: ${connected} fobs connected in ${connectSeconds} s`);
    // The fleet's arrival worked off: the windows measure its steady state, not its connecting.
    const drainStarted = Date.now();
    let drainSeconds: number | null = null;
    while (Date.now() - drainStarted < 120_000) {
      const b = await backlog();
      if (b && b.bulk <= (fobs / (HB_INTERVAL_MS / 1000)) * 2 && b.ordered === 0) {
        drainSeconds = Math.round((Date.now() - drainStarted) / 1000);
        break;
      }
      await sleep(2000);
    }
    const measured: SteadyWindow[] = [];
    for (let w = 0; w < windows; w++) {
      const [b0, seq0] = [await backlog(), await streamMessages(nc, STREAM)];
      const t0 = Date.now();
      const cpu = cpuWindow();
      await sleep(seconds * 1000);
      const cores = cpu.end();
      const wall = (Date.now() - t0) / 1000;
      const [b1, seq1] = [await backlog(), await streamMessages(nc, STREAM)];
      const bulkBacklog: [number, number] = [b0?.bulk ?? Number.NaN, b1?.bulk ?? Number.NaN];
      const win: SteadyWindow = { seconds: Math.round(wall * 10) / 10, cores, totalCores: totalCores(cores), streamMessagesPerS: Math.round((seq1 - seq0) / wall), bulkBacklog, loadAverage: Math.round(loadavg()[0]! * 100) / 100 };
      measured.push(win);
      progress(`steady (linger ${lingerMs} ms) window ${w + 1}: ${win.totalCores} cores (${describeCores(cores)}), ${win.streamMessagesPerS} stream messages/s, bulk backlog ${bulkBacklog[0]} -> ${bulkBacklog[1]}`);
    }
    return { lingerMs, connected, connectSeconds, drainSeconds, windows: measured };
  } finally {
    for (const p of pools) await p.stop().catch(() => undefined);
    await nc.close().catch(() => undefined);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchSteady(opts: { fobs: number; edges?: number; quick: boolean }, progress: (s: string) => void): Promise<SteadyResult> {
  const store = postgresBinDir() ? 'postgres' : 'sqlite';
  // At most EDGE_FOBS_MAX connections an edge (bench/cluster-bench.ts says why), at least 2.
  const edges = opts.edges ?? Math.max(2, Math.ceil(opts.fobs / EDGE_FOBS_MAX));
  const lingerDefault = CLUSTER_DEFAULTS.edge_batch_linger_ms;
  const windows = opts.quick ? 1 : 3;
  const seconds = opts.quick ? 10 : 30;
  const runs: SteadyRun[] = [];
  for (const lingerMs of [0, lingerDefault]) runs.push(await steadyRun(opts.fobs, edges, store, lingerMs, windows, seconds, progress));
  return { at: new Date().toISOString(), fobs: opts.fobs, edges, workers: 2, store, heartbeatsPerS: Math.round(opts.fobs / (HB_INTERVAL_MS / 1000)), runs };
}

/** The result as a markdown table, one row a window. */
export function steadyTable(r: SteadyResult, file: string): string {
  const kinds: ProcessKind[] = ['nats', 'edge', 'worker', 'postgres', 'load', 'other'];
  const head = `\`npm run bench -- --only steady --fobs ${r.fobs}\` on ${r.at.slice(0, 10)}: ${r.edges} edges, ${r.workers} workers, 3 NATS nodes, ${r.store}; ${r.heartbeatsPerS} QoS 0 heartbeats/s; cores used per kind of process (bench/proc-cpu.ts). Raw figures: \`${file}\`.\n\n`;
  const rows = r.runs.flatMap((run) =>
    run.windows.map((w, i) => `| ${run.lingerMs} ms | ${i + 1} | ${kinds.map((k) => (w.cores[k] ?? 0).toFixed(2)).join(' | ')} | **${w.totalCores.toFixed(2)}** | ${w.streamMessagesPerS} | ${w.bulkBacklog[0]} -> ${w.bulkBacklog[1]} | ${w.loadAverage} |`),
  );
  return head + `| edge_batch_linger_ms | window | ${kinds.join(' | ')} | all | stream messages/s | bulk backlog | load average |\n| --- | --- | ${kinds.map(() => '---').join(' | ')} | --- | --- | --- | --- |\n` + rows.join('\n') + '\n';
}

export async function steadyMain(o: { fobs: number; edges?: number; quick: boolean; out: string }): Promise<number> {
  const started = Date.now();
  const progress = (s: string): void => {
    process.stderr.write(`[${Math.round((Date.now() - started) / 1000)}s] ${s}\n`);
  };
  const result = await benchSteady(o, progress);
  mkdirSync(o.out, { recursive: true });
  const file = `${o.out}/steady-${result.at.slice(0, 19).replace(/:/g, '-')}.json`;
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(steadyTable(result, file) + `\nresults: ${file}\n`);
  return 0;
}
