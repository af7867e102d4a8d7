/**
 * 1. Ingest throughput: N fobs publishing QoS 1 heartbeats as fast as they are acknowledged, against
 *    the Lonewatch hub (rules and database on) and against Mosquitto, same generator, same machine.
 */
import { LoadPool } from './load/load-pool.js';
import { BENCH_SECRET, mosquittoAvailable, startHub, startMosquitto, type RunningServer } from './servers.js';
import { cpuWindow, type CoresByKind } from './proc-cpu.js';

export interface IngestResult {
  fobs: number;
  seconds: number;
  /** cores: what each kind of process used of the machine in the window (bench/proc-cpu.ts): the server's against the load generator's. */
  lonewatch: { msgPerS: number; connected: number; rssMb: number; cores?: CoresByKind };
  mosquitto: { msgPerS: number; connected: number; rssMb: number; cores?: CoresByKind } | null;
  /** lonewatch / mosquitto */
  ratio: number | null;
}

async function flood(server: RunningServer, ids: string[], seconds: number, subscribe: boolean, progress: (s: string) => void) {
  const { pool, connected } = await LoadPool.start({
    url: server.url,
    devices: ids.map((id) => ({ id, password: BENCH_SECRET })),
    processes: 2,
    mode: 'flood',
    hbIntervalMs: 0,
    sosPerSecond: 0,
    rampConcurrency: 100,
    subscribe,
    onProgress: (n) => progress(`${server.name}: ${n}/${ids.length} connected`),
  });
  try {
    // Warm-up, then measure.
    await new Promise((r) => setTimeout(r, 1000));
    pool.measure();
    const cpu = cpuWindow();
    for (let s = 0; s < seconds; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      progress(`${server.name}: flooding with ${connected} fobs, ${s + 1}/${seconds} s`);
    }
    const cores = cpu.end();
    const report = await pool.report();
    return { msgPerS: Math.round((report.acked / report.elapsedMs) * 1000), connected, rssMb: Math.round(server.rss() / 1e6), cores };
  } finally {
    await pool.stop();
  }
}

export async function benchIngest(fobs: number, seconds: number, progress: (s: string) => void): Promise<IngestResult> {
  const hub = await startHub(fobs);
  let lonewatch;
  try {
    lonewatch = await flood(hub, hub.ids, seconds, false, progress);
  } finally {
    await hub.stop();
  }
  let mosquitto = null;
  if (mosquittoAvailable()) {
    const m = await startMosquitto();
    try {
      mosquitto = await flood(m, hub.ids, seconds, false, progress);
    } finally {
      await m.stop();
    }
  }
  return { fobs, seconds, lonewatch, mosquitto, ratio: mosquitto ? Math.round((lonewatch.msgPerS / mosquitto.msgPerS) * 100) / 100 : null };
}
