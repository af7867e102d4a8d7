/**
 * The cluster benchmark (issue 19, `npm run bench -- --only cluster`): the local cluster of
 * hub/cluster/cluster-up.ts (three NATS nodes with JetStream, two edges, two workers, each its own
 * process; PostgreSQL where Debian's postgresql is installed, else one SQLite file, and the result
 * says which), N idle fobs spread over both edges and over load-generator processes (at most
 * PER_PROCESS connections each, inside the 20,000 open-files limit), then:
 *
 * - SOS press -> PUBACK and press -> application ack at the fob, 100 SOS fobs (half on each edge)
 *   pressing at a steady rate while the fleet heartbeats every 30 s;
 * - ingest (last, see below): 1,000 more fobs (half on each edge) publishing QoS 1 heartbeats back to back, PUBACKs a
 *   second (a PUBACK from an edge means JetStream holds the message on 2 of its 3 replicas);
 * - memory per connection on each edge: its RSS with the fleet connected less its RSS before, over
 *   the fobs it holds (its /healthz `connectedFobs`);
 * - the same SOS latency while edge-2 is killed (-9; its SOS fobs fail over to edge-1, re-sending
 *   what was not PUBACKed), then while worker-1 is killed (what it had pulled is redelivered after
 *   `ack_wait_ms`, the cluster's default). Presses never acknowledged are counted, not dropped.
 *   The SOS fobs keep each SOS until its application ack and send it again when their link comes
 *   back, as the firmware does (bench/load/load-fob.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { LocalCluster, type ClusterNode } from '../hub/cluster/cluster-up.js';
import { parseConfig } from '../hub/config/load-config.js';
import { postgresBinDir } from '../hub/cluster/postgres-local.js';
import { bulkConsumer } from '../hub/cluster/lanes.js';
import { partitionConsumer } from '../hub/cluster/partition.js';
import { hashSecret } from '../hub/device-secrets.js';
import { LoadPool, type PoolReport } from './load/load-pool.js';
import { BENCH_SECRET, seedHubDatabase } from './servers.js';
import { summarise, type LatencySummary } from './stats.js';

export interface ClusterSosWindow {
  seconds: number;
  pressed: number;
  puback: LatencySummary;
  ack: LatencySummary;
  /** Presses with no application ack by the end of the window and its grace period. */
  unacked: number;
  /**
   * Messages the workers had not yet acked at the end of the grace period (num_pending +
   * num_ack_pending): the bulk lane's consumer (heartbeats, status, presence) and the partition
   * consumers together (events, positions). A bulk backlog that grows from window to window means
   * the workers do not keep up with the heartbeats (docs/cluster.md "Alarms ahead of bulk traffic").
   */
  backlog: { bulk: number; ordered: number } | null;
}

export interface ClusterResult {
  fobs: number;
  store: 'postgres' | 'sqlite';
  connected: number;
  connectFailures: number;
  loadProcesses: number;
  sosPerSecond: number;
  steady: ClusterSosWindow;
  /** connected: flood fobs that connected, per edge; envelopes: JetStream messages the flood's heartbeats took (the stream's count before and after). */
  ingest: { fobs: number; seconds: number; msgPerS: number; connected: number[]; streamMessages: number; loadAverage: number };
  edges: { id: string; fobs: number; rssMb: number; rssPerConnKb: number }[];
  edgeKilled: ClusterSosWindow;
  workerKilled: ClusterSosWindow;
  ackWaitMs: number;
  /** 1-minute load average when the fleet was connected (the machine is shared). */
  loadAverage: number;
}

/** Connections per load-generator process: well inside the 20,000 open-files limit of a process. */
const PER_PROCESS = 9_000;
const SOS_FOBS = 100;
const FLOOD_FOBS = 1000;
/** The cluster's default (`[cluster] ack_wait_ms`, not set here): the worker-kill window measures what a deployment gets. */
const ACK_WAIT_MS = parseConfig({ cluster: { servers: ['nats://127.0.0.1:4222'] } }).cluster!.ack_wait_ms;
/** After a window, how long presses still in flight may take to be acknowledged. */
const GRACE_MS = 8000;

function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  const r = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' });
  return Number(r.stdout.trim()) * 1024 || 0;
}

function loadAverage(): number {
  const r = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' });
  return Number(r.stdout.split(' ')[0]) || 0;
}

