/**
 * The cluster bench's section of docs/benchmarks.md (`npm run bench -- --only cluster`), between its
 * own markers so the full report (report.ts) keeps it and a cluster run changes nothing else.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ClusterResult, ClusterSosWindow } from './cluster-bench.js';
import type { IngestResult } from './ingest-bench.js';
import { coresNote, describeCores } from './proc-cpu.js';
import type { LatencyResult } from './latency-bench.js';
import type { IdleResult } from './idle/idle-bench.js';

export const CLUSTER_START = '<!-- cluster:start (written by `npm run bench -- --only cluster`; npm run bench keeps it) -->';
export const CLUSTER_END = '<!-- cluster:end -->';

export interface ClusterRun {
  date: string;
  cluster: ClusterResult;
  /** The single-process hub and Mosquitto, same run: ingest at 1,000 fobs, SOS at the cluster's fleet (capped by the open-files limit). */
  ingest: IngestResult | null;
  hub: LatencyResult | null;
  idle: IdleResult | null;
}

const n = (x: number): string => x.toLocaleString('en-GB');
const ms = (x: number): string => (Number.isFinite(x) ? `${x} ms` : 'n/a');
const backlog = (w: ClusterSosWindow): string =>
  w.backlog ? `; left for the workers after it: ${n(w.backlog.bulk)} heartbeats/presence, ${n(w.backlog.ordered)} events` : w.backlog === null ? '; backlog not read (JetStream did not answer)' : '';
/** Press -> the duty officer's live stream, where the run measured it (runs before 2026-12-03 did not). */
const dashboard = (w: ClusterSosWindow, node: string | undefined): string =>
  w.dashboard && node
    ? w.dashboard.count > 0
      ? `; press -> dashboard live event on ${node}'s stream p50 ${ms(w.dashboard.p50)}, p99 ${ms(w.dashboard.p99)}, max ${ms(w.dashboard.max)} (${n(w.dashboard.count)} presses of the first edge's SOS fobs)`
      : `; press -> dashboard live event: **none of the first edge's presses came on ${node}'s stream**`
    : '';
const win = (w: ClusterSosWindow, node?: string): string =>
  `press -> ack p50 ${ms(w.ack.p50)}, p99 ${ms(w.ack.p99)}, max ${ms(w.ack.max)}; press -> PUBACK p99 ${ms(w.puback.p99)} (${n(w.pressed)} presses, ${n(w.ack.count)} acked, **${n(w.unacked)} not acked**)${dashboard(w, node)}${backlog(w)}`;

