/**
 * 2. SOS latency under load, and 3. fleet size and memory. Fobs heartbeat every 30 s (QoS 0, as
 *    fobs do) while a separate set of fobs raises SOS at a steady rate; measured: press -> PUBACK
 *    (the alarm is durable in SQLite), press -> the application ack back at the fob, press -> the
 *    live alert a control room receives on MQTT (lw/alerts/#, through a service account), and
 *    press -> the dashboard's live event: the `alarm` server-sent event on GET /api/events arriving
 *    at a signed-in client (a duty officer's API token made for the bench). That event carries only
 *    {alarmId, type}; the client notes when each alarm id is first announced and, after the
 *    measuring window, asks GET /api/alarms/:id (as the dashboard does) which fob and event id the
 *    alarm came from, so the match adds no work to the hub or the client while the figure is taken.
 *    The fleet grows step by step in one hub run, until p99 passes the limit or the last step.
 */
import { CONNECT_ATTEMPTS } from './load/load-protocol.js';
import { LoadPool } from './load/load-pool.js';
import { BENCH_SECRET, BENCH_SERVICE, startHub } from './servers.js';
import { summarise, type LatencySummary } from './stats.js';

export interface LatencyResult {
  fobs: number;
  connected: number;
  sosPerSecond: number;
  seconds: number;
  puback: LatencySummary;
  ack: LatencySummary;
  /** press -> the alert on lw/alerts/# (MQTT service account) */
  liveEvent: LatencySummary;
  /** press -> the dashboard's `alarm` server-sent event (GET /api/events, API token) */
  sseEvent: LatencySummary;
  /** Alarms announced on the SSE stream that matched none of the window's presses (older alarms moving on). */
  sseUnmatched: number;
  rssMb: number;
  rssPerFobKb: number;
  /** Raw press -> ack samples, for the histogram. */
  ackSamples: number[];
}

const SOS_FOBS = 100;

export async function benchFleet(
  steps: number[],
  opts: { seconds: number; sosPerSecond: number; hbIntervalMs: number; stopAboveP99Ms?: number },
  progress: (s: string) => void,
): Promise<LatencyResult[]> {
  const max = Math.max(...steps);
  const hub = await startHub(max + SOS_FOBS);
  const sosIds = hub.ids.slice(max);
  const results: LatencyResult[] = [];
  const pools: LoadPool[] = [];
  let sosPool: LoadPool | null = null;
  let connected = 0;
  try {
    const baseRss = hub.rss();
    for (const target of steps) {
      const ids = hub.ids.slice(connected, target);
      if (ids.length > 0) {
        const started = await LoadPool.start({
          url: hub.url,
          devices: ids.map((id) => ({ id, password: BENCH_SECRET })),
          processes: Math.max(1, Math.min(4, Math.ceil(ids.length / 10_000))),
          mode: 'steady',
          hbIntervalMs: opts.hbIntervalMs,
          sosPerSecond: 0,
          rampConcurrency: 200,
          subscribe: true,
          onProgress: (n) => progress(`fleet: ${connected + n}/${target} fobs connected`),
        });
        pools.push(started.pool);
        connected += started.connected;
        if (started.connectRetries > 0 || started.connectFailures > 0) {
          progress(`fleet: ${connected}/${target} connected; ${started.connectRetries} connection attempts refused or cut before CONNACK and tried again, ${started.connectFailures} fobs given up after ${CONNECT_ATTEMPTS} tries`);
        }
      }
      const fleetRss = hub.rss();
      sosPool = (
        await LoadPool.start({
          url: hub.url,
          devices: sosIds.map((id) => ({ id, password: BENCH_SECRET })),
          processes: 1,
          mode: 'steady',
          hbIntervalMs: opts.hbIntervalMs,
          sosPerSecond: opts.sosPerSecond,
          rampConcurrency: 50,
          subscribe: true,
          alerts: BENCH_SERVICE,
          dashboard: { httpUrl: hub.httpUrl, token: hub.apiToken },
        })
      ).pool;
      sosPool.measure();
      for (let s = 0; s < opts.seconds; s++) {
        await new Promise((r) => setTimeout(r, 1000));
        progress(`fleet of ${connected} fobs: SOS at ${opts.sosPerSecond}/s, ${s + 1}/${opts.seconds} s`);
      }
      const report = await sosPool.report();
      await sosPool.stop();
      sosPool = null;
      const r: LatencyResult = {
        fobs: target,
        connected,
        sosPerSecond: opts.sosPerSecond,
        seconds: opts.seconds,
        puback: summarise(report.pubackMs),
        ack: summarise(report.ackMs),
        liveEvent: summarise(report.liveMs),
        sseEvent: summarise(report.sseMs ?? []),
        sseUnmatched: report.sseUnmatched ?? 0,
        rssMb: Math.round(fleetRss / 1e6),
        rssPerFobKb: Math.round(((fleetRss - baseRss) / Math.max(1, connected) / 1024) * 10) / 10,
        ackSamples: report.ackMs.map((x) => Math.round(x * 100) / 100),
      };
      results.push(r);
      if (opts.stopAboveP99Ms !== undefined && (r.ack.p99 > opts.stopAboveP99Ms || connected < target * 0.95)) break;
    }
  } finally {
    if (sosPool) await sosPool.stop();
    for (const p of pools) await p.stop();
    await hub.stop();
  }
  return results;
}
