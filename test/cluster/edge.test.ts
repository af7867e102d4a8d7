// An edge on a real three-node NATS cluster: a fob's publish is on the JetStream stream (with who,
// which leaf, when and which edge) before its PUBACK; a command on lw.cmd.<id> reaches the fob at
// QoS 1; with JetStream unable to acknowledge (2 of 3 nodes down) the fob gets no PUBACK, its
// connection is dropped, and /readyz says the edge is not ready.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsCluster, stopNatsClusters, type LocalNatsCluster } from '../helpers/nats-cluster.js';
import { testConfig } from '../helpers/hub-harness.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { Edge } from '../../hub/cluster/edge.js';
import { decodeInbound, inboundSubject } from '../../hub/cluster/inbound.js';
import { silentLogger } from '../../hub/logger.js';
import { ManualClock } from '../../hub/clock.js';

let nats: LocalNatsCluster;
let store: SqliteStore;
let edge: Edge;
let nc: NatsConnection;
let secret: string;
const dir = mkdtempSync(join(tmpdir(), 'lw-edge-'));
const clock = new ManualClock(Date.parse('2026-03-02T10:00:00Z'));

beforeAll(async () => {
  nats = await startNatsCluster();
  store = new SqliteStore(join(dir, 'lonewatch.db'));
  secret = (await addDevice(store, 'fob-1', { now: clock.now() })).secret;
  const config = testConfig(dir, { cluster: { servers: nats.urls, user: nats.user, password_env: 'LW_TEST_NATS_PASSWORD', publish_timeout_ms: 1000 } });
  process.env.LW_TEST_NATS_PASSWORD = nats.password;
  edge = await Edge.start({ config, cluster: config.cluster!, store, log: silentLogger, clock, id: 'edge-a' });
  nc = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
}, 120_000);

afterAll(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TEST_NATS_PASSWORD;
  await nc?.close();
  await edge?.stop();
  await store?.close();
  await stopNatsClusters();
  rmSync(dir, { recursive: true, force: true });
});

describe('edge', () => {
  it('puts the publish on the stream before the PUBACK, and delivers commands from NATS', async () => {
    const fob = await connectFob(`mqtt://127.0.0.1:${edge.mqttPort}`, 'fob-1', secret);
    await fob.send({ i: '1-1', k: 'sos', ag: 0 });
    const jsm = await jetstreamManager(nc);
    // Read the moment the PUBACK arrived: the stream already holds it.
    const stored = await jsm.streams.getMessage('LW_IN', { last_by_subj: inboundSubject('lw.in', 16, 'fob-1', 'ev') });
    const m = decodeInbound(stored!.header, stored!.data);
    expect(m).toMatchObject({ deviceId: 'fob-1', leaf: 'ev', receivedAt: clock.now(), edgeId: 'edge-a' });
    expect(JSON.parse(Buffer.from(m.payload).toString())).toEqual({ i: '1-1', k: 'sos', ag: 0 });

    nc.publish('lw.cmd.fob-1', JSON.stringify({ k: 'ack', i: '1-1' }));
    expect(await fob.waitFor((c) => c.k === 'ack')).toEqual({ k: 'ack', i: '1-1' });

    // A fob may not publish on another's topics (the broker's ACL): nothing reaches the stream.
    // (The broker drops a client that tries: no PUBACK.)
    const dropped = new Promise<'dropped'>((r) => fob.client.once('close', () => r('dropped')));
    const foreign = fob.client.publishAsync('lw/fob-2/ev', JSON.stringify({ i: '1-2', k: 'sos', ag: 0 }), { qos: 1 }).then(() => 'puback' as const);
    expect(await Promise.race([foreign, dropped])).toBe('dropped');
    expect(await jsm.streams.getMessage('LW_IN', { last_by_subj: inboundSubject('lw.in', 16, 'fob-2', 'ev') }).catch(() => null)).toBeNull();
    await fob.close().catch(() => undefined);
    expect((await edge.ready()).ready).toBe(true);
  }, 120_000);

  it('gives no PUBACK when JetStream cannot acknowledge, and is not ready', async () => {
    const fob = await connectFob(`mqtt://127.0.0.1:${edge.mqttPort}`, 'fob-1', secret);
    await nats.kill(1);
    await nats.kill(2);
    const closed = new Promise<'dropped'>((r) => fob.client.once('close', () => r('dropped')));
    const outcome = await Promise.race([fob.send({ i: '1-3', k: 'sos', ag: 0 }).then(() => 'puback' as const), closed]);
    expect(outcome).toBe('dropped');
    expect(edge.counters.streamFailed).toBeGreaterThanOrEqual(1);
    // Readiness asks JetStream (stream info). For a moment after losing its quorum the surviving
    // node can still answer that (a clean-clone CI run caught ready: true at once), so the edge must
    // turn not-ready within a few seconds, not at the first question.
    let r = await edge.ready();
    for (let i = 0; i < 40 && r.ready; i++) {
      await new Promise((res) => setTimeout(res, 250));
      r = await edge.ready();
    }
    expect(r.ready).toBe(false);
    expect(r.why).toMatch(/JetStream/);
    const res = await fetch(`http://127.0.0.1:${edge.httpPort}/readyz`);
    expect(res.status).toBe(503);
    await nats.restart(1);
    await nats.restart(2);
    let ready = false;
    // Ready again once the restarted replicas have caught up with the leader (readiness asks for a
    // quorum of current replicas): polled every 250 ms, for up to 30 s.
    for (let i = 0; i < 120 && !ready; i++) {
      ready = (await fetch(`http://127.0.0.1:${edge.httpPort}/readyz`)).status === 200;
      if (!ready) await new Promise((res) => setTimeout(res, 250));
    }
    expect(ready).toBe(true);
  }, 120_000);
});