async function connectedFobs(n: ClusterNode): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${n.httpPort}/healthz`, { signal: AbortSignal.timeout(5000) });
  return ((await r.json()) as { connectedFobs: number }).connectedFobs;
}

/** Registers the bench's fobs in the cluster's PostgreSQL (one secret hash, as seedHubDatabase does). */
async function seedPostgres(url: string, count: number, prefix: string): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const hash = await hashSecret(BENCH_SECRET);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO workers (id, name) SELECT * FROM unnest($1::text[], $2::text[])', [ids.map((id) => `w-${id}`), ids.map((id) => `Bench worker ${id}`)]);
    await client.query("INSERT INTO devices (id, worker_id, board, secret_hash, created_at) SELECT d, 'w-' || d, 'rak5010', $2, $3 FROM unnest($1::text[]) AS d", [ids, hash, Date.now()]);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return ids;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function window(reports: PoolReport[], seconds: number, backlog: ClusterSosWindow['backlog']): ClusterSosWindow {
  const pubackMs = reports.flatMap((r) => r.pubackMs);
  const ackMs = reports.flatMap((r) => r.ackMs);
  const pressed = reports.reduce((a, r) => a + r.sosSent, 0);
  return { seconds, pressed, puback: summarise(pubackMs), ack: summarise(ackMs), unacked: pressed - ackMs.length, backlog };
}

/** The messages the stream holds now (its last sequence: none are deleted in a run), or NaN when JetStream does not answer. */
async function streamMessages(nc: NatsConnection, stream: string): Promise<number> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    return (await jsm.streams.info(stream)).state.last_seq;
  } catch {
    return Number.NaN;
  }
}

/** The workers' backlog on the stream now, or null when JetStream does not answer (a node just killed). */
async function backlogOf(nc: NatsConnection, stream: string, consumer: string, partitions: number): Promise<ClusterSosWindow['backlog']> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const left = async (name: string): Promise<number> => {
      const i = await jsm.consumers.info(stream, name);
      return i.num_pending + i.num_ack_pending;
    };
    const ordered = await Promise.all(Array.from({ length: partitions }, (_, p) => left(partitionConsumer(consumer, p))));
    return { bulk: await left(bulkConsumer(consumer)), ordered: ordered.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

export async function benchCluster(fobs: number, opts: { seconds: number; sosPerSecond: number; store?: 'postgres' | 'sqlite' }, progress: (s: string) => void): Promise<ClusterResult> {
  const store = opts.store ?? (postgresBinDir() ? 'postgres' : 'sqlite');
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-bench-cluster-'));
  progress(`cluster: starting 3 NATS nodes, 2 workers, 2 edges on ${store}`);
  const cluster = await LocalCluster.start({ dir, store, httpNode: false, logLevel: 'warn' });
  const pools: LoadPool[] = [];
  const nc = await connect({ servers: cluster.nats.urls, user: cluster.nats.user, pass: cluster.nats.password });
  try {
    const total = fobs + SOS_FOBS + FLOOD_FOBS;
    progress(`cluster: registering ${total} fobs`);
    const ids = cluster.postgres ? await seedPostgres(cluster.postgres.url, total, 'cf') : await seedHubDatabase(join(dir, 'data'), total, 'cf');
    const fleetIds = ids.slice(0, fobs);
    const sosIds = ids.slice(fobs, fobs + SOS_FOBS);
    const floodIds = ids.slice(fobs + SOS_FOBS);
    const edges = cluster.nodes.filter((n) => n.role === 'edge');
    const urls = cluster.edges.map((e) => `mqtt://${e.host}:${e.port}`);
    const half = <T>(xs: T[], e: number): T[] => xs.filter((_, i) => i % edges.length === e);
    const baseRss = edges.map((e) => rssOf(e.proc?.pid));

    // The idle fleet: half on each edge, PER_PROCESS connections per load process at most.
    let connected = 0;
    let connectFailures = 0;
    let loadProcesses = 0;
    for (let e = 0; e < edges.length; e++) {
      const mine = half(fleetIds, e);
      const processes = Math.max(1, Math.ceil(mine.length / PER_PROCESS));
      loadProcesses += processes;
      const started = await LoadPool.start({
        url: urls[e],
        devices: mine.map((id) => ({ id, password: BENCH_SECRET })),
        processes,
        mode: 'steady',
        hbIntervalMs: 30_000,
        sosPerSecond: 0,
        rampConcurrency: 100,
        subscribe: true,
        onProgress: (n) => progress(`cluster: ${connected + n}/${fobs} fobs connected`),
      });
      pools.push(started.pool);
      connected += started.connected;
      connectFailures += started.connectFailures;
    }
    await sleep(2000);
    const edgeRows = await Promise.all(
      edges.map(async (e, i) => {
        const held = await connectedFobs(e);
        const rss = rssOf(e.proc?.pid);
        return { id: e.id, fobs: held, rssMb: Math.round(rss / 1e6), rssPerConnKb: Math.round(((rss - baseRss[i]) / Math.max(1, held) / 1024) * 10) / 10 };
      }),
    );
    const load = loadAverage();

    // SOS fobs: half on each edge, each able to fail over to the other.
    const sosPools: LoadPool[] = [];
    for (let e = 0; e < edges.length; e++) {
      const p = await LoadPool.start({
        url: urls[e],
        failover: [urls[e], ...urls.filter((_, j) => j !== e)],
        devices: half(sosIds, e).map((id) => ({ id, password: BENCH_SECRET })),
        processes: 1,
        mode: 'steady',
        hbIntervalMs: 30_000,
        sosPerSecond: opts.sosPerSecond / edges.length,
        rampConcurrency: 25,
        subscribe: true,
      });
      sosPools.push(p.pool);
      pools.push(p.pool);
    }
    const measureWindow = async (what: string, seconds: number, during?: () => Promise<void>): Promise<ClusterSosWindow> => {
      for (const p of sosPools) p.measure();
      for (let s = 0; s < seconds; s++) {
        if (s === 2 && during) await during();
        await sleep(1000);
        progress(`cluster: ${what}, SOS at ${opts.sosPerSecond}/s, ${s + 1}/${seconds} s`);
      }
      // The presses stop at the window's end; the grace lets their acks (late ones after a kill) in.
      for (const p of sosPools) p.pause();
      await sleep(GRACE_MS);
      // The cluster's defaults (cluster up does not set them): stream LW_IN, consumer lw-workers, 16 partitions.
      return window(await Promise.all(sosPools.map((p) => p.report())), seconds, await backlogOf(nc, 'LW_IN', 'lw-workers', 16));
    };
    const steady = await measureWindow(`${connected} fobs connected`, opts.seconds);

    const edgeKilled = await measureWindow('edge-2 killed (-9)', opts.seconds, () => cluster.kill('edge-2'));
    const workerKilled = await measureWindow('worker-1 killed (-9)', opts.seconds, () => cluster.kill('worker-1'));
    // Ingest last: 1,000 fobs flooding QoS 1 heartbeats, half on each edge. The edges PUBACK once
    // JetStream holds a message, faster than the workers store them, so the flood leaves a backlog on
    // the shared consumer that an SOS would queue behind; nothing is measured after it.
    // The kills above leave edge-2 and worker-1 down: started again first, so the flood has both
    // edges (runs before this one sent half of it to the dead edge-2: none of those fobs connected).
    progress('cluster: restarting edge-2 and worker-1 for the ingest flood');
    await cluster.restart('edge-2');
    await cluster.restart('worker-1');
    progress('cluster: ingest flood');
    const floods: LoadPool[] = [];
    const floodConnected: number[] = [];
    for (let e = 0; e < edges.length; e++) {
      const f = await LoadPool.start({ url: urls[e], devices: half(floodIds, e).map((id) => ({ id, password: BENCH_SECRET })), processes: 1, mode: 'flood', hbIntervalMs: 0, sosPerSecond: 0, rampConcurrency: 100, subscribe: false });
      floods.push(f.pool);
      floodConnected.push(f.connected);
    }
    await sleep(1000);
    const streamBefore = await streamMessages(nc, 'LW_IN');
    for (const f of floods) f.measure();
    const floodSeconds = Math.min(10, opts.seconds);
    await sleep(floodSeconds * 1000);
    const floodReports = await Promise.all(floods.map((f) => f.report()));
    const streamAfter = await streamMessages(nc, 'LW_IN');
    const floodLoad = loadAverage();
    for (const f of floods) await f.stop();
    const msgPerS = Math.round(floodReports.reduce((a, r) => a + (r.acked / r.elapsedMs) * 1000, 0));
    progress(`cluster: ingest ${msgPerS} msg/s, fobs connected per edge ${floodConnected.join('/')}, ${streamAfter - streamBefore} stream messages in the window, load ${floodLoad}`);

    return {
      fobs,
      store: cluster.postgres ? 'postgres' : 'sqlite',
      connected,
      connectFailures,
      loadProcesses,
      sosPerSecond: opts.sosPerSecond,
      steady,
      ingest: { fobs: FLOOD_FOBS, seconds: floodSeconds, msgPerS, connected: floodConnected, streamMessages: streamAfter - streamBefore, loadAverage: floodLoad },
      edges: edgeRows,
      edgeKilled,
      workerKilled,
      ackWaitMs: ACK_WAIT_MS,
      loadAverage: load,
    };
  } finally {
    await nc.close().catch(() => undefined);
    for (const p of pools) await p.stop().catch(() => undefined);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
