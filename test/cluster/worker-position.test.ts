// Issue 20 in the cluster (issue 19): a worker fed from the JetStream consumer stores a fob's `ps` with
// the same FobIngest as the single hub, and that ingest's after-commit hook (Hub.start's
// onAlarmPosition -> Dispatcher.positionUpdated) makes the location follow-ups: the ARC's DC-09
// status report (Contact ID qualifier 6, new X/Y) and the webhook's `lonewatch.alarm.position`. Real
// nats-server cluster, real PostgreSQL where installed (else one SQLite file), a real DC-09 receiver
// and HTTP receiver; the messages are put on the stream as an edge does (encodeInbound), with the
// worker's ManualClock for the follow-up rule's 30 s.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { startNatsCluster, stopNatsClusters } from '../helpers/nats-cluster.js';
import { testConfig } from '../helpers/hub-harness.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { Dc09Receiver } from '../helpers/dc09-receiver.js';
import { TestWebhookReceiver } from '../helpers/notify-receivers.js';
import { parseKey } from '../../hub/notifiers/sia-dc09/dc09-frame.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { ClusterWorker } from '../../hub/cluster/worker.js';
import { encodeInbound, inboundSubject } from '../../hub/cluster/inbound.js';
import type { ClusterConfig } from '../../hub/config/config-schema.js';
import { silentLogger } from '../../hub/logger.js';
import { ManualClock } from '../../hub/clock.js';

const KEY_HEX = '00112233445566778899AABBCCDDEEFF';
const SECRET = 'whsec-cluster-pos-0123456789';
let clusterConfig: ClusterConfig;
const usePostgres = requirePostgresOrSkip();
const dir = mkdtempSync(join(tmpdir(), 'lw-worker-position-'));
const clock = new ManualClock(Date.parse('2026-03-02T10:00:00Z'));
let pgServer: PostgresServer | null = null;
let worker: ClusterWorker;
let nc: NatsConnection;
let arc: Dc09Receiver;
let webhook: TestWebhookReceiver;

beforeAll(async () => {
  const nats = await startNatsCluster();
  process.env.LW_TEST_NATS_PASSWORD = nats.password;
  process.env.LW_TEST_ARC_KEY = KEY_HEX;
  arc = await Dc09Receiver.start({ account: '4321', receiver: '12', line: '3', key: parseKey(KEY_HEX), now: () => clock.now() });
  webhook = await TestWebhookReceiver.start(SECRET, () => clock.now());
  writeFileSync(join(dir, 'webhook.secret'), `${SECRET}\n`);
  let store = {};
  if (usePostgres) {
    pgServer = await startPostgres();
    store = { postgres_url: await pgServer.createDatabase('lonewatch') };
  }
  const retry = { timeout_s: 10, first_retry_s: 1, give_up_after_s: 30 };
  const config = testConfig(dir, {
    cluster: { servers: nats.urls, user: nats.user, password_env: 'LW_TEST_NATS_PASSWORD', ack_wait_ms: 2000 },
    store,
    notifiers: {
      webhook: { url: webhook.url, secret: `file:${join(dir, 'webhook.secret')}`, retry },
      arc: { host: '127.0.0.1', port: arc.port, account: '4321', receiver: '12', line: '3', encryption_key: 'env:LW_TEST_ARC_KEY', supervision_s: 0, retry: { ...retry, factor: 2 } },
    },
  });
  // No `hub.dispatch`: the worker's Hub.start builds the real dispatcher from [notifiers].
  clusterConfig = config.cluster!;
  worker = await ClusterWorker.start({ config, cluster: config.cluster!, log: silentLogger, clock, id: 'worker-pos' });
  await addDevice(worker.hub.store, 'fob-1', { now: clock.now() });
  nc = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
}, 120_000);

afterAll(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TEST_NATS_PASSWORD;
  delete process.env.LW_TEST_ARC_KEY;
  await nc?.close();
  await worker?.stop();
  await arc?.close();
  await webhook?.close();
  await pgServer?.stop();
  await stopNatsClusters();
  rmSync(dir, { recursive: true, force: true });
});

