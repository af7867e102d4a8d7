/**
 * Where the CPU goes in the cluster bench's ingest flood (issue 19, "cluster ingest at least
 * Mosquitto's"; docs/cluster.md "Batch envelopes"): the cluster of `cluster up` on the SQLite file
 * without its HTTP node, 1,000 fobs (half per edge, one load process each, as bench/cluster-bench.ts
 * floods) publishing QoS 1 heartbeats back to back for `seconds`, then the same generator (two load
 * processes, as bench/ingest-bench.ts) against Mosquitto. Prints msg/s, the stream's message count,
 * and the CPU each edge, NATS server and load process used in the window (/proc/<pid>/stat), so a
 * load generator at the limit shows. With LW_PROFILE_DIR set, each edge runs with `--cpu-prof` and
 * writes a .cpuprofile there when it exits (the cluster is stopped with SIGTERM, so they do; Node
 * refuses --cpu-prof in NODE_OPTIONS). Not part of `npm run bench`.
 *
 *   LW_PROFILE_DIR=/tmp/prof npx tsx bench/edge-flood-profile.ts [seconds]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { LocalCluster } from '../hub/cluster/cluster-up.js';
import { LoadPool } from './load/load-pool.js';
import { BENCH_SECRET, mosquittoAvailable, seedHubDatabase, startMosquitto } from './servers.js';

const seconds = Number(process.argv[2] ?? 10);
const TICKS_PER_S = 100; // Linux USER_HZ (proc(5): utime and stime are in clock ticks)

/** CPU seconds a process has used (user + system), or NaN when it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

/** Floods for `seconds` and says what each named process used of a core meanwhile. */
async function window(pools: LoadPool[], procs: Record<string, number>): Promise<{ msgPerS: number[]; cores: string }> {
  const before = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuSeconds(pid)]));
  for (const p of pools) p.measure();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const reports = await Promise.all(pools.map((p) => p.report()));
  const wall = (Date.now() - t0) / 1000;
  const cores = Object.entries(procs)
    .map(([k, pid]) => `${k} ${((cpuSeconds(pid) - before[k]!) / wall).toFixed(2)}`)
    .join(', ');
  return { msgPerS: reports.map((r) => Math.round((r.acked / r.elapsedMs) * 1000)), cores };
}

const profileDir = process.env.LW_PROFILE_DIR;
const dir = mkdtempSync(join(tmpdir(), 'lonewatch-edge-profile-'));
const cluster = await LocalCluster.start({ dir, store: 'sqlite', httpNode: false, logLevel: 'warn', ...(profileDir ? { nodeArgs: { edge: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } } : {}) });
const nc = await connect({ servers: cluster.nats.urls, user: cluster.nats.user, pass: cluster.nats.password });
const ids = await seedHubDatabase(join(dir, 'data'), 1000, 'pf');
const devices = ids.map((id) => ({ id, password: BENCH_SECRET }));
try {
  const urls = cluster.edges.map((e) => `mqtt://${e.host}:${e.port}`);
  const pools: LoadPool[] = [];
  for (let e = 0; e < urls.length; e++) {
    pools.push((await LoadPool.start({ url: urls[e]!, devices: devices.filter((_, i) => i % urls.length === e), processes: 1, mode: 'flood', hbIntervalMs: 0, sosPerSecond: 0, rampConcurrency: 100, subscribe: false })).pool);
  }
  await new Promise((r) => setTimeout(r, 1000));
  const procs: Record<string, number> = {};
  for (const n of cluster.nodes) if (n.proc?.pid) procs[n.id] = n.proc.pid;
  for (const n of cluster.nats.nodes) if (n.proc?.pid) procs[n.name] = n.proc.pid;
  pools.forEach((p, i) => (procs[`load-${i + 1}`] = p.pids[0]!));
  const jsm = await jetstreamManager(nc);
  const before = (await jsm.streams.info('LW_IN')).state.last_seq;
  const w = await window(pools, procs);
  const after = (await jsm.streams.info('LW_IN')).state.last_seq;
  process.stdout.write(`cluster: ingest ${w.msgPerS.reduce((a, b) => a + b, 0)} msg/s (per edge ${w.msgPerS.join(' / ')}), ${after - before} stream messages in ${seconds} s; cores used: ${w.cores}; load ${loadavg()[0]!.toFixed(1)}\n`);
  for (const p of pools) await p.stop();
} finally {
  await nc.close();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
if (mosquittoAvailable()) {
  const m = await startMosquitto();
  try {
    const { pool } = await LoadPool.start({ url: m.url, devices, processes: 2, mode: 'flood', hbIntervalMs: 0, sosPerSecond: 0, rampConcurrency: 100, subscribe: false });
    await new Promise((r) => setTimeout(r, 1000));
    const w = await window([pool], { mosquitto: m.pid, 'load-1': pool.pids[0]!, 'load-2': pool.pids[1]! });
    process.stdout.write(`mosquitto: ingest ${w.msgPerS[0]} msg/s; cores used: ${w.cores}; load ${loadavg()[0]!.toFixed(1)}\n`);
    await pool.stop();
  } finally {
    await m.stop();
  }
}
