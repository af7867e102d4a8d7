// The JetStream primitive the cluster's per-device order rests on (docs/cluster.md, "Order per
// device"), on a real three-node nats-server cluster: a partition's consumer (max_ack_pending 1)
// hands its next message to no client, whichever asks, while one is delivered and not acked; a
// nak'd message comes back before the next one; another partition is not held up; and a consumer
// made with another layout is refused, naming it. The two "workers" are bare clients on the
// consumers, so that what each is handed can be seen; the real workers are in cluster-order.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { startNatsCluster, stopNatsClusters, type LocalNatsCluster } from '../helpers/nats-cluster.js';
import { testConfig } from '../helpers/hub-harness.js';
import { encodeInbound, inboundSubject } from '../../hub/cluster/inbound.js';
import { ClusterConfigError, ensureConsumers, ensureStream } from '../../hub/cluster/nats-connection.js';
import { partitionConsumer, partitionOf } from '../../hub/cluster/partition.js';
import { bulkConsumer, bulkMaxAckPending } from '../../hub/cluster/lanes.js';
import type { ClusterConfig } from '../../hub/config/config-schema.js';

const dir = mkdtempSync(join(tmpdir(), 'lw-partitions-'));
let nats: LocalNatsCluster;
let a: NatsConnection;
let b: NatsConnection;
let cluster: ClusterConfig;

beforeAll(async () => {
  nats = await startNatsCluster();
  cluster = testConfig(dir, { cluster: { servers: nats.urls, partitions: 4, ack_wait_ms: 30_000 } }).cluster!;
  a = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
  b = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
  const jsm = await jetstreamManager(a);
  await ensureStream(jsm, cluster);
  await ensureConsumers(jsm, cluster);
}, 120_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await stopNatsClusters();
  rmSync(dir, { recursive: true, force: true });
});

async function publish(js: JetStreamClient, deviceId: string, eventId: string): Promise<void> {
  const m = encodeInbound({ deviceId, leaf: 'ev', payload: Buffer.from(JSON.stringify({ i: eventId, k: 'sos', ag: 0 })), receivedAt: 1, edgeId: 'edge-t' });
  await js.publish(inboundSubject(cluster.subject_prefix, cluster.partitions, deviceId, 'ev'), m.data, { headers: m.headers });
}

const eventOf = (m: { data: Uint8Array } | null): string | null => (m ? (JSON.parse(Buffer.from(m.data).toString()) as { i: string }).i : null);

it('hands out one message of a partition at a time across clients, a nak before the next, other partitions free', async () => {
  // Two devices in one partition, a third in another (found, not assumed: the hash decides).
  const p = partitionOf('fob-a', cluster.partitions);
  const same = Array.from({ length: 200 }, (_, i) => `fob-${i}`).find((d) => d !== 'fob-a' && partitionOf(d, cluster.partitions) === p)!;
  const other = Array.from({ length: 200 }, (_, i) => `dev-${i}`).find((d) => partitionOf(d, cluster.partitions) !== p)!;
  const js = jetstream(a);
  await publish(js, 'fob-a', '1-1');
  await publish(js, same, '1-1');
  await publish(js, 'fob-a', '1-2');
  await publish(js, other, '1-1');

  const consumerA = await jetstream(a).consumers.get(cluster.stream, partitionConsumer(cluster.consumer, p));
  const consumerB = await jetstream(b).consumers.get(cluster.stream, partitionConsumer(cluster.consumer, p));
  const first = await consumerA.next({ expires: 5000 });
  expect(eventOf(first)).toBe('1-1');
  expect(first!.headers!.get('Lw-Device')).toBe('fob-a');
  // The second worker asks while the first holds fob-a's SOS: nothing, although two more wait.
  expect(await consumerB.next({ expires: 1500 })).toBeNull();
  // Another partition is not held up by it.
  const elsewhere = await (await jetstream(b).consumers.get(cluster.stream, partitionConsumer(cluster.consumer, partitionOf(other, cluster.partitions)))).next({ expires: 5000 });
  expect(elsewhere?.headers?.get('Lw-Device')).toBe(other);
  elsewhere!.ack();

  // The first could not store it (nak, as the worker does when the store fails): it comes back,
  // to whichever asks, before the partition's next message.
  first!.nak(300);
  const again = await consumerB.next({ expires: 5000 });
  expect(again?.headers?.get('Lw-Device')).toBe('fob-a');
  expect(eventOf(again)).toBe('1-1');
  expect(again!.info.deliveryCount).toBe(2);
  expect(await again!.ackAck()).toBe(true);

  // Then the rest, in the order the stream stored them, each only after the one before was acked.
  const order: string[] = [];
  for (const c of [consumerA, consumerB]) {
    const m = await c.next({ expires: 5000 });
    order.push(`${m!.headers!.get('Lw-Device')}/${eventOf(m)}`);
    expect(await m!.ackAck()).toBe(true);
  }
  expect(order).toEqual([`${same}/1-1`, 'fob-a/1-2']);
  const info = await (await jetstreamManager(a)).consumers.info(cluster.stream, partitionConsumer(cluster.consumer, p));
  expect(info).toMatchObject({ num_pending: 0, num_ack_pending: 0 });
  expect(info.config.max_ack_pending).toBe(1);
}, 120_000);

