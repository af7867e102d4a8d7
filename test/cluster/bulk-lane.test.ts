// Alarms ahead of bulk traffic (issue 19, docs/cluster.md "Alarms ahead of bulk traffic"), on a real
// three-node nats-server cluster and a real SQLite store, with the messages put straight on the
// stream as an edge puts them (hub/cluster/inbound.ts): with thousands of heartbeats and presence
// messages already waiting, an SOS published after them is stored and acknowledged while the bulk
// consumer still holds some of them; the heartbeats go through in batches, each written once and
// only then acked; and a worker that dies holding a batch it has not committed loses none of it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startNatsCluster, stopNatsClusters, type LocalNatsCluster } from '../helpers/nats-cluster.js';
import { testConfig } from '../helpers/hub-harness.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import type { StoreTx } from '../../hub/store/store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { ClusterWorker } from '../../hub/cluster/worker.js';
import { encodeInbound, inboundSubject, PRESENCE_LEAF } from '../../hub/cluster/inbound.js';
import { bulkConsumer } from '../../hub/cluster/lanes.js';
import { partitionConsumer, partitionOf } from '../../hub/cluster/partition.js';
import { ensureStream } from '../../hub/cluster/nats-connection.js';
import { silentLogger } from '../../hub/logger.js';
import { ManualClock } from '../../hub/clock.js';
import type { ClusterConfig } from '../../hub/config/config-schema.js';

/** The real SQLite store, counting its heartbeat batch writes (StoreTx.recordBeats: one per heartbeat transaction). */
class CountingStore extends SqliteStore {
  heartbeatWrites = 0;
  override transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return super.transaction((tx) =>
      fn({
        ...tx,
        recordBeats: (beats) => {
          this.heartbeatWrites++;
          return tx.recordBeats(beats);
        },
      }),
    );
  }
}

/** Thrown inside the stuck store's first heartbeat transaction: it rolls back, and its caller is left waiting. */
class Stuck extends Error {}

/**
 * The real SQLite store whose first heartbeat transaction never completes until released, and then
 * fails: a worker stuck in (or killed during) a batch's commit, so nothing of that batch is stored.
 * The transaction itself is rolled back at once, so the database file is not held locked meanwhile
 * (the next worker opens the same file); only its caller waits.
 */
class StuckStore extends SqliteStore {
  entered!: Promise<void>;
  private enter!: () => void;
  private fail!: (err: Error) => void;
  private first = true;
  constructor(file: string) {
    super(file);
    this.entered = new Promise((r) => (this.enter = r));
  }
  override transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return super
      .transaction((tx) =>
        fn({
          ...tx,
          recordBeats: (beats) => {
            if (!this.first) return tx.recordBeats(beats);
            this.first = false;
            throw new Stuck('stuck');
          },
        }),
      )
      .catch((err: unknown) => {
        if (!(err instanceof Stuck)) throw err;
        this.enter();
        return new Promise<T>((_, reject) => (this.fail = reject));
      });
  }
  release(): void {
    this.fail?.(new Error('the worker was killed'));
  }
}

const dirs: string[] = [];
const workers: ClusterWorker[] = [];
const stuckStores: StuckStore[] = [];
let nats: LocalNatsCluster;
let nc: NatsConnection;
let jsm: JetStreamManager;
const clock = new ManualClock(Date.parse('2026-03-02T10:00:00Z'));

beforeAll(async () => {
  nats = await startNatsCluster();
  process.env.LW_TEST_NATS_PASSWORD = nats.password;
  nc = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
  jsm = await jetstreamManager(nc);
}, 60_000);

afterAll(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TEST_NATS_PASSWORD;
  // A stuck store holds its worker's stop (it finishes the batch in hand): let it fail first, even
  // when the test did not get that far, so the NATS servers are always stopped.
  for (const s of stuckStores) s.release();
  for (const w of workers) await w.stop().catch(() => undefined);
  await nc?.close();
  await stopNatsClusters();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A config of its own per test (stream, subjects, consumers), on the shared NATS cluster. */
function setup(name: string, cluster: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), `lw-bulk-${name}-`));
  dirs.push(dir);
  const config = testConfig(dir, {
    cluster: { servers: nats.urls, user: nats.user, password_env: 'LW_TEST_NATS_PASSWORD', stream: `LW_${name.toUpperCase()}`, subject_prefix: `lw.${name}`, consumer: `lw-${name}`, ...cluster },
  });
  return { dir, config, cluster: config.cluster! };
}

async function register(store: SqliteStore, ids: string[]): Promise<void> {
  for (const id of ids) await addDevice(store, id, { now: clock.now() });
}

