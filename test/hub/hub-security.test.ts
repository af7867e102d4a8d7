import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { commandTopic, eventTopic } from '../../shared/protocol-core.js';
import { revokeDevice } from '../../hub/admin/admin-service.js';

let t: TestHub;
const fobs: TestFob[] = [];

beforeEach(async () => {
  t = await startTestHub();
});
afterEach(async () => {
  for (const f of fobs.splice(0)) await f.close().catch(() => undefined);
  await t.stop();
});

function connect(clientId: string, username: string, password: string) {
  return mqtt.connectAsync(t.mqttUrl, { clientId, username, password, reconnectPeriod: 0, connectTimeout: 3000 });
}

describe('device identity', () => {
  it('refuses unknown devices, wrong secrets, mismatched client ids and revoked devices at CONNECT', async () => {
    const { secret } = await t.addDevice('fob-a', { workerId: 'w1' });
    await expect(connect('ghost', 'ghost', 'whatever')).rejects.toThrow(/Not authorized|Bad username or password/);
    await expect(connect('fob-a', 'fob-a', 'wrong-secret')).rejects.toThrow(/Not authorized|Bad username or password/);
    await expect(connect('other-id', 'fob-a', secret)).rejects.toThrow(/Not authorized|Bad username or password/);
    const ok = await connect('fob-a', 'fob-a', secret);
    await ok.endAsync();
    await revokeDevice(t.hub.store, 'fob-a', Date.now());
    await expect(connect('fob-a', 'fob-a', secret)).rejects.toThrow(/Not authorized|Bad username or password/);
    expect(t.hub.broker.counters.refusedConnects).toBe(4);
  });

  it('a fob cannot publish as another fob: it is disconnected and nothing is stored', async () => {
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    await t.addDevice('fob-b', { workerId: 'w2' });
    const fa = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    fobs.push(fa);
    const closed = new Promise<void>((r) => fa.client.once('close', () => r()));
    fa.client.publish(eventTopic('fob-b'), JSON.stringify({ i: '1-1', k: 'sos', ag: 0 }), { qos: 1 });
    await closed;
    await t.settle();
    expect(await t.alarms()).toHaveLength(0);
    expect(await t.eventCount('fob-b')).toBe(0);
    expect(t.hub.broker.counters.refusedPublishes).toBe(1);
  });

  it("a fob cannot subscribe to another fob's commands (SUBACK failure) but may to its own", async () => {
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    const fa = await connectFob(t.mqttUrl, 'fob-a', a.secret, { subscribe: false });
    fobs.push(fa);
    // mqtt.js turns a SUBACK return code 0x80 into a rejection.
    await expect(fa.client.subscribeAsync(commandTopic('fob-b'), { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await expect(fa.client.subscribeAsync('lw/#', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    expect(t.hub.broker.counters.refusedSubscribes).toBe(2);
    const own = await fa.client.subscribeAsync(commandTopic('fob-a'), { qos: 1 });
    expect(own[0].qos).toBe(1);
  });
});

describe('bad input never crashes the hub and changes nothing', () => {
  it('malformed, oversize and unknown payloads are rejected, counted and logged', async () => {
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    const f = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    fobs.push(f);
    const bad = [
      'not json',
      '{"i":"1-1","k":"boom","ag":0}',
      '{"i":"1-1","k":"sos"}',
      '{"i":"1-1","k":"sos","ag":-5}',
      // Over the 256-byte payload limit but under mqtt.packet_max_bytes: refused unparsed, connection kept.
      JSON.stringify({ i: '1-1', k: 'sos', ag: 0, pad: 'x'.repeat(400) }),
      '{"i":"1-1","k":"sos","ag":0,"extra":true}',
      '',
      '\u0000\u0001\u0002',
    ];
    for (const p of bad) await f.client.publishAsync(eventTopic('fob-a'), p, { qos: 1 });
    await f.client.publishAsync('lw/fob-a/hb', '{"n":1,"b":"full","m":1,"u":1}', { qos: 0 });
    await f.client.publishAsync('lw/fob-a/st', 'maybe', { qos: 1 });
    await t.settle();
    expect(await t.alarms()).toHaveLength(0);
    expect(await t.eventCount('fob-a')).toBe(0);
    const rejected = Object.values(t.hub.ingest.counters.rejected).reduce((a, b) => a + b, 0);
    expect(rejected).toBe(bad.length + 2);
    // No application ack for anything invalid; the connection stays up and still works.
    expect(f.commands.filter((c) => c.k === 'ack')).toHaveLength(0);
    await f.send({ i: '1-2', k: 'sos', ag: 0 });
    expect(await t.alarms()).toHaveLength(1);
  });

  it('events for unknown visits and from unassigned devices are stored but change no state', async () => {
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    const f = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    fobs.push(f);
    await f.send({ i: '1-1', k: 'vs', ag: 0, v: 'NO-SUCH' });
    await t.settle();
    const state = await t.hub.store.read((tx) => tx.getCheckinState('w1'));
    expect(state?.onShift ?? false).toBe(false);
    expect(t.hub.ingest.counters.rejected.unknown_visit).toBe(1);
    await f.waitFor((c) => c.k === 'ack' && c.i === '1-1');
  });
});
