/**
 * Where an edge's CPU goes in the cluster bench's ingest flood (issue 19, "cluster ingest at least
 * Mosquitto's"; docs/cluster.md "Batch envelopes"): the cluster of `cluster up` on the SQLite file
 * without its HTTP node, 1,000 fobs (half per edge, one load process each, as bench/cluster-bench.ts
 * floods) publishing QoS 1 heartbeats back to back for `seconds`; prints msg/s and the stream's
 * message count. With LW_PROFILE_DIR set, each edge runs with `--cpu-prof` and writes a .cpuprofile
 * there when it exits (the cluster is stopped with SIGTERM, so they do; Node refuses --cpu-prof in
 * NODE_OPTIONS). Not part of `npm run bench`.
 *
 *   LW_PROFILE_DIR=/tmp/prof npx tsx bench/edge-flood-profile.ts [seconds]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { LocalCluster } from '../hub/cluster/cluster-up.js';
import { LoadPool } from './load/load-pool.js';
import { BENCH_SECRET, seedHubDatabase } from './servers.js';

const seconds = Number(process.argv[2] ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'lonewatch-edge-profile-'));
const profileDir = process.env.LW_PROFILE_DIR;
const cluster = await LocalCluster.start({ dir, store: 'sqlite', httpNode: false, logLevel: 'warn', ...(profileDir ? { nodeArgs: { edge: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } } : {}) });
const nc = await connect({ servers: cluster.nats.urls, user: cluster.nats.user, pass: cluster.nats.password });
try {
  const ids = await seedHubDatabase(join(dir, 'data'), 1000, 'pf');
  const urls = cluster.edges.map((e) => `mqtt://${e.host}:${e.port}`);
  const pools: LoadPool[] = [];
  for (let e = 0; e < urls.length; e++) {
    const mine = ids.filter((_, i) => i % urls.length === e).map((id) => ({ id, password: BENCH_SECRET }));
    pools.push((await LoadPool.start({ url: urls[e]!, devices: mine, processes: 1, mode: 'flood', hbIntervalMs: 0, sosPerSecond: 0, rampConcurrency: 100, subscribe: false })).pool);
  }
  await new Promise((r) => setTimeout(r, 1000));
  const jsm = await jetstreamManager(nc);
  const before = (await jsm.streams.info('LW_IN')).state.last_seq;
  for (const p of pools) p.measure();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const reports = await Promise.all(pools.map((p) => p.report()));
  const after = (await jsm.streams.info('LW_IN')).state.last_seq;
  const perEdge = reports.map((r) => Math.round((r.acked / r.elapsedMs) * 1000));
  process.stdout.write(`ingest ${perEdge.reduce((a, b) => a + b, 0)} msg/s (per edge ${perEdge.join(' / ')}), ${after - before} stream messages in ${seconds} s\n`);
  for (const p of pools) await p.stop();
} finally {
  await nc.close();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
