/**
 * What a batch of heartbeats costs a cluster worker on PostgreSQL (issue 19, docs/cluster.md
 * "Heartbeat cost on PostgreSQL"): `npm run bench -- --only heartbeats [--quick]`. One hub (the
 * worker's own ingest and rules, no MQTT listener) on a local PostgreSQL 15 (Debian's, started for
 * the run), a fleet registered as the cluster bench registers it (one worker per fob, no check-in
 * state, fobs worn), and batches of 250 heartbeats (the bulk lane's default `bulk_batch`) applied
 * as the worker applies them:
 *
 * - `per-device` is the path before this change, run here by the same calls (FobIngest before
 *   commit 97e4a75): the batch's liveness in one statement, then in transactions of 10 devices each
 *   device's `stepDevice` (its device, health and worker's shift read one by one) and, once a minute
 *   per worker, its `stepWorker` sighting;
 * - `batched, N a transaction` is `FobIngest.recordHeartbeatBatch` now (RulesRuntime.stepHeartbeats).
 *
 * Statements are counted on the store's own pool (every `query` of every pooled connection, BEGIN
 * and COMMIT included), only those the batch itself sends (`countStatements(pool).during`): the
 * hub's own polls in the meantime are left out, not netted by their idle rate. Each mode gets its
 * own fleet, so no mode finds the rows another warmed.
 * Heartbeats/s is one process applying batches back to back on this machine, whose load is given.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hub } from '../hub/hub.js';
import { parseConfig } from '../hub/config/load-config.js';
import { silentLogger } from '../hub/logger.js';
import { ManualClock } from '../hub/clock.js';
import { LocalPostgres } from '../hub/cluster/postgres-local.js';
import { PostgresStore } from '../hub/store/postgres-store.js';
import { countStatements } from '../test/helpers/pg-statement-count.js';

const BATCH = 250;

export interface HeartbeatModeResult {
  mode: string;
  batches: number;
  heartbeats: number;
  /** Statements sent to PostgreSQL per batch of 250 (mean), BEGIN/COMMIT included. */
  statementsPerBatch: number;
  transactionsPerBatch: number;
  heartbeatsPerSecond: number;
  /** The longest one transaction of the batch took: what an SOS in this worker can wait behind. */
  longestTransactionMs: number;
}

export interface HeartbeatBenchResult {
  at: string;
  loadAverage: number[];
  fleetPerMode: number;
  batch: number;
  /** Statements the idle hub sends of its own a second (polls), not included in the counts. */
  idleStatementsPerSecond: number;
  modes: HeartbeatModeResult[];
}


