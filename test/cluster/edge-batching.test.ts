// The edge's bulk lane in batch envelopes (issue 19, "cluster ingest at least Mosquitto's";
// hub/cluster/bulk-batcher.ts, bulk-envelope.ts), on a real three-node nats-server cluster with a
// real edge, a real worker and a real SQLite store: many fobs' QoS 1 heartbeats sent at once are
// all PUBACKed and all stored, dated by the edge, in fewer JetStream messages than heartbeats (the
// stream's own count); and with JetStream's quorum lost a QoS 1 heartbeat gets no PUBACK (the fob's
// connection is dropped), so a PUBACK still means JetStream holds it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsCluster, stopNatsClusters, type LocalNatsCluster } from '../helpers/nats-cluster.js';
import { testConfig } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { Edge } from '../../hub/cluster/edge.js';
import { ClusterWorker } from '../../hub/cluster/worker.js';
import { silentLogger } from '../../hub/logger.js';
import { ManualClock } from '../../hub/clock.js';

const FOBS = 60;
const BEATS_EACH = 5;

let nats: LocalNatsCluster;
let edge: Edge;
let worker: ClusterWorker;
let edgeStore: SqliteStore;
let workerStore: SqliteStore;
let nc: NatsConnection;
const secrets = new Map<string, string>();
const fobs: TestFob[] = [];
const dir = mkdtempSync(join(tmpdir(), 'lw-edge-batching-'));
const clock = new ManualClock(Date.parse('2026-03-02T10:00:00Z'));
const ids = Array.from({ length: FOBS }, (_, i) => `fob-${i}`);

beforeAll(async () => {
  nats = await startNatsCluster();
  process.env.LW_TEST_NATS_PASSWORD = nats.password;
  // bulk_batch 40: a worker's commit takes at most 40 records, so the envelopes are split over commits.
  const config = testConfig(dir, { cluster: { servers: nats.urls, user: nats.user, password_env: 'LW_TEST_NATS_PASSWORD', publish_timeout_ms: 1000, bulk_batch: 40 } });
  workerStore = new SqliteStore(join(dir, 'lonewatch.db'));
  for (const id of ids) secrets.set(id, (await addDevice(workerStore, id, { now: clock.now() })).secret);
  worker = await ClusterWorker.start({ config, cluster: config.cluster!, store: workerStore, log: silentLogger, clock, id: 'worker-a', hub: { dispatch: async () => undefined } });
  edgeStore = new SqliteStore(join(dir, 'lonewatch.db'));
  edge = await Edge.start({ config, cluster: config.cluster!, store: edgeStore, log: silentLogger, clock, id: 'edge-a' });
  nc = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
}, 120_000);

afterAll(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TEST_NATS_PASSWORD;
  for (const f of fobs) await f.close().catch(() => undefined);
  await nc?.close();
  await edge?.stop();
  await edgeStore?.close();
  await worker?.stop();
  await stopNatsClusters();
  rmSync(dir, { recursive: true, force: true });
});

const streamMessages = async () => (await (await jetstreamManager(nc)).streams.info('LW_IN')).state.messages;

describe('edge batching of the bulk lane', () => {
  it('stores every PUBACKed heartbeat of many fobs, sent at once, in fewer JetStream messages than heartbeats', async () => {
    for (const id of ids) fobs.push(await connectFob(`mqtt://127.0.0.1:${edge.mqttPort}`, id, secrets.get(id)!, { subscribe: false }));
    // The connections' presence records are on the stream (each is batched too) before counting.
    await expect.poll(() => edge.bulk!.stats().records, { timeout: 30_000, interval: 50 }).toBe(FOBS);
    await expect.poll(() => worker.counters.bulk.handled, { timeout: 30_000, interval: 50 }).toBe(FOBS);
    const before = await streamMessages();
    const beatsBefore = edge.bulk!.stats().records;

    clock.advance(60_000);
    const sentAt = clock.now();
    // Every fob's heartbeats at once, QoS 1: each resolves at its PUBACK. Battery 40 + the beat's number.
    await Promise.all(fobs.flatMap((f) => Array.from({ length: BEATS_EACH }, (_, k) => f.client.publishAsync(`lw/${f.deviceId}/hb`, JSON.stringify({ n: k, b: 40 + k, m: 1, u: 10 }), { qos: 1 }))));
    const beats = FOBS * BEATS_EACH;
    expect(edge.bulk!.stats().records - beatsBefore).toBe(beats);

    // Fewer stream messages than heartbeats: they went in envelopes (the stream's own count).
    const taken = (await streamMessages()) - before;
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThan(beats);
    expect(edge.bulk!.stats().batches).toBeLessThan(FOBS + beats);

    // Every heartbeat is stored: each device seen at the edge's received time, with a battery it sent.
    await expect.poll(() => worker.counters.bulk.handled, { timeout: 60_000, interval: 100 }).toBe(FOBS + beats);
    expect(worker.counters.bulk.envelopes).toBeGreaterThan(0);
    expect(worker.counters.bulk.refused).toBe(0);
    for (const id of ids) {
      const d = await workerStore.read((tx) => tx.getDevice(id));
      expect(d?.lastSeenAt).toBe(sentAt);
      expect(d?.battery).toBeGreaterThanOrEqual(40);
      expect(d?.battery).toBeLessThan(40 + BEATS_EACH);
    }
    // bulk_batch 40 records a commit: at least this many commits for the whole lot.
    expect(worker.counters.bulk.batches).toBeGreaterThanOrEqual(Math.ceil((FOBS + beats) / 40));
    // Nothing left unacked on the bulk consumer.
    const info = await (await jetstreamManager(nc)).consumers.info('LW_IN', 'lw-workers-bulk');
    expect(info.num_pending + info.num_ack_pending).toBe(0);
  }, 120_000);

  it('gives a QoS 1 heartbeat no PUBACK while JetStream cannot acknowledge it', async () => {
    const fob = fobs[0]!;
    const failedBefore = edge.bulk!.stats().failedBatches;
    await nats.kill(1);
    await nats.kill(2);
    const dropped = new Promise<'dropped'>((r) => fob.client.once('close', () => r('dropped')));
    const puback = fob.client.publishAsync(`lw/${fob.deviceId}/hb`, JSON.stringify({ n: 9, b: 90, m: 1, u: 10 }), { qos: 1 }).then(() => 'puback' as const);
    expect(await Promise.race([puback, dropped])).toBe('dropped');
    expect(edge.bulk!.stats().failedBatches).toBeGreaterThan(failedBefore);
    expect(edge.counters.streamFailed).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
