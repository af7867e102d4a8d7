// A worker that took a message and died before acking it: JetStream offers it again after the
// consumer's AckWait, to the next worker, which stores it once and acks it. The dying worker is a
// bare client on the same durable consumer that pulls the message and never acks (kill -9 of a real
// worker process is in cluster-failover.test.ts); the AckWait is the real server's timer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startNatsCluster, stopNatsClusters } from '../helpers/nats-cluster.js';
import { testConfig } from '../helpers/hub-harness.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { ClusterWorker } from '../../hub/cluster/worker.js';
import { encodeInbound, inboundSubject } from '../../hub/cluster/inbound.js';
import { ensureConsumers, ensureStream } from '../../hub/cluster/nats-connection.js';
import { partitionConsumer, partitionOf } from '../../hub/cluster/partition.js';
import { silentLogger } from '../../hub/logger.js';
import { ManualClock } from '../../hub/clock.js';

const dir = mkdtempSync(join(tmpdir(), 'lw-redelivery-'));
let worker: ClusterWorker | null = null;

afterAll(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TEST_NATS_PASSWORD;
  await worker?.stop();
  await stopNatsClusters();
  rmSync(dir, { recursive: true, force: true });
});

it('redelivers what a dead worker held to the next one, which stores it once and acks it', async () => {
  const nats = await startNatsCluster();
  process.env.LW_TEST_NATS_PASSWORD = nats.password;
  const config = testConfig(dir, { cluster: { servers: nats.urls, user: nats.user, password_env: 'LW_TEST_NATS_PASSWORD', ack_wait_ms: 1500 } });
  const cluster = config.cluster!;
  const clock = new ManualClock(Date.parse('2026-03-02T10:00:00Z'));
  const store = new SqliteStore(join(dir, 'lonewatch.db'));
  await addDevice(store, 'fob-1', { now: clock.now() });

  const nc = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, cluster);
  await ensureConsumers(jsm, cluster);
  const js = jetstream(nc);
  const m = encodeInbound({ deviceId: 'fob-1', leaf: 'ev', payload: Buffer.from(JSON.stringify({ i: '1-1', k: 'sos', ag: 0 })), receivedAt: clock.now(), edgeId: 'edge-a' });
  const subject = inboundSubject('lw.in', cluster.partitions, 'fob-1', 'ev');
  await js.publish(subject, m.data, { headers: m.headers });
  // The worker that dies: takes the message and never acks it.
  // fob-1's partition: its consumer is the only one that offers the message.
  const consumerName = partitionConsumer(cluster.consumer, partitionOf('fob-1', cluster.partitions));
  const consumer = await js.consumers.get(cluster.stream, consumerName);
  const taken = await consumer.next({ expires: 5000 });
  expect(taken?.subject).toBe(subject);
  await nc.close();

  worker = await ClusterWorker.start({ config, cluster, store, log: silentLogger, clock, id: 'worker-b', hub: { dispatch: async () => undefined } });
  for (let i = 0; i < 200 && worker.counters.handled === 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(worker.counters).toMatchObject({ handled: 1, redelivered: 1 });
  const alarms = await store.read((tx) => tx.listAlarms({}));
  expect(alarms.map((a) => [a.deviceId, a.sourceEventId])).toEqual([['fob-1', '1-1']]);
  // Acked: nothing is pending on the consumer any more.
  const nc2 = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
  const info = await (await jetstreamManager(nc2)).consumers.info(cluster.stream, consumerName);
  await nc2.close();
  expect(info.num_ack_pending).toBe(0);
  expect(info.num_pending).toBe(0);
}, 120_000);