export function clusterSection(r: ClusterRun, resultsFile: string): string {
  const c = r.cluster;
  const rows: [string, string, string][] = [
    [`SOS press -> ack, cluster, ${n(c.connected)} fobs`, win(c.steady, c.dashboardNode), `p99 < 100 ms at 50,000: ${c.fobs >= 50_000 ? (c.steady.ack.p99 < 100 ? 'met' : 'NOT met') : `not measured (${n(c.fobs)} fobs)`}`],
    [`SOS during kill -9 of edge-2 (its SOS fobs fail over to edge-1)`, win(c.edgeKilled, c.dashboardNode), `max < 5 s: ${c.edgeKilled.ack.max < 5000 && c.edgeKilled.unacked === 0 ? 'met' : 'NOT met'}`],
    [`SOS during kill -9 of worker-1 (ack_wait_ms ${n(c.ackWaitMs)})`, win(c.workerKilled, c.dashboardNode), `max < 5 s: ${c.workerKilled.ack.max < 5000 && c.workerKilled.unacked === 0 ? 'met' : 'NOT met'}`],
    [`ingest, cluster, ${n(c.ingest.fobs)} fobs over ${c.edgeCount} edges`, c.ingest.notMeasured ? `not measured: ${c.ingest.notMeasured}` : `${n(c.ingest.msgPerS)} msg/s (QoS 1 heartbeats, PUBACK after JetStream's ack${c.ingest.connected ? `; fobs connected per edge ${c.ingest.connected.join(' / ')}` : ''}${c.ingest.streamMessages !== undefined && Number.isFinite(c.ingest.streamMessages) ? `; ${n(c.ingest.streamMessages)} stream messages in the window` : ''}${c.ingest.loadAverage !== undefined ? `; load ${c.ingest.loadAverage}` : ''}${c.ingest.cores ? `; cores used: ${describeCores(c.ingest.cores)}` : ''})`, r.ingest?.mosquitto && !c.ingest.notMeasured ? `>= Mosquitto: ${c.ingest.msgPerS >= r.ingest.mosquitto.msgPerS ? 'met' : 'NOT met'}` : ''],
    ...c.edges.map((e): [string, string, string] => [`${e.id} memory per connected fob`, `${e.rssPerConnKb} KB RSS (${e.rssMb} MB holding ${n(e.fobs)} fobs)`, '']),
  ];
  if (r.ingest) {
    rows.push([`ingest, single hub, ${n(r.ingest.fobs)} fobs`, `${n(r.ingest.lonewatch.msgPerS)} msg/s${coresNote(r.ingest.lonewatch.cores)}`, '']);
    rows.push([`ingest, Mosquitto, ${n(r.ingest.fobs)} fobs`, r.ingest.mosquitto ? `${n(r.ingest.mosquitto.msgPerS)} msg/s${coresNote(r.ingest.mosquitto.cores)}` : 'n/a (not installed)', '']);
  }
  if (r.hub) rows.push([`SOS press -> ack, single hub, ${n(r.hub.connected)} fobs`, `p50 ${ms(r.hub.ack.p50)}, p99 ${ms(r.hub.ack.p99)}, max ${ms(r.hub.ack.max)}; hub ${r.hub.rssPerFobKb} KB RSS per fob`, '']);
  if (r.idle) rows.push([`idle fob connection, edge broker alone (${n(r.idle.measuredConnections)} measured)`, `${r.idle.heapPerConnKb} KB heap, ${r.idle.rssPerConnKb} KB RSS`, `<= 8 KB: ${r.idle.rssPerConnKb <= 8 ? 'met' : 'NOT met'} (RSS)`]);
  const stages = stageRows(c);
  return [
    CLUSTER_START,
    '## The cluster',
    '',
    `\`npm run bench -- --only cluster --fobs ${c.fobs}\` on ${r.date.slice(0, 10)}, store **${c.store === 'postgres' ? 'PostgreSQL' : 'SQLite (one file every node opens; PostgreSQL was not used)'}**, load average ${c.loadAverage} on 2 cores when the fleet was connected. Raw figures: \`${resultsFile}\`.`,
    `Three NATS nodes, ${c.edgeCount} edges, ${c.workerCount} workers, each its own process; ${n(c.connected)} of ${n(c.fobs)} fobs connected (${n(c.connectFailures)} failed) in ${c.connectSeconds} s from ${c.loadProcesses} load processes, spread evenly over the edges, heartbeating every 30 s; ${c.drain.drained ? `the workers had the bulk backlog (the fleet's presence and first heartbeats) down to ${n(c.drain.bulkLeft ?? 0)} ${c.drain.seconds} s later, and the steady window began then` : `the bulk backlog had **not drained** after ${c.drain.seconds} s (${c.drain.bulkLeft === null ? 'not read' : n(c.drain.bulkLeft)} left), and the steady window began with it`}; 100 more fobs press SOS at ${c.sosPerSecond}/s for ${c.steady.seconds} s per window, each window followed by 8 s without presses for late acks.`,
    '',
    '| measure | value | target |',
    '| --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    ...(stages.length
      ? [
          "Where an SOS's time went inside each worker (its `GET /timings`, hub/cluster/lane-timings.ts), p50 / p99 in ms over the ordered-lane messages of the window; the last columns are the bulk lane's transactions, what an SOS may find holding the store, and the share of the window the worker's store writer was busy (transactions ending in the window count whole, so it can pass 100 %):",
          '',
          '| window | worker | edge -> worker | store queue | transaction (commit) | statements | retries | ingest | ackAck | bulk transaction | writer busy |',
          '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
          ...stages,
          '',
        ]
      : []),
    'What these figures show, and what is not yet understood: docs/cluster.md, "The cluster benchmark".',
    '',
    'The cluster ingest figure is with the edges putting heartbeats on the stream in batch envelopes (one JetStream publish for what arrived while earlier ones were in flight, or within the 20 ms linger of the edge when none was; a PUBACK still waits for the ack of the envelope holding it): docs/cluster.md, "Batch envelopes".',
    '',
    CLUSTER_END,
  ].join('\n');
}

const pp = (p: { p50: number; p99: number; count: number }): string => (p.count ? `${p.p50} / ${p.p99}` : 'n/a');

/** One row per window and worker of the workers' own stage times. */
function stageRows(c: ClusterResult): string[] {
  const windows: [string, ClusterSosWindow][] = [
    ['steady', c.steady],
    ['edge-2 killed', c.edgeKilled],
    ['worker-1 killed', c.workerKilled],
  ];
  return windows.flatMap(([name, w]) =>
    (w.workers ?? []).map((wk) => {
      const t = wk.timings;
      if (!t) return `| ${name} | ${wk.id} | not answered (killed) | | | | | | | | |`;
      const o = t.ordered;
      return `| ${name} | ${wk.id} (${n(o.queueMs.count)} messages) | ${pp(o.queueMs)} | ${pp(o.lockWaitMs)} | ${pp(o.txMs)} (${pp(o.commitMs)}) | ${pp(o.statements)} | ${o.retries.max} at most | ${pp(o.ingestMs)} | ${pp(o.ackAckMs)} | ${pp(t.bulk.txMs)} (${n(t.bulk.txMs.count)}) | ${wk.writerBusy === null ? 'n/a' : `${Math.round(wk.writerBusy * 100)} %`} |`;
    }),
  );
}

/** The cluster section of a document, or ''. */
export function currentClusterSection(doc: string): string {
  const a = doc.indexOf(CLUSTER_START);
  const b = doc.indexOf(CLUSTER_END);
  return a === -1 || b === -1 ? '' : doc.slice(a, b + CLUSTER_END.length);
}

/** Puts the section into docs/benchmarks.md: in place of the old one, or before the fuzz section, or at the end. */
export function writeClusterSection(path: string, section: string): void {
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const old = currentClusterSection(doc);
  let next: string;
  if (old) next = doc.replace(old, section);
  else {
    const fuzz = doc.indexOf('<!-- fuzz:start');
    next = fuzz === -1 ? `${doc.replace(/\n*$/, '\n\n')}${section}\n` : `${doc.slice(0, fuzz)}${section}\n\n${doc.slice(fuzz)}`;
  }
  writeFileSync(path, next);
}