it('refuses to start on consumers made with another layout, naming the consumer and what to do', async () => {
  const jsm = await jetstreamManager(a);
  const other = { ...cluster, subject_prefix: 'lw.other' };
  const err = await ensureConsumers(jsm, other).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ClusterConfigError);
  expect((err as Error).message).toMatch(/consumer LW_IN\/lw-workers-p\d exists with filter lw\.in\.p\d\.> .*not lw\.other\.p\d\.> and 1/);
  expect((err as Error).message).toMatch(/same lonewatch\.toml/);
  // Nothing was changed: the consumers still have their own filter.
  expect((await jsm.consumers.info(cluster.stream, partitionConsumer(cluster.consumer, 0))).config.filter_subject).toBe('lw.in.p0.>');
});

it('refuses a bulk consumer made with another bulk_batch, naming it, and changes nothing', async () => {
  const jsm = await jetstreamManager(a);
  const err = await ensureConsumers(jsm, { ...cluster, bulk_batch: cluster.bulk_batch + 1 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ClusterConfigError);
  expect((err as Error).message).toContain(`consumer LW_IN/lw-workers-bulk exists with filter lw.in.bulk.> and max_ack_pending ${bulkMaxAckPending(cluster.bulk_batch)}, not lw.in.bulk.> and ${bulkMaxAckPending(cluster.bulk_batch + 1)}`);
  expect((err as Error).message).toMatch(/Changing the bulk batch/);
  expect((await jsm.consumers.info(cluster.stream, bulkConsumer(cluster.consumer))).config.max_ack_pending).toBe(bulkMaxAckPending(cluster.bulk_batch));
});

it('adds the bulk consumer to a cluster from before the lanes, leaving its partition consumers as they are', async () => {
  const jsm = await jetstreamManager(a);
  // A cluster from before the lanes: the partition consumers, no bulk consumer.
  await jsm.consumers.delete(cluster.stream, bulkConsumer(cluster.consumer));
  const before = await Promise.all(Array.from({ length: cluster.partitions }, (_, p) => jsm.consumers.info(cluster.stream, partitionConsumer(cluster.consumer, p))));
  await ensureConsumers(jsm, cluster);
  const after = await Promise.all(Array.from({ length: cluster.partitions }, (_, p) => jsm.consumers.info(cluster.stream, partitionConsumer(cluster.consumer, p))));
  expect(after.map((i) => [i.name, i.created, i.config.filter_subject, i.config.max_ack_pending])).toEqual(before.map((i) => [i.name, i.created, i.config.filter_subject, 1]));
  const bulk = await jsm.consumers.info(cluster.stream, bulkConsumer(cluster.consumer));
  expect([bulk.config.filter_subject, bulk.config.max_ack_pending, bulk.config.ack_policy]).toEqual(['lw.in.bulk.>', bulkMaxAckPending(cluster.bulk_batch), 'explicit']);
});

it('applies the configured ack_wait_ms to consumers made with another (an older default), keeping them', async () => {
  const jsm = await jetstreamManager(a);
  const names = [...Array.from({ length: cluster.partitions }, (_, p) => partitionConsumer(cluster.consumer, p)), bulkConsumer(cluster.consumer)];
  const before = await Promise.all(names.map((n) => jsm.consumers.info(cluster.stream, n)));
  expect(before.every((i) => i.config.ack_wait === nanos(30_000))).toBe(true);
  await ensureConsumers(jsm, { ...cluster, ack_wait_ms: 3000 });
  const after = await Promise.all(names.map((n) => jsm.consumers.info(cluster.stream, n)));
  expect(after.map((i) => [i.name, i.created, i.config.ack_wait, i.config.max_ack_pending])).toEqual(before.map((i) => [i.name, i.created, nanos(3000), i.config.max_ack_pending]));
  await ensureConsumers(jsm, cluster);
  expect((await jsm.consumers.info(cluster.stream, names[0]!)).config.ack_wait).toBe(nanos(30_000));
});
