/**
 * 4b. Catch-up after a restart (issue 17 item 4): a hub starts on a database with 10,000 overdue
 *     escalation steps, and fobs press SOS while it works through them. Measured: press -> PUBACK
 *     (durable) and press -> application ack at the fob, and /healthz's answer time, each while the
 *     catch-up still has steps left (the run says how many were left at the last ack).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hub } from '../hub/hub.js';
import { parseConfig } from '../hub/config/load-config.js';
import { silentLogger } from '../hub/logger.js';
import { SqliteStore } from '../hub/store/sqlite-store.js';
import { addDevice } from '../hub/admin/admin-service.js';
import { makeEventId } from '../shared/protocol-core.js';
import { connectFob } from '../test/helpers/mqtt-fob.js';
import { seedOverdueSteps } from '../test/helpers/overdue-steps.js';
import { summarise, type LatencySummary } from './stats.js';

export interface CatchUpResult {
  steps: number;
  presses: number;
  puback: LatencySummary;
  ack: LatencySummary;
  healthz: LatencySummary;
  /** Overdue steps still left when the last SOS was acked (> 0: every press was measured during the catch-up). */
  leftAtLastAck: number;
}

export async function benchCatchUp(steps: number, presses: number, progress: (s: string) => void): Promise<CatchUpResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-bench-catchup-'));
  try {
    progress(`catch-up: writing ${steps} overdue escalation steps`);
    const dbPath = join(dir, 'lonewatch.db');
    const now = Date.now();
    await seedOverdueSteps(dbPath, steps, now);
    const setup = new SqliteStore(dbPath);
    const secrets: string[] = [];
    for (let i = 0; i < presses; i++) secrets.push((await addDevice(setup, `fob-${i}`, { workerId: 'w-load', now })).secret);
    await setup.close();

    progress('catch-up: starting the hub and pressing SOS');
    const config = parseConfig({ hub: { data_dir: dir }, mqtt: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, log: { level: 'silent' } }, 'bench');
    const hub = await Hub.start({ config, log: silentLogger });
    const pubacks: number[] = [];
    const acks: number[] = [];
    const health: number[] = [];
    let leftAtLastAck = 0;
    try {
      for (let i = 0; i < presses; i++) {
        const h0 = performance.now();
        await fetch(`http://127.0.0.1:${hub.httpPort}/healthz`).then((r) => r.json());
        health.push(performance.now() - h0);
        const fob = await connectFob(`mqtt://127.0.0.1:${hub.mqttPort}`, `fob-${i}`, secrets[i]);
        const id = makeEventId(1, 1);
        const t0 = performance.now();
        const acked = fob.waitFor((c) => c.k === 'ack' && c.i === id, 30_000);
        await fob.send({ i: id, k: 'sos', ag: 0 });
        pubacks.push(performance.now() - t0);
        await acked;
        acks.push(performance.now() - t0);
        leftAtLastAck = hub.runtime.overdueSteps;
        await fob.close();
      }
    } finally {
      await hub.stop();
    }
    const round = (xs: number[]) => xs.map((x) => Math.round(x * 10) / 10);
    return { steps, presses, puback: summarise(round(pubacks)), ack: summarise(round(acks)), healthz: summarise(round(health)), leftAtLastAck };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