/** Publishes as an edge does (awaiting JetStream's acknowledgement), in stream order. */
async function publish(c: ClusterConfig, messages: { deviceId: string; leaf: string; payload: string; receivedAt: number }[]): Promise<void> {
  const js = jetstream(nc);
  for (let i = 0; i < messages.length; i += 500) {
    // Each chunk in order, awaited before the next: the stream's order is the list's.
    await Promise.all(
      messages.slice(i, i + 500).map((m) => {
        const e = encodeInbound({ deviceId: m.deviceId, leaf: m.leaf, payload: Buffer.from(m.payload), receivedAt: m.receivedAt, edgeId: 'edge-a' });
        return js.publish(inboundSubject(c.subject_prefix, c.partitions, m.deviceId, m.leaf), e.data, { headers: e.headers, timeout: 30_000 });
      }),
    );
  }
}

function heartbeats(devices: string[], count: number, from: number) {
  return Array.from({ length: count }, (_, i) => ({
    deviceId: devices[i % devices.length]!,
    leaf: 'hb',
    payload: JSON.stringify({ n: i, b: 50 + (i % 50), m: 0, u: i }),
    receivedAt: from + i,
  }));
}

/** Each device's last heartbeat in the list: what its row must say once all are stored. */
function lastOf(beats: ReturnType<typeof heartbeats>): Map<string, { at: number; battery: number }> {
  const last = new Map<string, { at: number; battery: number }>();
  for (const b of beats) last.set(b.deviceId, { at: b.receivedAt, battery: (JSON.parse(b.payload) as { b: number }).b });
  return last;
}

async function devicesNow(store: SqliteStore, ids: string[]) {
  return store.read(async (tx) => new Map(await Promise.all(ids.map(async (id) => [id, await tx.getDevice(id)] as const))));
}

