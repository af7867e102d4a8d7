/**
 * Issue 17, items 2, 5, 6, 9 and 10, reproduced against a real hub (real aedes on real sockets,
 * real SQLite, the real `lonewatch` CLI), each with the fix that stops it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import pino from 'pino';
import mqtt from 'mqtt';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { eventTopic, heartbeatTopic } from '../../shared/protocol-core.js';
import { createApiToken } from '../../hub/http/users.js';
import { REJECT_CODES } from '../../hub/ingest/fob-ingest.js';

const run = promisify(execFile);
const bin = new URL('../../bin/lonewatch.js', import.meta.url).pathname;
const SVC_PASSWORD = 'correct horse battery staple';

let t: TestHub | null = null;
const fobs: TestFob[] = [];
const clients: mqtt.MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
  for (const f of fobs.splice(0)) await f.close().catch(() => undefined);
  await t?.stop();
  t = null;
  delete process.env.LW_TEST_SVC_PASSWORD;
});

function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: pino({ level: 'info' }, dest) };
}

describe('item 2: the client id decides whose session it is', () => {
  it('a service account using a fob id as client id is refused, and the fob stays connected and its SOS is acked', async () => {
    process.env.LW_TEST_SVC_PASSWORD = SVC_PASSWORD;
    t = await startTestHub({ config: { mqtt: { services: [{ username: 'svc-control-room', password_env: 'LW_TEST_SVC_PASSWORD' }] } } });
    const a = await t.addDevice('fob-001', { workerId: 'w1' });
    const f = await connectFob(t.mqttUrl, 'fob-001', a.secret);
    fobs.push(f);
    let fobClosed = false;
    f.client.on('close', () => (fobClosed = true));
    for (let i = 0; i < 10; i++) {
      await expect(mqtt.connectAsync(t.mqttUrl, { clientId: 'fob-001', username: 'svc-control-room', password: SVC_PASSWORD, reconnectPeriod: 0 })).rejects.toThrow(/Not authorized|Bad username or password/);
    }
    await expect(mqtt.connectAsync(t.mqttUrl, { clientId: 'fob-001.relay-abc', username: 'svc-control-room', password: SVC_PASSWORD, reconnectPeriod: 0 })).rejects.toThrow(/Not authorized|Bad username or password/);
    expect(t.hub.broker.counters.refusedConnects).toBe(11);
    await f.send({ i: '1-1', k: 'sos', ag: 0 });
    await f.waitFor((c) => c.k === 'ack' && c.i === '1-1');
    expect(fobClosed).toBe(false);
    expect(t.hub.broker.connectedClients).toBe(1);
    // A client id of its own still works.
    const svc = await mqtt.connectAsync(t.mqttUrl, { clientId: 'control-room-1', username: 'svc-control-room', password: SVC_PASSWORD, reconnectPeriod: 0 });
    clients.push(svc);
    expect(svc.connected).toBe(true);
  });
});

describe('item 5 and 6: one fob sending garbage', () => {
  it('writes a bounded number of log lines, then a count; /metrics keeps one counter per reason code', async () => {
    const { lines, log } = capturedLog();
    t = await startTestHub({ manualClock: true, log });
    const a = await t.addDevice('fob-001', { workerId: 'w1' });
    const f = await connectFob(t.mqttUrl, 'fob-001', a.secret);
    fobs.push(f);
    const before = JSON.stringify(t.hub.metrics().ingest).length;
    const N = 6000;
    // Each payload different, with sender-chosen text where the old counters took their key from.
    for (let i = 0; i < N; i++) f.client.publish(eventTopic('fob-001'), JSON.stringify({ i: `1-${i}`, k: `odd-${i}`, ag: 0 }), { qos: 0 });
    for (let i = 0; i < 50; i++) f.client.publish(heartbeatTopic('fob-001'), `{"b":"x${i}"}`, { qos: 0 });
    await f.client.publishAsync(eventTopic('fob-001'), 'not json', { qos: 1 });
    await t.settle();
    const ingest = t.hub.ingest.counters;
    expect(ingest.rejected.event_invalid).toBe(N + 1);
    expect(ingest.rejected.heartbeat_invalid).toBe(50);
    expect(Object.keys(ingest.rejected).sort()).toEqual([...REJECT_CODES].sort());
    expect(JSON.stringify(t.hub.metrics().ingest).length).toBeLessThan(before + 40);

    const rejectedLines = () => lines.filter((l) => l.deviceId === 'fob-001' && String(l.msg).includes('rejected'));
    expect(rejectedLines()).toHaveLength(5);
    // The window closes on the hub's clock: one line says how many more there were.
    await t.advance(10_000);
    await new Promise((r) => setImmediate(r));
    const summary = lines.find((l) => String(l.msg).includes('more like this from fob-001'));
    expect(summary).toMatchObject({ deviceId: 'fob-001', suppressed: N + 51 - 5 });
    expect(summary!.msg).toBe(`${(N + 51 - 5).toLocaleString('en-GB')} more like this from fob-001 in the last 10 s`);
    // The fob still works.
    await f.send({ i: '2-1', k: 'sos', ag: 0 });
    await f.waitFor((c) => c.k === 'ack' && c.i === '2-1');
  });

  it('refused CONNECTs are limited per address, whatever client id each one picks', async () => {
    const { lines, log } = capturedLog();
    t = await startTestHub({ log });
    for (let i = 0; i < 30; i++) {
      await expect(mqtt.connectAsync(t.mqttUrl, { clientId: `fob-${i}`, username: `fob-${i}`, password: 'guess', reconnectPeriod: 0 })).rejects.toThrow();
    }
    expect(t.hub.broker.counters.refusedConnects).toBe(30);
    const refusedLines = lines.filter((l) => String(l.msg).startsWith('connection refused'));
    expect(refusedLines).toHaveLength(5);
    expect(refusedLines.every((l) => l.address === '127.0.0.1')).toBe(true);
  });

  it('/metrics needs sign-in or an API token', async () => {
    t = await startTestHub();
    const anon = await fetch(`${t.httpUrl}/metrics`);
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { error?: string; message?: string }) ?? {}).toBeTruthy();
    const { token } = await createApiToken(t.hub.store, 'prometheus', 'duty_officer', 'test', Date.now());
    const ok = await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { broker: Record<string, number> }).broker.cutOversize).toBe(0);
    expect((await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });
});

describe('item 9: revocation and reassignment made with the CLI while the hub runs', () => {
  const cli = (...args: string[]) => run(process.execPath, [bin, ...args], { env: { ...process.env, LONEWATCH_DATA_DIR: t!.dataDir }, timeout: 90_000 });

  it('`lonewatch devices revoke` disconnects the running fob within mqtt.device_check_ms, and it cannot come back', async () => {
    t = await startTestHub({ config: { mqtt: { device_check_ms: 200 } } });
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    const f = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    fobs.push(f);
    const gone = new Promise<void>((r) => f.client.once('close', () => r()));
    await cli('devices', 'revoke', 'fob-a');
    await gone;
    expect(t.hub.broker.counters.droppedRevoked).toBe(1);
    expect(t.hub.devices.isRevoked('fob-a')).toBe(true);
    await expect(connectFob(t.mqttUrl, 'fob-a', a.secret)).rejects.toThrow(/Not authorized|Bad username or password/);
  });

  it('the broker refuses a publish from a fob revoked since it connected', async () => {
    t = await startTestHub({ config: { mqtt: { device_check_ms: 60_000 } } });
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    const f = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    fobs.push(f);
    // Revoked in the store; the hub's device set says so (as after its next check) but the
    // connection is still up: the publish itself is refused and the fob dropped.
    await t.hub.store.transaction((tx) => tx.updateDevice('fob-a', { revokedAt: Date.now() }));
    (t.hub.devices as unknown as { revoked: Set<string> }).revoked.add('fob-a');
    const gone = new Promise<void>((r) => f.client.once('close', () => r()));
    f.client.publish(eventTopic('fob-a'), JSON.stringify({ i: '1-1', k: 'sos', ag: 0 }), { qos: 1 });
    await gone;
    expect(await t.eventCount('fob-a')).toBe(0);
    expect(t.hub.broker.counters.droppedRevoked).toBe(1);
  });

  it("after `lonewatch devices assign` a fob's heartbeats are sightings of its new worker, not the old one", async () => {
    t = await startTestHub({ manualClock: true, config: { mqtt: { device_check_ms: 60_000 } } });
    await t.addWorker('w2');
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    const f = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    fobs.push(f);
    const sighting = async (w: string) => (await t!.hub.store.read((tx) => tx.getCheckinState(w)))?.lastSighting?.at ?? null;
    await f.heartbeat(90, 1);
    await t.settle();
    const first = await sighting('w1');
    expect(first).toBe(t.clock.now());
    await cli('devices', 'assign', 'fob-a', '--worker', 'w2');
    // The hub's poll (data_version) notices the CLI's commit; called here instead of waiting for it.
    await t.hub.devices.check();
    await t.advance(61_000);
    await f.heartbeat(90, 1);
    await t.settle();
    expect(await sighting('w1')).toBe(first);
    expect(await sighting('w2')).toBe(t.clock.now());
  });
});

describe('item 9 on the dashboard: revoke and assign through the API', () => {
  it('a revoke drops the fob at once; an assign moves its sightings to the new worker', async () => {
    t = await startTestHub({ manualClock: true, config: { mqtt: { device_check_ms: 60_000 } } });
    await t.addWorker('w2');
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    const b = await t.addDevice('fob-b', { workerId: 'w2' });
    const fa = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    const fb = await connectFob(t.mqttUrl, 'fob-b', b.secret);
    fobs.push(fa, fb);
    const { token } = await createApiToken(t.hub.store, 'admin', 'admin', 'test', t.clock.now());
    const post = (path: string, body: unknown = {}) =>
      fetch(`${t!.httpUrl}/api${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const sighting = async (w: string) => (await t!.hub.store.read((tx) => tx.getCheckinState(w)))?.lastSighting?.at ?? null;

    await fa.heartbeat(90, 1);
    await t.settle();
    const first = await sighting('w1');
    expect(first).toBe(t.clock.now());
    expect((await post('/admin/devices/fob-a/assign', { workerId: 'w3-missing' })).status).toBe(404);
    await t.addWorker('w3');
    expect((await post('/admin/devices/fob-a/assign', { workerId: 'w3' })).status).toBe(200);
    await t.advance(61_000);
    await fa.heartbeat(90, 1);
    await t.settle();
    expect(await sighting('w1')).toBe(first);
    expect(await sighting('w3')).toBe(t.clock.now());

    const gone = new Promise<void>((r) => fb.client.once('close', () => r()));
    expect((await post('/admin/devices/fob-b/revoke')).status).toBe(200);
    await gone;
    expect(t.hub.devices.isRevoked('fob-b')).toBe(true);
  });
});

describe('item 10: MQTT 5', () => {
  it('a v5 CONNECT is refused (unacceptable protocol version) and logged once, in words', async () => {
    const { lines, log } = capturedLog();
    t = await startTestHub({ log });
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    for (let i = 0; i < 4; i++) {
      await expect(mqtt.connectAsync(t.mqttUrl, { clientId: 'fob-a', username: 'fob-a', password: a.secret, protocolVersion: 5, reconnectPeriod: 0 })).rejects.toThrow();
    }
    expect(t.hub.broker.counters.refusedProtocol).toBe(4);
    const said = lines.filter((l) => String(l.msg).includes('MQTT protocol version 5 is not supported'));
    expect(said).toHaveLength(1);
    expect(said[0]!.msg).toContain('MQTT 3.1.1 only');
    // 3.1.1 still works.
    const f = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    fobs.push(f);
  });
});

describe('item 8: an SOS older than 7 days', () => {
  it('is raised, stored and shown stale (API), and acknowledged so the fob stops retrying', async () => {
    t = await startTestHub({ manualClock: true });
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    const f = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    fobs.push(f);
    const eightDays = 8 * 86_400;
    await f.send({ i: '1-1', k: 'sos', ag: eightDays });
    await f.waitFor((c) => c.k === 'ack' && c.i === '1-1');
    // A fresh one beside it, not stale.
    await f.send({ i: '1-2', k: 'sos', ag: 0 });
    await f.waitFor((c) => c.k === 'ack' && c.i === '1-2');
    await t.settle();
    const alarms = await t.alarms();
    const old = alarms.find((x) => x.sourceEventId === '1-1')!;
    expect(old).toMatchObject({ kind: 'sos', stale: true, closedAt: null });
    expect(old.reason).toContain('stale: raised about 8 days before it reached the hub');
    expect(alarms.find((x) => x.sourceEventId === '1-2')!.stale).toBe(false);
    const raised = (await t.timeline(old.id)).find((e) => e.type === 'raised')!;
    expect(raised.detail).toMatchObject({ stale: true, happenedAt: t.clock.now() - eightDays * 1000 });

    const { token } = await createApiToken(t.hub.store, 'officer', 'duty_officer', 'test', t.clock.now());
    const res = await fetch(`${t.httpUrl}/api/alarms/${old.id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { alarm: { stale: boolean } }).alarm.stale).toBe(true);

    // A stale check-in is stored and acknowledged but says nothing about the worker now.
    await f.send({ i: '1-3', k: 'chk', ag: eightDays });
    await f.waitFor((c) => c.k === 'ack' && c.i === '1-3');
    expect(t.hub.ingest.counters.rejected.event_stale).toBe(1);
  });
});
