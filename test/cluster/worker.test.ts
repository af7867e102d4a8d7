// A worker on a real NATS cluster and a real SQLite store, with a real edge in front: an SOS a fob
// got a PUBACK for is stored once with the edge's received time, the application ack reaches the
// fob through the edge, a second copy of the same event (the fob resending through another edge) is
// acknowledged again without a second alarm, and a message not from an edge changes nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { startNatsCluster, stopNatsClusters, type LocalNatsCluster } from '../helpers/nats-cluster.js';
import { testConfig } from '../helpers/hub-harness.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { Edge } from '../../hub/cluster/edge.js';
import { ClusterWorker } from '../../hub/cluster/worker.js';
import { encodeInbound, inboundSubject } from '../../hub/cluster/inbound.js';
import { silentLogger } from '../../hub/logger.js';
import { ManualClock } from '../../hub/clock.js';

let nats: LocalNatsCluster;
let edge: Edge;
let worker: ClusterWorker;
let edgeStore: SqliteStore;
let nc: NatsConnection;
let secret: string;
const dir = mkdtempSync(join(tmpdir(), 'lw-worker-'));
const clock = new ManualClock(Date.parse('2026-03-02T10:00:00Z'));
// The worker's clock is a minute on: as if each message had waited that long in the stream.
const workerClock = new ManualClock(clock.now() + 60_000);

beforeAll(async () => {
  nats = await startNatsCluster();
  process.env.LW_TEST_NATS_PASSWORD = nats.password;
  const config = testConfig(dir, { cluster: { servers: nats.urls, user: nats.user, password_env: 'LW_TEST_NATS_PASSWORD', ack_wait_ms: 2000 } });
  // The worker's store is the hub's file; the edge reads the same file through its own connection.
  const workerStore = new SqliteStore(join(dir, 'lonewatch.db'));
  secret = (await addDevice(workerStore, 'fob-1', { now: clock.now() })).secret;
  worker = await ClusterWorker.start({ config, cluster: config.cluster!, store: workerStore, log: silentLogger, clock: workerClock, id: 'worker-a', hub: { dispatch: async () => undefined } });
  edgeStore = new SqliteStore(join(dir, 'lonewatch.db'));
  edge = await Edge.start({ config, cluster: config.cluster!, store: edgeStore, log: silentLogger, clock, id: 'edge-a' });
  nc = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
}, 120_000);

afterAll(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TEST_NATS_PASSWORD;
  await nc?.close();
  await edge?.stop();
  await edgeStore?.close();
  await worker?.stop();
  await stopNatsClusters();
  rmSync(dir, { recursive: true, force: true });
});

const alarms = () => worker.hub.store.read((tx) => tx.listAlarms({}));

describe('worker', () => {
  it('stores a PUBACKed SOS once, acks the fob through the edge, and dedupes a resent copy', async () => {
    const fob = await connectFob(`mqtt://127.0.0.1:${edge.mqttPort}`, 'fob-1', secret);
    const receivedAt = clock.now();
    await fob.send({ i: '1-1', k: 'sos', ag: 3 });
    expect(await fob.waitFor((c) => c.k === 'ack' && c.i === '1-1', 10_000)).toEqual({ k: 'ack', i: '1-1' });
    const [alarm, ...more] = await alarms();
    expect(more).toHaveLength(0);
    expect(alarm).toMatchObject({ kind: 'sos', deviceId: 'fob-1', sourceEventId: '1-1' });
    // The event's times are the edge's reception (less the fob's age for when it happened), not when
    // the worker got to it.
    const row = edgeStore.db.prepare('SELECT received_at, event_at FROM fob_events WHERE device_id = ? AND event_id = ?').get('fob-1', '1-1');
    expect(row).toEqual({ received_at: receivedAt, event_at: receivedAt - 3000 });

    // The same event again, as another edge would stream a resend after a lost PUBACK.
    clock.advance(5000);
    const again = encodeInbound({ deviceId: 'fob-1', leaf: 'ev', payload: Buffer.from(JSON.stringify({ i: '1-1', k: 'sos', ag: 8 })), receivedAt: clock.now(), edgeId: 'edge-b' });
    const before = fob.commands.length;
    await jetstream(nc).publish(inboundSubject('lw.in', 16, 'fob-1', 'ev'), again.data, { headers: again.headers });
    await fob.waitFor((c, i = fob.commands.indexOf(c)) => c.k === 'ack' && c.i === '1-1' && i >= before, 10_000);
    expect(await alarms()).toHaveLength(1);
    expect(await worker.hub.store.read((tx) => tx.countFobEvents('fob-1'))).toBe(1);
    expect(worker.hub.ingest.counters.duplicates).toBe(1);
    await fob.close();
  }, 120_000);

  it('drops (term) a message that is not from an edge, changing nothing', async () => {
    const refused = worker.counters.refused;
    const h = headers();
    h.set('Lw-Device', 'fob-1');
    await jetstream(nc).publish(inboundSubject('lw.in', 16, 'fob-1', 'ev'), JSON.stringify({ i: '1-9', k: 'sos', ag: 0 }), { headers: h });
    for (let i = 0; i < 100 && worker.counters.refused === refused; i++) await new Promise((r) => setTimeout(r, 50));
    expect(worker.counters.refused).toBe(refused + 1);
    expect(await alarms()).toHaveLength(1);
  }, 15_000);

  it('is ready while NATS, JetStream and the store answer', async () => {
    const res = await fetch(`${worker.hub.listeners().http}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ready: true, role: 'worker', id: 'worker-a' });
  });
});