export async function benchHeartbeats(opts: { rounds: number }, progress: (s: string) => void): Promise<HeartbeatBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-bench-hb-'));
  const server = await LocalPostgres.start(join(dir, 'pg'));
  const clock = new ManualClock(Date.parse('2026-12-01T12:00:00Z'));
  const fleetPerMode = opts.rounds * BATCH;
  const modes: { name: string; run: (hub: Hub, beats: Beat[], txMs: number[]) => Promise<void> }[] = [
    { name: 'per-device (before), 10 a transaction', run: (hub, beats, txMs) => perDevice(hub, beats, 10, txMs) },
    { name: 'batched, 10 a transaction', run: (hub, beats, txMs) => batched(hub, beats, 10, txMs) },
    { name: 'batched, 50 a transaction', run: (hub, beats, txMs) => batched(hub, beats, 50, txMs) },
    { name: 'batched, 250 a transaction', run: (hub, beats, txMs) => batched(hub, beats, 250, txMs) },
  ];
  let hub: Hub | null = null;
  try {
    const store = await PostgresStore.open(server.url, { poolMax: 4 });
    const total = fleetPerMode * modes.length;
    progress(`heartbeats: registering ${total} fobs (one worker each, as the cluster bench)`);
    const client = await store.pool.connect();
    try {
      const ids = Array.from({ length: total }, (_, i) => `hb${i}`);
      await client.query('INSERT INTO workers (id, name) SELECT * FROM unnest($1::text[], $2::text[])', [ids.map((id) => `w-${id}`), ids.map((id) => `Bench worker ${id}`)]);
      await client.query("INSERT INTO devices (id, worker_id, board, secret_hash, created_at) SELECT d, 'w-' || d, 'rak5010', 'x', 0 FROM unnest($1::text[]) AS d", [ids]);
    } finally {
      client.release();
    }
    const config = parseConfig(
      { hub: { data_dir: join(dir, 'data'), public_url: 'http://127.0.0.1:8080' }, http: { host: '127.0.0.1', port: 0 }, log: { level: 'silent', pretty: 'never' }, store: { postgres_url: server.url } },
      'bench',
      {},
    );
    hub = await Hub.start({ config, store, clock, log: silentLogger, mqttListen: false, dispatch: async () => undefined });
    const counted = countStatements(store.pool);
    // The hub's own background reads (the change feed's poll, the due-work poll) go through the same
    // pool: counted idle for 2 s, so the figures below can be read net of them.
    const idleFrom = counted.n;
    await new Promise((r) => setTimeout(r, 2000));
    const idlePerSecond = (counted.n - idleFrom) / 2;
    const results: HeartbeatModeResult[] = [];
    for (const [m, mode] of modes.entries()) {
      const txMs: number[] = [];
      const began = performance.now();
      // Only what the batches send (their own async context): the hub's polls meanwhile are not counted.
      let statements = 0;
      for (let r = 0; r < opts.rounds; r++) {
        const beats = Array.from({ length: BATCH }, (_, i) => {
          const id = `hb${m * fleetPerMode + r * BATCH + i}`;
          return { deviceId: id, at: clock.now() + i, battery: 80 };
        });
        statements += await counted.during(() => mode.run(hub!, beats, txMs));
      }
      const seconds = (performance.now() - began) / 1000;
      results.push({
        mode: mode.name,
        batches: opts.rounds,
        heartbeats: opts.rounds * BATCH,
        statementsPerBatch: Math.round((statements / opts.rounds) * 10) / 10,
        transactionsPerBatch: txMs.length / opts.rounds,
        heartbeatsPerSecond: Math.round((opts.rounds * BATCH) / seconds),
        longestTransactionMs: Math.round(Math.max(...txMs)),
      });
      progress(`heartbeats: ${mode.name}: ${results.at(-1)!.statementsPerBatch} statements a batch of ${BATCH}, ${results.at(-1)!.heartbeatsPerSecond} heartbeats/s`);
    }
    return { at: new Date().toISOString(), loadAverage: loadavg().map((x) => Math.round(x * 10) / 10), fleetPerMode, batch: BATCH, idleStatementsPerSecond: idlePerSecond, modes: results };
  } finally {
    await hub?.stop().catch(() => undefined);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Beat {
  deviceId: string;
  at: number;
  battery: number;
}

const timed = async (txMs: number[], fn: () => Promise<unknown>): Promise<void> => {
  const t = performance.now();
  await fn();
  txMs.push(performance.now() - t);
};

/** The worker's path now: FobIngest.recordHeartbeatBatch, `chunk` devices to a transaction. */
async function batched(hub: Hub, beats: Beat[], chunk: number, txMs: number[]): Promise<void> {
  const payloads = beats.map((b) => ({ deviceId: b.deviceId, payload: Buffer.from(JSON.stringify({ n: 1, b: b.battery, m: 1, u: 1 })), receivedAt: b.at }));
  // turn() comes right before each chunk's transaction: the time between two is one transaction.
  let mark: number | null = null;
  await hub.ingest.recordHeartbeatBatch(payloads, {
    chunk,
    turn: async () => {
      const now = performance.now();
      if (mark !== null) txMs.push(now - mark);
      mark = now;
    },
  });
  if (mark !== null) txMs.push(performance.now() - mark);
}

/** The path before this change, by the same calls (see the file's comment). */
async function perDevice(hub: Hub, beats: Beat[], chunk: number, txMs: number[]): Promise<void> {
  const { store, runtime } = hub;
  await timed(txMs, () => store.recordHeartbeats(beats));
  for (let i = 0; i < beats.length; i += chunk) {
    await timed(txMs, () =>
      runtime.run(async (tx, unit) => {
        for (const b of beats.slice(i, i + chunk)) {
          await runtime.stepDevice(tx, unit, b.deviceId, { type: 'heartbeat', battery: b.battery });
          // Worn: the first heartbeat of the minute is the worker's sighting (each fob here is new).
          const workerId = (await tx.getDevice(b.deviceId))?.workerId ?? null;
          if (workerId) await runtime.stepWorker(tx, unit, workerId, { type: 'sighting', kind: 'heartbeat (fob worn)', at: b.at });
        }
      }),
    );
  }
}

export async function heartbeatsMain(o: { quick: boolean; out: string }): Promise<number> {
  const result = await benchHeartbeats({ rounds: o.quick ? 4 : 20 }, (s) => process.stderr.write(`${s}\n`));
  mkdirSync(o.out, { recursive: true });
  const file = join(o.out, `heartbeats-${result.at.replace(/[:.]/g, '-').slice(0, 19)}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`load average ${result.loadAverage.join(', ')}; ${result.fleetPerMode} fobs a mode, batches of ${result.batch}; the idle hub's own polls: ${result.idleStatementsPerSecond} statements/s (left out below)\n`);
  for (const m of result.modes) process.stdout.write(`${m.mode}: ${m.statementsPerBatch} statements and ${m.transactionsPerBatch} transactions a batch, ${m.heartbeatsPerSecond} heartbeats/s, longest transaction ${m.longestTransactionMs} ms\n`);
  process.stdout.write(`written ${file}\n`);
  return 0;
}
