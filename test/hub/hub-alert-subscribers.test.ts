import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { alertSchema, type AlertMessage } from '../../shared/protocol-schemas.js';
import { parseConfig, ConfigError } from '../../hub/config/load-config.js';

let t: TestHub;
beforeEach(async () => {
  process.env.LW_TEST_SVC_PASSWORD = 'correct horse battery staple';
  t = await startTestHub({ config: { mqtt: { services: [{ username: 'svc-control-room', password_env: 'LW_TEST_SVC_PASSWORD' }] } } });
});
afterEach(async () => {
  await t.stop();
  delete process.env.LW_TEST_SVC_PASSWORD;
});

const service = (password: string) =>
  mqtt.connectAsync(t.mqttUrl, { clientId: 'control-room-1', username: 'svc-control-room', password, reconnectPeriod: 0, connectTimeout: 3000 });

describe('downstream systems on lw/alerts/#', () => {
  it('a service account receives every alert, over MQTT-over-WebSocket too, and may do nothing else', async () => {
    await expect(service('wrong')).rejects.toThrow(/Not authorized|Bad username/);
    const svc = await service('correct horse battery staple');
    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${t.hub.httpPort}/mqtt`, { clientId: 'control-room-ws', username: 'svc-control-room', password: 'correct horse battery staple', reconnectPeriod: 0 });
    const got: AlertMessage[] = [];
    const gotWs: AlertMessage[] = [];
    svc.on('message', (_t, p) => got.push(JSON.parse(p.toString())));
    ws.on('message', (_t, p) => gotWs.push(JSON.parse(p.toString())));
    await svc.subscribeAsync('lw/alerts/#', { qos: 1 });
    await ws.subscribeAsync('lw/alerts/#', { qos: 1 });
    await expect(svc.subscribeAsync('lw/fob-1/cmd', { qos: 1 })).rejects.toThrow(/Subscribe error/);

    const { secret } = await t.addDevice('fob-1', { workerId: 'w1' });
    const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
    await fob.send({ i: '1-1', k: 'sos', ag: 0 });
    await expect.poll(() => got.length).toBeGreaterThan(0);
    await expect.poll(() => gotWs.length).toBeGreaterThan(0);
    for (const a of [...got, ...gotWs]) expect(alertSchema.parse(a)).toMatchObject({ kind: 'sos', deviceId: 'fob-1', workerName: 'Worker w1', drill: false });

    const closed = new Promise<void>((r) => svc.once('close', () => r()));
    svc.publish('lw/fob-1/ev', JSON.stringify({ i: '9-9', k: 'sos', ag: 0 }), { qos: 1 });
    await closed;
    expect(await t.eventCount('fob-1')).toBe(1);
    await fob.close();
    await ws.endAsync();
  });

  it('alerts are live only: a service asking for a persistent session is refused, and nothing is queued for a service while it is away', async () => {
    const persistent = mqtt.connectAsync(t.mqttUrl, { clientId: 'control-room-p', username: 'svc-control-room', password: 'correct horse battery staple', clean: false, reconnectPeriod: 0, connectTimeout: 3000 });
    await expect(persistent).rejects.toThrow(/Not authorized/);
    expect(t.hub.broker.counters.refusedConnects).toBe(1);

    const { secret } = await t.addDevice('fob-1', { workerId: 'w1' });
    const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
    const first = await service('correct horse battery staple');
    await first.subscribeAsync('lw/alerts/#', { qos: 1 });
    await first.endAsync();
    // Raised while the service is away: the alarm is in the store (and the API's records), not queued.
    await fob.send({ i: '1-1', k: 'sos', ag: 0 });
    await t.settle();
    expect(await t.alarms()).toHaveLength(1);
    const back = await service('correct horse battery staple');
    const got: AlertMessage[] = [];
    back.on('message', (_t, p) => got.push(JSON.parse(p.toString())));
    await back.subscribeAsync('lw/alerts/#', { qos: 1 });
    await fob.send({ i: '1-2', k: 'sos', ag: 0 });
    await expect.poll(() => got.length).toBeGreaterThan(0);
    await t.settle();
    const alarms = await t.alarms();
    const second = alarms.find((a) => a.sourceEventId === '1-2')!;
    expect(new Set(got.map((a) => a.alarmId))).toEqual(new Set([second.id]));
    await back.endAsync();
    await fob.close();
  });

  it('a service whose password variable is missing is a config error', () => {
    expect(() => parseConfig({ mqtt: { services: [{ username: 'svc-x', password_env: 'LW_NOT_SET_ANYWHERE' }] } }, 'test', {})).toThrow(ConfigError);
    expect(() => parseConfig({ mqtt: { services: [{ username: 'x', password_env: 'A' }] } }, 'test', { A: 'p' })).toThrow(/must start with "svc-"/);
  });
});