/** As an edge streams a fob's publish: the leaf, the payload, the edge's received time. */
async function stream(leaf: 'ev' | 'ps', payload: unknown): Promise<void> {
  const m = encodeInbound({ deviceId: 'fob-1', leaf, payload: Buffer.from(JSON.stringify(payload)), receivedAt: clock.now(), edgeId: 'edge-a' });
  // On the device's partition subject, as the edge does (hub/cluster/inbound.ts, issue 19's order).
  const { subject_prefix, partitions } = clusterConfig;
  await jetstream(nc).publish(inboundSubject(subject_prefix, partitions, 'fob-1', leaf), m.data, { headers: m.headers });
}

describe(`cluster worker location follow-ups (${usePostgres ? 'postgres' : 'sqlite'})`, () => {
  it('a ps streamed to the worker after the ARC ACKed the SOS: one DC-09 follow-up (6 120, new X/Y) and one webhook position event', async () => {
    await stream('ev', { i: '1-1', k: 'sos', ag: 0, l: { la: 53.4808, lo: -2.24263, ac: 9, fa: 0, s: 'g' } });
    await expect.poll(() => arc.accepted.length, { timeout: 15_000 }).toBe(1);
    expect(arc.accepted[0]!.cid).toMatchObject({ qualifier: 1, code: 120 });
    await expect.poll(() => webhook.accepted.filter((x) => x.json.type === 'lonewatch.alert').length, { timeout: 15_000 }).toBeGreaterThan(0);
    const [alarm] = await worker.hub.store.read((tx) => tx.listAlarms({}));
    const id = alarm!.id;
    // "After the ARC ACKed" as the hub knows it: the receivers have answered, and the worker has
    // recorded both alerts delivered (a fix before that record is, by design, no follow-up: the
    // dispatcher's positionUpdated; the ps must not race the record).
    const delivered = async (channel: string) => (await worker.hub.store.read((tx) => tx.listNotices(id))).some((n) => n.channel === channel && n.event === 'alert' && n.state === 'done' && n.outcome === 'delivered');
    await expect.poll(() => delivered('arc'), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => delivered('webhook'), { timeout: 15_000 }).toBe(true);

    // 40 s on (past the 30 s rule), 100 m north, as its own ps through the stream.
    clock.advance(40_000);
    const fixAt = clock.now();
    const handled = worker.counters.handled;
    await stream('ps', { la: 53.4817, lo: -2.24264, ac: 8, fa: 0, s: 'g' });
    await expect.poll(() => worker.counters.handled, { timeout: 15_000 }).toBe(handled + 1);

    await expect.poll(() => arc.accepted.length, { timeout: 15_000 }).toBe(2);
    expect(arc.accepted[1]!.cid).toMatchObject({ account: '4321', qualifier: 6, code: 120 });
    expect(arc.accepted[1]!.location).toEqual({ lat: 53.4817, lon: -2.24264, fixAt });

    await expect.poll(() => webhook.accepted.filter((x) => x.json.type === 'lonewatch.alarm.position').length, { timeout: 15_000 }).toBe(1);
    const ev = webhook.accepted.find((x) => x.json.type === 'lonewatch.alarm.position')!;
    expect(ev.headers['idempotency-key']).toBe(`${id}.position.${fixAt.toString(36)}.webhook`);
    expect((ev.json.alarm as { position: unknown }).position).toEqual({ lat: 53.4817, lon: -2.24264, accuracyM: 8, fixAt: new Date(fixAt).toISOString(), source: 'gnss' });

    // The shared store has them as notices of their own, once each.
    const notices = (await worker.hub.store.read((tx) => tx.listNotices(id))).filter((n) => n.event === 'position');
    expect(notices.map((n) => n.channel).sort()).toEqual(['arc', 'webhook']);
  }, 120_000);
});
