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
  it('R16: a low battery raises one lower-priority alert, closed when the battery recovers', async () => {
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

  it('R16: a fob that goes silent during a shift raises "device silent"; not off shift', async () => {
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

  it("R14, R16: phone check-ins do not keep a silent fob alive, but are still the worker's check-ins", async () => {
    await t.addVisit({ workerId: 'w1', ref: 'V-1', expectedEnd: t.clock.now() + 240 * MIN });
    await f.send({ i: '1-1', k: 'vs', ag: 0 });
    await f.heartbeat(80);
    await t.settle();
    // The fob is left at home: nothing more from it. The companion (on the same relay topic) keeps
    // checking in from the phone, with its own `z<random>-<seq>` ids.
    const checkinsAt: number[] = [];
    for (let n = 1; n <= 5; n++) {
      await t.advance(5 * MIN);
      await f.send({ i: `zk3x9q2-${n.toString(36)}`, k: 'chk', ag: 0 });
      await t.settle();
      checkinsAt.push(t.clock.now());
    }
    await t.advance(1 * MIN);
    const alarms = await t.alarms();
    const silent = alarms.filter((a) => a.kind === 'device_silent');
    expect(silent).toHaveLength(1);
    expect(silent[0]).toMatchObject({ deviceId: 'fob-1', workerId: 'w1' });
    expect(silent[0].reason).toMatch(/Device silent for 20 min/);
    // Every phone check-in was accepted as a check-in: nothing was missed, the last one is on record.
    expect(alarms.filter((a) => a.kind === 'missed_checkin')).toHaveLength(0);
    const st = await t.hub.store.read((tx) => tx.getCheckinState('w1'));
    expect(st?.lastCheckInAt).toBe(checkinsAt[checkinsAt.length - 1]);
    expect(st?.lastSighting?.at).toBe(checkinsAt[checkinsAt.length - 1]);
    expect(await t.eventCount('fob-1')).toBe(6);
  });

  it('R16: an event from the fob itself still counts as hearing from it', async () => {
    await t.addVisit({ workerId: 'w1', ref: 'V-1', expectedEnd: t.clock.now() + 240 * MIN });
    await f.send({ i: '1-1', k: 'vs', ag: 0 });
    await t.settle();
    for (let n = 2; n <= 6; n++) {
      await t.advance(5 * MIN);
      await f.send({ i: `1-${n}`, k: 'chk', ag: 0 });
      await t.settle();
    }
    await t.advance(1 * MIN);
    expect((await t.alarms()).filter((a) => a.kind === 'device_silent')).toHaveLength(0);
  });
});
