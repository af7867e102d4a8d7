import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';

let t: TestHub;
beforeEach(async () => {
  t = await startTestHub();
});
afterEach(async () => {
  await t.stop();
});

const device = () => t.hub.store.read((tx) => tx.getDevice('fob-1'));

describe('liveness', () => {
  it('a fob is online while connected; a dead link fires its last will and marks it offline', async () => {
    const { secret } = await t.addDevice('fob-1', { workerId: 'w1' });
    const will: string[] = [];
    t.hub.broker.aedes.subscribe('lw/fob-1/st', (p, cb) => {
      will.push(p.payload.toString());
      cb();
    }, () => undefined);
    const c = await mqtt.connectAsync(t.mqttUrl, {
      clientId: 'fob-1',
      username: 'fob-1',
      password: secret,
      reconnectPeriod: 0,
      will: { topic: 'lw/fob-1/st', payload: Buffer.from('0'), qos: 1, retain: false },
    });
    await c.publishAsync('lw/fob-1/st', '1', { qos: 1 });
    await expect.poll(async () => (await device())?.online).toBe(true);
    // Kill the socket without DISCONNECT, as a fob losing its radio link does.
    c.stream.destroy();
    await expect.poll(async () => (await device())?.online).toBe(false);
    await expect.poll(() => will).toContain('0');
    c.end(true);
  });

  it('MQTT 5 (not supported by aedes 1.x) is refused cleanly at CONNECT and the hub carries on', async () => {
    const { secret } = await t.addDevice('fob-1', { workerId: 'w1' });
    await expect(
      mqtt.connectAsync(t.mqttUrl, { clientId: 'fob-1', username: 'fob-1', password: secret, reconnectPeriod: 0, protocolVersion: 5 }),
    ).rejects.toThrow(/Unacceptable protocol version/);
    const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'fob-1', username: 'fob-1', password: secret, reconnectPeriod: 0, protocolVersion: 4 });
    await c.publishAsync('lw/fob-1/ev', JSON.stringify({ i: '1-1', k: 'sos', ag: 0 }), { qos: 1 });
    expect(await t.alarms()).toHaveLength(1);
    await c.endAsync();
  });
});
