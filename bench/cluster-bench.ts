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
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
import { PostgresStore } from '../hub/store/postgres-store.js';
import { SqliteStore } from '../hub/store/sqlite-store.js';
import { LoadPool, type PoolReport } from './load/load-pool.js';
import { BENCH_SECRET, benchApiToken, seedHubDatabase } from './servers.js';
import { summarise, type LatencySummary } from './stats.js';
import { cpuWindow, type CoresByKind } from './proc-cpu.js';
import type { LaneTimings } from '../hub/cluster/lane-timings.js';
import type { WriteStats } from '../hub/store/tx-timing.js';

export type LaneSummary = ReturnType<LaneTimings['summary']> & { writes: WriteStats | null; at: number };

export interface ClusterSosWindow {
  seconds: number;
  pressed: number;
  puback: LatencySummary;
  ack: LatencySummary;
  /** Presses with no application ack by the end of the window and its grace period. */
  unacked: number;
  /**
   * Press -> the `alarm` event on a duty officer's live stream (GET /api/events, as the dashboard
   * opens it) on `ClusterResult.dashboardNode`, a worker never killed, whichever worker handled the
   * SOS (the change feed, LISTEN/NOTIFY on PostgreSQL). Only the presses of the first edge's SOS
   * fobs (the load process holding the stream matches alarms to its own presses).
   */
  dashboard?: LatencySummary;
  /**
   * Messages the workers had not yet acked at the end of the grace period (num_pending +
   * num_ack_pending): the bulk lane's consumer (heartbeats, status, presence) and the partition
   * consumers together (events, positions). A bulk backlog that grows from window to window means
   * the workers do not keep up with the heartbeats (docs/cluster.md "Alarms ahead of bulk traffic").
   */
  backlog: { bulk: number; ordered: number } | null;
  /**
   * Each worker's own stage times over the window's messages (its GET /timings,
   * hub/cluster/lane-timings.ts): where an SOS's time went inside the cluster. null for a worker
   * that did not answer (the one killed).
   */
  workers: { id: string; timings: LaneSummary | null; writerBusy: number | null; otherBusy: number | null; otherTransactions: number | null }[];
  /** The due work in the shared store after the window (PostgreSQL only): rows by kind, and how many were due already. */
  dueWork: { kind: string; rows: number; overdue: number }[] | null;
}

export interface ClusterResult {
  fobs: number;
  store: 'postgres' | 'sqlite';
  /** Edges and workers the cluster ran (`--edges`, `--workers`; edges chosen for the fleet when not given). */
  edgeCount: number;
  workerCount: number;
  connected: number;
  connectFailures: number;
  loadProcesses: number;
  /** From the first CONNECT to the whole fleet connected and subscribed, s. */
  connectSeconds: number;
  /**
   * After the fleet connected: how long the workers took to work off the bulk backlog (the fleet's
   * presence and heartbeats) before the steady window began, and what was left when it began
   * (`drained` false: the wait gave up after DRAIN_MAX_S and the window ran with it).
   */
  drain: { seconds: number; drained: boolean; bulkLeft: number | null };
  sosPerSecond: number;
  steady: ClusterSosWindow;
  /** connected: flood fobs that connected, per edge; envelopes: JetStream messages the flood's heartbeats took (the stream's count before and after). */
  /** `notMeasured`: why the flood did not run (a node not restarted in time); the windows above still stand. */
  ingest: { fobs: number; seconds: number; msgPerS: number; connected: number[]; streamMessages: number; loadAverage: number; notMeasured?: string; cores?: CoresByKind };
  edges: { id: string; fobs: number; rssMb: number; rssPerConnKb: number }[];
  edgeKilled: ClusterSosWindow;
  workerKilled: ClusterSosWindow;
  ackWaitMs: number;
  /** The node whose live stream the dashboard figure reads (ClusterSosWindow.dashboard). */
  dashboardNode?: string;
  /** 1-minute load average when the fleet was connected (the machine is shared). */
  loadAverage: number;
}

/** Connections per load-generator process: well inside the 20,000 open-files limit of a process. */
const PER_PROCESS = 9_000;
/**
 * Most fob connections one edge is given: each is one file descriptor, and a process may hold at
 * most 20,000 here (hard limit); the rest is the edge's own (NATS, the store's pool, HTTP, logs).
 */
