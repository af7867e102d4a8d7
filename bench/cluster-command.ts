/**
 * `npm run bench -- --only cluster [--fobs n]` (and `--only idle`): the cluster bench, with the
 * single-process hub and Mosquitto measured beside it in the same run, and the idle-connection figure
 * of the edge's broker; writes bench/results/cluster-<date>.json and the cluster section of
 * docs/benchmarks.md (nothing else in it).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { benchCluster } from './cluster-bench.js';
import { benchIngest } from './ingest-bench.js';
import { benchFleet } from './latency-bench.js';
import { benchIdleConnections } from './idle/idle-bench.js';
import { clusterSection, writeClusterSection, type ClusterRun } from './cluster-report.js';
import { ensureMosquitto } from './servers.js';

export async function clusterMain(o: { fobs: number; quick: boolean; cluster: boolean; sqlite: boolean; out: string; fdLimit: number; edges?: number; workers?: number }): Promise<number> {
  const started = Date.now();
  const progress = (s: string): void => {
    process.stderr.write(`[${Math.round((Date.now() - started) / 1000)}s] ${s}\n`);
  };
  const seconds = o.quick ? 5 : 15;
  const date = new Date().toISOString();
  const idle = await benchIdleConnections(Math.min(Math.max(o.fobs, 5000), 18_000), progress);
  progress(`idle connection on the edge broker: ${idle.heapPerConnKb} KB heap, ${idle.rssPerConnKb} KB RSS`);
  if (!o.cluster) {
    process.stdout.write(JSON.stringify(idle, null, 2) + '\n');
    return 0;
  }
  const cluster = await benchCluster(o.fobs, { seconds, sosPerSecond: 10, ...(o.sqlite ? { store: 'sqlite' as const } : {}), ...(o.edges ? { edges: o.edges } : {}), ...(o.workers ? { workers: o.workers } : {}) }, progress);
  // Kept at once: the rest of the run (Mosquitto, the single hub's fleet) has hung or failed before,
  // and the cluster's figures, minutes in the making, went with it. The full file replaces it below.
  mkdirSync(o.out, { recursive: true });
  const stem = `${o.out}/cluster-${date.slice(0, 19).replace(/:/g, '-')}`;
  const partial = `${stem}.partial.json`;
  writeFileSync(partial, JSON.stringify({ date, cluster, idle, complete: false }, null, 2) + '\n');
  progress(`cluster: its figures are in ${partial} (the single hub and Mosquitto come next)`);
  ensureMosquitto(progress);
  const ingest = await benchIngest(1000, o.quick ? 4 : 10, progress);
  // One hub process holds at most (open-file limit - a few) sockets: the single hub's fleet is capped there.
  const [hub] = await benchFleet([Math.min(o.fobs, o.fdLimit - 600)], { seconds, sosPerSecond: 10, hbIntervalMs: 30_000 }, progress);
  const run: ClusterRun = { date, cluster, ingest, hub: hub ?? null, idle };
  const file = `${stem}.json`;
  writeFileSync(file, JSON.stringify(run, null, 2) + '\n');
  rmSync(partial, { force: true });
  const section = clusterSection(run, file);
  writeClusterSection('docs/benchmarks.md', section);
  process.stdout.write(section + `\nresults: ${file}\nreport:  docs/benchmarks.md (cluster section)\n`);
  return 0;
}