describe('the bulk lane', () => {
  it('acknowledges an SOS published behind thousands of heartbeats while they are still pending, and writes them in batches, each acked after it is stored', async () => {
    const { dir, config, cluster } = setup('order', { bulk_batch: 50, ack_wait_ms: 5000 });
    const store = new CountingStore(join(dir, 'lonewatch.db'));
    const fleet = Array.from({ length: 40 }, (_, i) => `hb-${i}`);
    await register(store, ['fob-sos', ...fleet]);
    await ensureStream(jsm, cluster);

    // The backlog, in the order a fleet connecting and heartbeating puts it on the stream: each
    // fob's connect-time presence, then 4,000 heartbeats; then, last, the SOS.
    const base = clock.now();
    const presence = fleet.map((deviceId, i) => ({ deviceId, leaf: PRESENCE_LEAF, payload: '1', receivedAt: base + i }));
    const beats = heartbeats(fleet, 4000, base + 1000);
    await publish(cluster, [...presence, ...beats]);
    const sosAt = base + 10_000;
    await publish(cluster, [{ deviceId: 'fob-sos', leaf: 'ev', payload: JSON.stringify({ i: '1-1', k: 'sos', ag: 0 }), receivedAt: sosAt }]);

    // The moment the application ack goes out: how much of the bulk lane is still waiting.
    const atAck = new Promise<{ pending: number; ackPending: number }>((resolve) => {
      nc.subscribe(`${cluster.command_prefix}.fob-sos`, {
        callback: (_err, msg) => {
          if (!msg.string().includes('"ack"')) return;
          void jsm.consumers.info(cluster.stream, bulkConsumer(cluster.consumer)).then((i) => resolve({ pending: i.num_pending, ackPending: i.num_ack_pending }));
        },
      });
    });
    await nc.flush();
    const worker = await ClusterWorker.start({ config, cluster, store, log: silentLogger, clock, id: 'worker-order', hub: { dispatch: async () => undefined } });
    workers.push(worker);

    const bulkLeft = await atAck;
    // Ordering, not timing: the SOS came after every one of the 4,040 bulk messages on the stream,
    // and was answered before the bulk lane had got through them.
    expect(bulkLeft.pending + bulkLeft.ackPending).toBeGreaterThan(0);
    const alarms = await store.read((tx) => tx.listAlarms({}));
    expect(alarms.map((a) => [a.kind, a.deviceId, a.sourceEventId])).toEqual([['sos', 'fob-sos', '1-1']]);

    // Then every bulk message is stored and acked, in batches of at most 50.
    await expect.poll(() => worker.counters.bulk.handled, { timeout: 60_000, interval: 100 }).toBe(4040);
    const info = await jsm.consumers.info(cluster.stream, bulkConsumer(cluster.consumer));
    expect({ pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered }).toEqual({ pending: 0, ackPending: 0, redelivered: 0 });
    expect(worker.counters.bulk.batches).toBeGreaterThanOrEqual(Math.ceil(4040 / 50));
    // One heartbeat transaction per batch that had heartbeats (the presence-only first batch has
    // none): a batch of 50 is one BULK_CHUNK.
    expect(store.heartbeatWrites).toBeGreaterThanOrEqual(Math.ceil(4000 / 50));
    expect(store.heartbeatWrites).toBeLessThanOrEqual(worker.counters.bulk.batches);
    expect(worker.hub.ingest.counters.heartbeats).toBe(4000);
    const rows = await devicesNow(store, fleet);
    for (const [id, last] of lastOf(beats)) expect({ id, lastSeenAt: rows.get(id)?.lastSeenAt, battery: rows.get(id)?.battery, online: rows.get(id)?.online }).toEqual({ id, lastSeenAt: last.at, battery: last.battery, online: true });
    // The ordered lane handled the SOS and nothing else.
    expect(worker.counters.handled).toBe(1);
  }, 120_000);

  it('loses nothing of a batch whose worker died before committing it: none of it was acked, and the next worker stores it all', async () => {
    // ack_wait 3 s, not less: the dead worker's 50 come back after it, and a batch of the next worker
    // that took longer than it to commit (2 loaded cores: seen at 1.5 s, 69 redelivered, 2026-12-03)
    // would come back as well and the count below would not tell the dead worker's apart.
    const { dir, config, cluster } = setup('kill', { bulk_batch: 50, ack_wait_ms: 3000 });
    const stuck = new StuckStore(join(dir, 'lonewatch.db'));
    stuckStores.push(stuck);
    const fleet = Array.from({ length: 10 }, (_, i) => `hb-${i}`);
    await register(stuck, fleet);
    await ensureStream(jsm, cluster);
    const beats = heartbeats(fleet, 120, clock.now());
    await publish(cluster, beats);

    const dying = await ClusterWorker.start({ config, cluster, store: stuck, log: silentLogger, clock, id: 'worker-dies', hub: { dispatch: async () => undefined } });
    workers.push(dying);
    await stuck.entered;
    // Holding its first batch, uncommitted: not one message of it is acked.
    const held = await jsm.consumers.info(cluster.stream, bulkConsumer(cluster.consumer));
    expect({ ackPending: held.num_ack_pending, ackFloor: held.ack_floor.stream_seq }).toEqual({ ackPending: 50, ackFloor: 0 });
    // Killed, as JetStream sees it: its connection is gone with the batch unacked.
    await dying.nc.close();

    const store = new SqliteStore(join(dir, 'lonewatch.db'));
    const next = await ClusterWorker.start({ config, cluster, store, log: silentLogger, clock, id: 'worker-next', hub: { dispatch: async () => undefined } });
    workers.push(next);
    await expect.poll(() => next.counters.bulk.handled, { timeout: 30_000, interval: 100 }).toBe(120);
    expect(next.counters.bulk.redelivered).toBe(50);
    const info = await jsm.consumers.info(cluster.stream, bulkConsumer(cluster.consumer));
    expect({ pending: info.num_pending, ackPending: info.num_ack_pending }).toEqual({ pending: 0, ackPending: 0 });
    const rows = await devicesNow(store, fleet);
    for (const [id, last] of lastOf(beats)) expect({ id, lastSeenAt: rows.get(id)?.lastSeenAt, battery: rows.get(id)?.battery }).toEqual({ id, lastSeenAt: last.at, battery: last.battery });
    // The dead worker's commit never happens (its store call fails): nothing more is written.
    stuck.release();
    await dying.stop();
    expect(dying.counters.bulk.handled).toBe(0);
  }, 120_000);

  it('stores a heartbeat and a presence an edge from before the lanes put on the partition subject, before acking them', async () => {
    const { dir, config, cluster } = setup('legacy', { ack_wait_ms: 5000 });
    const store = new SqliteStore(join(dir, 'lonewatch.db'));
    await register(store, ['fob-old']);
    await ensureStream(jsm, cluster);
    const p = partitionOf('fob-old', cluster.partitions);
    const at = clock.now();
    const js = jetstream(nc);
    for (const [leaf, payload, receivedAt] of [
      [PRESENCE_LEAF, '1', at],
      ['hb', JSON.stringify({ n: 1, b: 77, m: 0, u: 5 }), at + 30_000],
    ] as const) {
      const e = encodeInbound({ deviceId: 'fob-old', leaf, payload: Buffer.from(payload), receivedAt, edgeId: 'edge-old' });
      // The old layout's subject: `<prefix>.p<partition>.<deviceId>.<leaf>` for every leaf.
      await js.publish(`${cluster.subject_prefix}.p${p}.fob-old.${leaf}`, e.data, { headers: e.headers });
    }
    const worker = await ClusterWorker.start({ config, cluster, store, log: silentLogger, clock, id: 'worker-legacy', hub: { dispatch: async () => undefined } });
    workers.push(worker);
    await expect.poll(() => worker.counters.handled, { timeout: 30_000, interval: 100 }).toBe(2);
    const d = await store.read((tx) => tx.getDevice('fob-old'));
    expect({ online: d?.online, lastSeenAt: d?.lastSeenAt, battery: d?.battery }).toEqual({ online: true, lastSeenAt: at + 30_000, battery: 77 });
    const info = await jsm.consumers.info(cluster.stream, partitionConsumer(cluster.consumer, p));
    expect({ pending: info.num_pending, ackPending: info.num_ack_pending }).toEqual({ pending: 0, ackPending: 0 });
    expect(worker.counters.bulk.handled).toBe(0);
  }, 60_000);
});