export const EDGE_FOBS_MAX = 18_000;
/**
 * CONNECTs in flight at once over the whole fleet: each costs its edge a scrypt check (about 3 ms,
 * hub/device-secrets.ts) and a presence message on the bulk lane, so the fleet is brought up at
 * what the edges can check rather than all at once (issue 19: the connect must not drown the SOS
 * measurement; the steady window only starts once the backlog drained, below).
 */
const CONNECTS_IN_FLIGHT = 200;
/** The longest the bench waits for the bulk backlog to drain before the steady window. */
const DRAIN_MAX_S = 300;
/** The wait gives up sooner when the backlog has not come below its lowest for this long: the workers do not keep up. */
const DRAIN_STALL_S = 45;
/** Bulk messages still waiting that count as drained: the fleet's heartbeats of DRAIN_SLACK_S. */
const DRAIN_SLACK_S = 2;
/** How often the backlog is read while waiting for it to drain. */
const DRAIN_POLL_MS = 2000;
export const SOS_FOBS = 100;
export const FLOOD_FOBS = 1000;
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

/** The fobs an edge says it holds, or null when it does not answer within 30 s (an edge busy with 17,000 connections at 50,000 fobs took longer than 5 s). */
async function connectedFobs(n: ClusterNode): Promise<number | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${n.httpPort}/healthz`, { signal: AbortSignal.timeout(30_000) });
    return ((await r.json()) as { connectedFobs: number }).connectedFobs;
  } catch {
    return null;
  }
}

/** Registers the bench's fobs in the cluster's PostgreSQL (one secret hash, as seedHubDatabase does). */
export async function seedPostgres(url: string, count: number, prefix: string): Promise<string[]> {
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

/** The shared store's due work now, by kind (PostgreSQL), or null. */
async function dueWorkOf(url: string | null): Promise<ClusterSosWindow['dueWork']> {
  if (!url) return null;
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const r = await client.query<{ kind: string; rows: string; overdue: string }>('SELECT kind, count(*) AS rows, count(*) FILTER (WHERE due_at <= $1) AS overdue FROM due_work GROUP BY kind ORDER BY kind', [Date.now()]);
    return r.rows.map((x) => ({ kind: x.kind, rows: Number(x.rows), overdue: Number(x.overdue) }));
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function window(reports: PoolReport[], seconds: number, backlog: ClusterSosWindow['backlog'], workers: ClusterSosWindow['workers'], dueWork: ClusterSosWindow['dueWork']): ClusterSosWindow {
  const pubackMs = reports.flatMap((r) => r.pubackMs);
  const ackMs = reports.flatMap((r) => r.ackMs);
  const pressed = reports.reduce((a, r) => a + r.sosSent, 0);
  const dashboard = summarise(reports.flatMap((r) => r.sseMs ?? []));
  return { seconds, pressed, puback: summarise(pubackMs), ack: summarise(ackMs), unacked: pressed - ackMs.length, dashboard, backlog, workers, dueWork };
}

/** A worker's stage times since `since` (epoch ms), or null when it does not answer. */
async function timingsOf(n: ClusterNode, since: number): Promise<LaneSummary | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${n.httpPort}/timings?since=${since}`, { signal: AbortSignal.timeout(5000) });
    return r.ok ? ((await r.json()) as LaneSummary) : null;
  } catch {
    return null;
  }
}

/** The messages the stream holds now (its last sequence: none are deleted in a run), or NaN when JetStream does not answer. */
export async function streamMessages(nc: NatsConnection, stream: string): Promise<number> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    return (await jsm.streams.info(stream)).state.last_seq;
  } catch {
    return Number.NaN;
  }
}

/** The workers' backlog on the stream now, or null when JetStream does not answer (a node just killed). */
export async function backlogOf(nc: NatsConnection, stream: string, consumer: string, partitions: number): Promise<ClusterSosWindow['backlog']> {
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

/** The local ephemeral port range's size: how many connections one source address may open to one edge. */
function ephemeralPorts(): number {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return hi! - lo! + 1;
  } catch {
    return 28_000;
  }
}

