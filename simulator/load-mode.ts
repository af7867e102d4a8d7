/**
 * Load mode: N fobs (by default each running the firmware on a simulated board) against a running hub, ramped up with jittered connects, each heartbeating at
 * its interval, with a steady rate of SOS events; reports SOS press -> ack latency, messages per
 * second, connection failures and the hub's memory, then stops by itself.
 *
 * The fobs are registered straight into the hub's database (as `lonewatch devices add` does) under
 * the `sim-` prefix, so a production fleet's ids are never touched.
 */
import { join } from 'node:path';
import { LoadPool } from '../bench/load/load-pool.js';
import { summarise, type LatencySummary } from '../bench/stats.js';
import { hashSecret } from '../hub/device-secrets.js';
import { SqliteStore } from '../hub/store/sqlite-store.js';
import { openConfiguredStore } from '../hub/store/open-store.js';
import type { HubConfig } from '../hub/config/config-schema.js';
import { createApiToken } from '../hub/http/users.js';

export interface LoadOptions {
  devices: number;
  durationS: number;
  hbIntervalS: number;
  sosPerSecond: number;
  checkinsPerSecond: number;
  processes: number;
  /** firmware: each fob runs the emitted Puck.js bundle on a simulated board; wire: bare MQTT clients. */
  fob: 'firmware' | 'wire';
  progress: (line: string) => void;
}

export interface LoadResult {
  devices: number;
  connected: number;
  connectFailures: number;
  durationS: number;
  messagesPerSecond: number;
  sosSent: number;
  sosAcked: number;
  pressToAck: LatencySummary;
  pressToPuback: LatencySummary;
  hubMemoryMb: number | null;
}

const SIM_SECRET = 'simulated-fob-secret';

export async function registerSimFleet(config: HubConfig, n: number): Promise<string[]> {
  const hash = await hashSecret(SIM_SECRET);
  const ids = Array.from({ length: n }, (_, i) => `sim-${i}`);
  if (config.store.postgres_url) {
    // A cluster's PostgreSQL store (docs/cluster.md): through the Store, one transaction.
    const pgStore = await openConfiguredStore(config);
    try {
      await pgStore.transaction(async (tx) => {
        for (const id of ids) {
          if (!(await tx.getWorker(`w-${id}`))) {
            await tx.upsertWorker({ id: `w-${id}`, name: `Simulated worker ${id}`, phone: null, homeAddress: null, medicalNotes: null, car: null, emergencyContacts: null, buddyId: null, lineManagerId: null, trainingDate: null, newStarter: false, description: null });
          }
          if (await tx.getDevice(id)) await tx.updateDevice(id, { secretHash: hash, revokedAt: null });
          else await tx.insertDevice({ id, workerId: `w-${id}`, board: 'rak5010', secretHash: hash, createdAt: Date.now(), revokedAt: null, lastSeenAt: null, battery: null, online: false, firmware: null });
        }
      });
    } finally {
      await pgStore.close();
    }
    return ids;
  }
  const store = new SqliteStore(join(config.hub.data_dir, 'lonewatch.db'));
  const worker = store.db.prepare('INSERT OR IGNORE INTO workers (id, name, new_starter) VALUES (?, ?, 0)');
  const device = store.db.prepare(
    `INSERT INTO devices (id, worker_id, board, secret_hash, created_at, online) VALUES (?, ?, 'rak5010', ?, ?, 0)
     ON CONFLICT(id) DO UPDATE SET secret_hash = excluded.secret_hash, revoked_at = NULL`,
  );
  store.db.transaction(() => {
    for (const id of ids) {
      worker.run(`w-${id}`, `Simulated worker ${id}`);
      device.run(id, `w-${id}`, hash, Date.now());
    }
  })();
  await store.close();
  return ids;
}

/**
 * /metrics needs sign-in (issue 17, item 6): the run mints an API token in the hub's database (as
 * `lonewatch devices add` writes there) and revokes it when the run ends.
 */
