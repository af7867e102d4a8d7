import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';

const MIN = 60_000;
let t: TestHub;
let f: TestFob;
beforeEach(async () => {
  t = await startTestHub({ manualClock: true });
  const { secret } = await t.addDevice('fob-1', { workerId: 'w1' });
  f = await connectFob(t.mqttUrl, 'fob-1', secret);
});
afterEach(async () => {
  await f.close().catch(() => undefined);
  await t.stop();
});

describe('device health (R16)', () => {
  it('a low battery raises one lower-priority alert, closed when the battery recovers', async () => {
    await f.heartbeat(50);
    await t.settle();
    expect(await t.alarms()).toHaveLength(0);
    await f.heartbeat(15);
    await f.heartbeat(14);
    await t.settle();
    await f.heartbeat(12);
    await t.settle();
    const alarms = await t.alarms();
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ kind: 'low_battery', priority: 4, deviceId: 'fob-1', state: 'notifying' });
    expect((await t.hub.store.read((tx) => tx.getDevice('fob-1')))?.battery).toBe(12);
    await f.heartbeat(95);
    await t.settle();
    expect((await t.alarms())[0].state).toBe('resolved');
  });

  it('a fob that goes silent during a shift raises "device silent"; not off shift', async () => {
    await f.heartbeat(80);
    await t.settle();
    await t.advance(60 * MIN);
    expect(await t.alarms()).toHaveLength(0); // not on shift: nobody is expecting it

    await t.addVisit({ workerId: 'w1', ref: 'V-1', expectedEnd: t.clock.now() + 240 * MIN });
    await f.send({ i: '1-1', k: 'vs', ag: 0 });
    await f.heartbeat(80);
    await t.settle();
    await t.advance(19 * MIN);
    expect((await t.alarms()).filter((a) => a.kind === 'device_silent')).toHaveLength(0);
    await t.advance(2 * MIN);
    const silent = (await t.alarms()).filter((a) => a.kind === 'device_silent');
    expect(silent).toHaveLength(1);
    expect(silent[0].reason).toMatch(/Device silent for 20 min/);
    await f.heartbeat(80);
    await t.settle();
    expect((await t.alarms()).find((a) => a.kind === 'device_silent')?.state).toBe('resolved');
  });
});