/** Raised when the asked-for cluster cannot hold the fleet on this machine: says what to change. */
export class ClusterBenchError extends Error {
  override name = 'ClusterBenchError';
}

/**
 * How many edges a fleet of `total` connections needs: at least 2 (the edge-kill window kills
 * edge-2), and enough that none holds more than EDGE_FOBS_MAX, nor more than the ephemeral ports one
 * loopback source address has towards one edge port. A given `edges` too few for that is refused.
 */
export function edgesFor(total: number, given: number | undefined, ports = ephemeralPorts()): number {
  const perEdge = Math.min(EDGE_FOBS_MAX, ports - 1000);
  const needed = Math.max(2, Math.ceil(total / perEdge));
  if (given === undefined) return needed;
  if (!Number.isInteger(given) || given < 2) throw new ClusterBenchError(`--edges must be a whole number of at least 2 (the edge-kill window kills edge-2), not ${given}`);
  if (given < needed) throw new ClusterBenchError(`--edges ${given} is too few for ${total} connections: each edge may hold at most ${perEdge} (20,000 open files a process, ${ports} ephemeral ports); give at least --edges ${needed}, or leave it out`);
  return given;
}

export async function benchCluster(fobs: number, opts: { seconds: number; sosPerSecond: number; store?: 'postgres' | 'sqlite'; edges?: number; workers?: number }, progress: (s: string) => void): Promise<ClusterResult> {
  const store = opts.store ?? (postgresBinDir() ? 'postgres' : 'sqlite');
  const edgeCount = edgesFor(fobs + SOS_FOBS + FLOOD_FOBS, opts.edges);
  const workerCount = opts.workers ?? 2;
  if (!Number.isInteger(workerCount) || workerCount < 2) throw new ClusterBenchError(`--workers must be a whole number of at least 2 (the worker-kill window kills worker-1 and needs another), not ${opts.workers}`);
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-bench-cluster-'));
  progress(`cluster: starting 3 NATS nodes, ${workerCount} workers, ${edgeCount} edges on ${store}`);
  const cluster = await LocalCluster.start({ dir, store, httpNode: false, logLevel: 'warn', edges: edgeCount, workers: workerCount });
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

    // The idle fleet, spread evenly over the edges, PER_PROCESS connections per load process at most,
    // every edge's share connecting at once with CONNECTS_IN_FLIGHT over the whole fleet.
    const shares = edges.map((_, e) => half(fleetIds, e));
    const processesOf = shares.map((mine) => Math.max(1, Math.ceil(mine.length / PER_PROCESS)));
    const loadProcesses = processesOf.reduce((a, b) => a + b, 0);
    const perProcess = Math.max(5, Math.ceil(CONNECTS_IN_FLIGHT / loadProcesses));
    const progressOf = new Array<number>(edges.length).fill(0);
    const connectStarted = Date.now();
    const fleet = await Promise.all(
      shares.map((mine, e) =>
        LoadPool.start({
          url: urls[e]!,
          devices: mine.map((id) => ({ id, password: BENCH_SECRET })),
          processes: processesOf[e]!,
          mode: 'steady',
          hbIntervalMs: 30_000,
          sosPerSecond: 0,
          rampConcurrency: perProcess,
          subscribe: true,
          onProgress: (n) => {
            progressOf[e] = n;
            progress(`cluster: ${progressOf.reduce((a, b) => a + b, 0)}/${fobs} fobs connected`);
          },
        }),
      ),
    );
    const connectSeconds = Math.round((Date.now() - connectStarted) / 100) / 10;
    for (const f of fleet) pools.push(f.pool);
    const connected = fleet.reduce((a, f) => a + f.connected, 0);
    const connectFailures = fleet.reduce((a, f) => a + f.connectFailures, 0);
    progress(`cluster: ${connected} fobs connected in ${connectSeconds} s (${connectFailures} failed), ${loadProcesses} load processes`);
    await sleep(2000);
    const edgeRows = await Promise.all(
      edges.map(async (e, i) => {
        // Unanswered: the fobs its load processes connected to it (its share of the fleet, less failures not told apart).
        const held = (await connectedFobs(e)) ?? fleet[i]!.connected;
        const rss = rssOf(e.proc?.pid);
        return { id: e.id, fobs: held, rssMb: Math.round(rss / 1e6), rssPerConnKb: Math.round(((rss - baseRss[i]!) / Math.max(1, held) / 1024) * 10) / 10 };
      }),
    );
    const load = loadAverage();

    // The fleet's presence (one per CONNECT) and first heartbeats are on the bulk lane: the steady
    // window starts once the workers have worked them off, down to DRAIN_SLACK_S of heartbeats, so
    // it measures the fleet's steady state and not its arrival.
    const drainStarted = Date.now();
    const drainedBelow = Math.max(50, Math.ceil((fobs / 30) * DRAIN_SLACK_S));
    let bulkLeft: number | null = null;
    let drained = false;
    let lowest = Infinity;
    let lowestAt = Date.now();
    while (Date.now() - drainStarted < DRAIN_MAX_S * 1000 && Date.now() - lowestAt < DRAIN_STALL_S * 1000) {
      const b = await backlogOf(nc, 'LW_IN', 'lw-workers', 16);
      bulkLeft = b?.bulk ?? null;
      if (b && b.bulk <= drainedBelow && b.ordered === 0) {
        drained = true;
        break;
      }
      if (b && b.bulk < lowest) {
        lowest = b.bulk;
        lowestAt = Date.now();
      }
      progress(`cluster: waiting for the workers to drain the bulk backlog: ${bulkLeft ?? '?'} heartbeats/presence left (drained at ${drainedBelow})`);
      await sleep(DRAIN_POLL_MS);
    }
    const drain = { seconds: Math.round((Date.now() - drainStarted) / 100) / 10, drained, bulkLeft };
    progress(`cluster: bulk backlog ${drained ? 'drained' : 'NOT drained'} after ${drain.seconds} s (${bulkLeft ?? '?'} left)`);

    // SOS fobs: half on each edge, each able to fail over to the other. The first edge's load process
    // also holds a duty officer's live stream on the last worker (never killed in a window).
    const apiToken = await benchApiToken(cluster.postgres ? await PostgresStore.open(cluster.postgres.url, { poolMax: 1 }) : new SqliteStore(join(dir, 'data', 'lonewatch.db')));
    const dashboardNode = cluster.nodes.filter((n) => n.role === 'worker').at(-1)!;
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
        ...(e === 0 ? { dashboard: { httpUrl: cluster.webUrl(dashboardNode), token: apiToken } } : {}),
      });
      sosPools.push(p.pool);
      pools.push(p.pool);
    }
    const measureWindow = async (what: string, seconds: number, during?: () => Promise<void>): Promise<ClusterSosWindow> => {
      for (const p of sosPools) p.measure();
      const since = Date.now();
      const workerNodes = cluster.nodes.filter((n) => n.role === 'worker');
      const before = await Promise.all(workerNodes.map((w) => timingsOf(w, since)));
      for (let s = 0; s < seconds; s++) {
        if (s === 2 && during) await during();
        await sleep(1000);
        progress(`cluster: ${what}, SOS at ${opts.sosPerSecond}/s, ${s + 1}/${seconds} s`);
      }
      // The presses stop at the window's end; the grace lets their acks (late ones after a kill) in.
      for (const p of sosPools) p.pause();
      await sleep(GRACE_MS);
      // The cluster's defaults (cluster up does not set them): stream LW_IN, consumer lw-workers, 16 partitions.
      const workers = await Promise.all(
        workerNodes.map(async (w, i) => {
          const timings = await timingsOf(w, since);
          const a = before[i]?.writes;
          const b = timings?.writes;
          // The share of the window (and its grace) this worker's store writer was busy.
          const span = timings && before[i] ? timings.at - before[i]!.at : 0;
          const share = (x: number): number => Math.round((x / span) * 100) / 100;
          const writerBusy = a && b && span > 0 ? share(b.busyMs - a.busyMs) : null;
          // Neither lane's transactions (due-work steps and the like): what else holds the writer.
          const otherBusy = a && b && span > 0 ? share(b.untimedBusyMs - a.untimedBusyMs) : null;
          const otherTransactions = a && b ? b.untimedTransactions - a.untimedTransactions : null;
          return { id: w.id, timings, writerBusy, otherBusy, otherTransactions };
        }),
      );
      return window(await Promise.all(sosPools.map((p) => p.report())), seconds, await backlogOf(nc, 'LW_IN', 'lw-workers', 16), workers, await dueWorkOf(cluster.postgres?.url ?? null));
    };
    const steady = await measureWindow(`${connected} fobs connected`, opts.seconds);

    const edgeKilled = await measureWindow('edge-2 killed (-9)', opts.seconds, () => cluster.kill('edge-2'));
    const workerKilled = await measureWindow('worker-1 killed (-9)', opts.seconds, () => cluster.kill('worker-1'));
    // Ingest last: 1,000 fobs flooding QoS 1 heartbeats, half on each edge. The edges PUBACK once
    // JetStream holds a message, faster than the workers store them, so the flood leaves a backlog on
    // the shared consumer that an SOS would queue behind; nothing is measured after it.
    // The kills above leave edge-2 and worker-1 down: started again first, so the flood has both
    // edges (runs before this one sent half of it to the dead edge-2: none of those fobs connected).
    // A failed restart or flood costs only the ingest figure, not the windows measured above (at
    // 50,000 fobs a restarted worker was once not ready within 90 s, and the whole run was lost).
    const floodIngest = async (): Promise<ClusterResult['ingest']> => {
      progress('cluster: restarting edge-2 and worker-1 for the ingest flood');
      await cluster.restart('edge-2');
      await cluster.restart('worker-1');
      progress('cluster: ingest flood');
      const floods: LoadPool[] = [];
      const floodConnected: number[] = [];
      try {
        for (let e = 0; e < edges.length; e++) {
          const f = await LoadPool.start({ url: urls[e], devices: half(floodIds, e).map((id) => ({ id, password: BENCH_SECRET })), processes: 1, mode: 'flood', hbIntervalMs: 0, sosPerSecond: 0, rampConcurrency: 100, subscribe: false });
          floods.push(f.pool);
          floodConnected.push(f.connected);
        }
        await sleep(1000);
        const streamBefore = await streamMessages(nc, 'LW_IN');
        for (const f of floods) f.measure();
        const floodSeconds = Math.min(10, opts.seconds);
        const cpu = cpuWindow();
        await sleep(floodSeconds * 1000);
        // What each kind of process used meanwhile (the fleet's load processes are idle in it): whether the generator or the cluster was the bound.
        const cores = cpu.end();
        const floodReports = await Promise.all(floods.map((f) => f.report()));
        const streamAfter = await streamMessages(nc, 'LW_IN');
        const floodLoad = loadAverage();
        const msgPerS = Math.round(floodReports.reduce((a, r) => a + (r.acked / r.elapsedMs) * 1000, 0));
        progress(`cluster: ingest ${msgPerS} msg/s, fobs connected per edge ${floodConnected.join('/')}, ${streamAfter - streamBefore} stream messages in the window, load ${floodLoad}`);
        return { fobs: FLOOD_FOBS, seconds: floodSeconds, msgPerS, connected: floodConnected, streamMessages: streamAfter - streamBefore, loadAverage: floodLoad, cores };
      } finally {
        for (const f of floods) await f.stop().catch(() => undefined);
      }
    };
    let ingest: ClusterResult['ingest'];
    try {
      ingest = await floodIngest();
    } catch (err) {
      const why = (err as Error).message;
      progress(`cluster: ingest NOT measured: ${why}`);
      ingest = { fobs: FLOOD_FOBS, seconds: 0, msgPerS: Number.NaN, connected: [], streamMessages: Number.NaN, loadAverage: loadAverage(), notMeasured: why };
    }

    return {
      fobs,
      store: cluster.postgres ? 'postgres' : 'sqlite',
      edgeCount,
      workerCount,
      connected,
      connectFailures,
      loadProcesses,
      connectSeconds,
      drain,
      sosPerSecond: opts.sosPerSecond,
      steady,
      ingest,
      edges: edgeRows,
      edgeKilled,
      workerKilled,
      ackWaitMs: ACK_WAIT_MS,
      dashboardNode: dashboardNode.id,
      loadAverage: load,
    };
  } finally {
    await nc.close().catch(() => undefined);
    for (const p of pools) await p.stop().catch(() => undefined);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
