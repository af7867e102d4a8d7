import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';

const MIN = 60_000;
let t: TestHub;
let f: TestFob;
let seq = 0;
const nextId = () => makeEventId(1, ++seq);

beforeEach(async () => {
  t = await startTestHub({ manualClock: true });
  const { secret } = await t.addDevice('fob-1', { workerId: 'w1' });
  f = await connectFob(t.mqttUrl, 'fob-1', secret);
});
afterEach(async () => {
  await f.close().catch(() => undefined);
  await t.stop();
});

const notifyLevels = async (alarmId: string) =>
  (await t.timeline(alarmId)).filter((e) => e.type === 'notify').map((e) => e.detail.level as number);

describe('missed check-in ladder (R10, R13) on an injected clock', () => {
  it('R10, R13, R15: prompts the fob, raises after the grace period, then climbs level by level; contact closes it', async () => {
    await t.addVisit({ workerId: 'w1', ref: 'V-100', expectedEnd: t.clock.now() + 120 * MIN, checkinIntervalMin: 30, rag: 'amber' });
    await f.send({ i: nextId(), k: 'vs', ag: 0 });
    await t.settle();
    expect(f.commands.filter((c) => c.k === 'prm')).toHaveLength(0);

    await t.advance(30 * MIN);
    await f.waitFor((c) => c.k === 'prm');
    expect(await t.alarms()).toHaveLength(0);

    await t.advance(5 * MIN);
    const [alarm] = await t.alarms();
    expect(alarm).toMatchObject({ kind: 'missed_checkin', state: 'notifying', workerId: 'w1', visitRef: 'V-100', level: 0 });
    expect(await notifyLevels(alarm.id)).toEqual([0]);

    // 002 appendix 3.12-3.16: again after 5 minutes, then the visit contact, home, line manager.
    await t.advance(5 * MIN);
    expect(await notifyLevels(alarm.id)).toEqual([0, 1]);
    await t.advance(5 * MIN);
    expect(await notifyLevels(alarm.id)).toEqual([0, 1, 2]);
    await t.advance(10 * MIN);
    expect(await notifyLevels(alarm.id)).toEqual([0, 1, 2, 3]);
    await t.advance(10 * MIN);
    expect(await notifyLevels(alarm.id)).toEqual([0, 1, 2, 3, 4]);
    const lvl4 = (await t.timeline(alarm.id)).filter((e) => e.type === 'notify').pop()!;
    expect(lvl4.detail.targets).toEqual(['line_manager', 'buddy']);

    // The worker checks in: the alarm is resolved on the record, by the worker.
    await f.send({ i: nextId(), k: 'chk', ag: 0, p: 1 });
    await t.settle();
    const closed = (await t.alarms())[0];
    expect(closed.state).toBe('resolved');
    expect(closed.closedBy).toBe('worker:w1');
    // And the ladder has stopped.
    const count = (await notifyLevels(alarm.id)).length;
    await t.advance(60 * MIN);
    expect((await notifyLevels(alarm.id)).length).toBe(count);
  });

  it('R11: extending a visit moves its deadline', async () => {
    await t.addVisit({ workerId: 'w1', ref: 'V-200', expectedEnd: t.clock.now() + 30 * MIN });
    await f.send({ i: nextId(), k: 'vs', ag: 0 });
    await f.send({ i: nextId(), k: 'ext', ag: 0, m: 30 });
    await t.settle();
    const state = () => t.hub.store.read((tx) => tx.getCheckinState('w1'));
    await t.advance(31 * MIN);
    // (This fob sends no heartbeats, so "device silent" may prompt it; the check-in rules must not.)
    expect((await state())?.promptedAt).toBeNull();
    await t.advance(30 * MIN);
    expect((await state())?.promptedAt).toBe(t.clock.now() - MIN);
    expect((await state())?.due?.reason).toBe('visit_end');
  });

  it('R12, R13: no end-of-shift report after the final visit raises the alarm', async () => {
    await t.addVisit({ workerId: 'w1', ref: 'V-300', expectedEnd: t.clock.now() + 30 * MIN });
    await f.send({ i: nextId(), k: 'vs', ag: 0 });
    await t.advance(20 * MIN);
    await f.send({ i: nextId(), k: 've', ag: 0 });
    await t.settle();
    await t.advance(30 * MIN + 5 * MIN);
    const alarms = await t.alarms();
    const missed = alarms.filter((a) => a.kind === 'missed_checkin');
    expect(missed).toHaveLength(1);
    expect(missed[0].reason).toMatch(/end-of-shift/);
    // This fob sent no heartbeats for 35 minutes of a shift: R16's "device silent" is raised too.
    expect(alarms.filter((a) => a.kind === 'device_silent')).toHaveLength(1);
  });

  it('R12, R14: the end-of-shift report closes the day: nothing more is due', async () => {
    await t.addVisit({ workerId: 'w1', ref: 'V-400', expectedEnd: t.clock.now() + 30 * MIN });
    await f.send({ i: nextId(), k: 'vs', ag: 0 });
    await f.send({ i: nextId(), k: 've', ag: 0 });
    await f.send({ i: nextId(), k: 'eos', ag: 0 });
    await t.advance(10 * 60 * MIN);
    expect(await t.alarms()).toHaveLength(0);
    const state = await t.hub.store.read((tx) => tx.getCheckinState('w1'));
    expect(state?.lastSighting?.kind).toBe('end of shift');
  });
});