async function metricsToken(config: HubConfig): Promise<{ token: string; revoke(): Promise<void> }> {
  const store = await openConfiguredStore(config);
  try {
    const { record, token } = await createApiToken(store, 'lonewatch sim (reads /metrics)', 'duty_officer', 'lonewatch sim', Date.now());
    return {
      token,
      async revoke() {
        const s = await openConfiguredStore(config);
        await s.transaction((tx) => tx.updateApiToken(record.id, { revokedAt: Date.now() })).finally(() => s.close());
      },
    };
  } finally {
    await store.close();
  }
}

async function hubMemory(httpUrl: string, token: string): Promise<number | null> {
  try {
    const m = (await (await fetch(`${httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).json()) as { memory?: { rss?: number } };
    return m.memory?.rss ? Math.round(m.memory.rss / 1e6) : null;
  } catch {
    return null;
  }
}

/** How long the end of a run waits for the acks of the SOS already pressed (a loaded hub can be seconds behind). */
const ACK_GRACE_MS = 30_000;

export async function runLoad(config: HubConfig, opts: LoadOptions): Promise<LoadResult> {
  const host = config.mqtt.host === '0.0.0.0' ? '127.0.0.1' : config.mqtt.host;
  const httpHost = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
  const httpUrl = `http://${httpHost}:${config.http.port}`;
  opts.progress(`registering ${opts.devices} simulated fobs`);
  const ids = await registerSimFleet(config, opts.devices);
  const metrics = await metricsToken(config);
  const { pool, connected, connectFailures } = await LoadPool.start({
    url: `mqtt://${host}:${config.mqtt.port}`,
    devices: ids.map((id) => ({ id, password: SIM_SECRET })),
    processes: opts.processes,
    mode: 'steady',
    hbIntervalMs: opts.hbIntervalS * 1000,
    sosPerSecond: opts.sosPerSecond,
    checkinsPerSecond: opts.checkinsPerSecond,
    rampConcurrency: 100,
    subscribe: true,
    onProgress: (n) => opts.progress(`connecting: ${n}/${opts.devices}`),
    ...(opts.fob === 'firmware' ? { worker: new URL('./load/firmware-load-worker.ts', import.meta.url) } : {}),
  });
  try {
    pool.measure();
    for (let s = 1; s <= opts.durationS; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      if (s % 2 === 0 || s === opts.durationS) {
        const r = await pool.report();
        const mem = await hubMemory(httpUrl, metrics.token);
        const l = summarise(r.ackMs);
        opts.progress(
          `${s}/${opts.durationS} s  fobs ${r.connected}  msg/s ${Math.round((r.published / r.elapsedMs) * 1000)}  SOS ${r.ackMs.length}/${r.sosSent} acked  p99 ${Number.isNaN(l.p99) ? '-' : `${l.p99} ms`}  hub ${mem ?? '?'} MB`,
        );
      }
    }
    // The presses stop at the end of the run; the SOS pressed in its last moments are still on their
    // way (a gesture, the fob's outbox, the hub's rules, the ack back), so the report waits for their
    // acks, up to ACK_GRACE_MS, rather than count them as unanswered. One still unacked after that is
    // reported as such.
    pool.pause();
    const atEnd = await pool.report();
    let r = atEnd;
    const graceEnd = Date.now() + ACK_GRACE_MS;
    while (r.ackMs.length < r.sosSent && Date.now() < graceEnd) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      r = await pool.report();
    }
    return {
      devices: opts.devices,
      connected,
      connectFailures,
      durationS: opts.durationS,
      // The rate over the run itself, not the wait for its last acks.
      messagesPerSecond: Math.round((atEnd.published / atEnd.elapsedMs) * 1000),
      sosSent: r.sosSent,
      sosAcked: r.ackMs.length,
      pressToAck: summarise(r.ackMs),
      pressToPuback: summarise(r.pubackMs),
      hubMemoryMb: await hubMemory(httpUrl, metrics.token),
    };
  } finally {
    await pool.stop();
    await metrics.revoke().catch(() => undefined);
  }
}
