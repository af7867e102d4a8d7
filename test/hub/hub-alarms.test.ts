import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { alertSchema } from '../../shared/protocol-schemas.js';

let t: TestHub;
const fobs: TestFob[] = [];

beforeEach(async () => {
  t = await startTestHub({ manualClock: true });
});

afterEach(async () => {
  for (const f of fobs.splice(0)) await f.close().catch(() => undefined);
  await t.stop();
});

async function fob(deviceId: string, workerId = `w-${deviceId}`): Promise<TestFob> {
  const { secret } = await t.addDevice(deviceId, { workerId });
  const f = await connectFob(t.mqttUrl, deviceId, secret);
  fobs.push(f);
  return f;
}

describe('alarms from fobs', () => {
  it('R2, R19: SOS: stored durably, then the fob gets the application ack with the event id', async () => {
    const f = await fob('fob-1');
    const id = makeEventId(1, 5);
    await f.send({ i: id, k: 'sos', ag: 0 });
    // The PUBACK has arrived: the alarm must already be committed.
    const alarms = await t.alarms();
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ kind: 'sos', state: 'notifying', deviceId: 'fob-1', workerId: 'w-fob-1', sourceEventId: id });
    const ack = await f.waitFor((c) => c.k === 'ack');
    expect(ack).toEqual({ k: 'ack', i: id });
    const timeline = await t.timeline(alarms[0].id);
    expect(timeline.filter((e) => e.type !== 'delivery').map((e) => e.type)).toEqual(['raised', 'notify', 'notify']);
    // This hub configures no forwarding channel: the record says so, and never that anyone was told.
    const deliveries = timeline.filter((e) => e.type === 'delivery');
    expect(deliveries.length).toBeGreaterThan(0);
    expect(deliveries.every((e) => e.detail.status === 'not_configured')).toBe(true);
  });

  it('R19: a retried event with the same id is acknowledged again but never counted twice', async () => {
    const f = await fob('fob-2');
    const ev = { i: makeEventId(3, 1), k: 'sos' as const, ag: 0 };
    await f.send(ev);
    await f.send({ ...ev, ag: 4 });
    await t.settle();
    expect(await t.alarms()).toHaveLength(1);
    expect(await t.eventCount('fob-2')).toBe(1);
    expect(t.hub.ingest.counters.duplicates).toBe(1);
    await expect.poll(() => f.commands.filter((c) => c.k === 'ack' && c.i === ev.i).length).toBe(2);
  });

  it('R1, R21: covert SOS notifies everyone at once and never asks the fob to make a sound', async () => {
    const f = await fob('fob-3');
    const alerts: unknown[] = [];
    const watcher = await mqtt.connectAsync(t.mqttUrl, { clientId: 'fob-3w', username: 'fob-3w', password: 'x', reconnectPeriod: 0 }).catch((e) => e);
    expect(watcher).toBeInstanceOf(Error); // unknown devices are refused at CONNECT
    t.hub.broker.aedes.subscribe('lw/alerts/#', (packet, cb) => {
      alerts.push(JSON.parse(packet.payload.toString()));
      cb();
    }, () => undefined);

    await f.send({ i: makeEventId(1, 1), k: 'cov', ag: 0 });
    await t.settle();
    const [alarm] = await t.alarms();
    expect(alarm.kind).toBe('covert_sos');
    const notified = (await t.timeline(alarm.id)).filter((e) => e.type === 'notify');
    const targets = notified.flatMap((e) => e.detail.targets as string[]);
    // All levels at once: the duty officer and the whole chain (R21) at the moment of raising.
    expect(new Set(targets)).toEqual(new Set(['duty_officer', 'line_manager', 'head_of_service', 'director']));
    expect(new Set(notified.map((e) => e.at))).toEqual(new Set([alarm.raisedAt]));
    await expect.poll(() => alerts.length).toBeGreaterThan(0);
    for (const a of alerts) expect(alertSchema.safeParse(a).success).toBe(true);

    // The officer acknowledges: a discreet haptic "help is coming", then resolves.
    await t.hub.runtime.alarmAction(alarm.id, { type: 'acknowledge', by: 'user:dana' });
    await t.hub.runtime.alarmAction(alarm.id, { type: 'resolve', by: 'user:dana', note: 'worker safe' });
    await t.settle();
    await f.waitFor((c) => c.k === 'clr');
    const kinds = f.commands.map((c) => c.k);
    expect(kinds).toContain('hc');
    expect(kinds).not.toContain('stop');
    expect(kinds.every((k) => ['ack', 'hc', 'clr', 'cfg'].includes(k))).toBe(true);
  });

  it('R20: the first acknowledgement wins; the second is refused and recorded', async () => {
    const f = await fob('fob-4');
    await f.send({ i: makeEventId(1, 2), k: 'sos', ag: 0 });
    const [alarm] = await t.alarms();
    const first = await t.hub.runtime.alarmAction(alarm.id, { type: 'acknowledge', by: 'user:dana' });
    expect(first.acknowledgedBy).toBe('user:dana');
    await expect(t.hub.runtime.alarmAction(alarm.id, { type: 'acknowledge', by: 'user:sam' })).rejects.toThrow(/already acknowledged by user:dana/);
    const after = (await t.alarms())[0];
    expect(after.acknowledgedBy).toBe('user:dana');
    const timeline = await t.timeline(alarm.id);
    expect(timeline.filter((e) => e.type === 'acknowledged').map((e) => e.actor)).toEqual(['user:dana']);
    expect(timeline.some((e) => e.type === 'refused' && e.actor === 'user:sam')).toBe(true);
  });

  it('R6: the worker cancels an SOS from the fob: the fob stands down, the alarm stays open until an officer has called back (issue 15 item 11)', async () => {
    const f = await fob('fob-5');
    const alarmEvent = makeEventId(1, 3);
    await f.send({ i: alarmEvent, k: 'sos', ag: 0 });
    await f.send({ i: makeEventId(1, 4), k: 'can', ag: 0, r: alarmEvent });
    await t.settle();
    await f.waitFor((c) => c.k === 'stop');
    const [alarm] = await t.alarms();
    expect(alarm.state).toBe('notifying');
    expect(alarm.closedAt).toBeNull();
    expect(alarm.workerCancelledAt).toBe(t.clock.now());
    const types = (await t.timeline(alarm.id)).map((e) => e.type);
    expect(types).toContain('raised');
    expect(types[types.length - 1]).toBe('worker_cancelled');
    // A second cancel changes nothing: the alarm still waits for the call-back.
    await f.send({ i: makeEventId(1, 5), k: 'can', ag: 0, r: alarmEvent });
    await t.settle();
    expect((await t.timeline(alarm.id)).map((e) => e.type)).toEqual(types);
    expect((await t.alarms())[0]).toMatchObject({ state: 'notifying', workerCancelledAt: alarm.workerCancelledAt });

    // The officer who calls back closes it with the outcome; both are on the record.
    const closed = await t.hub.runtime.alarmAction(alarm.id, { type: 'resolve', by: 'user:dana', outcome: 'false_alarm', note: 'called back: pressed by mistake', authority: 'taker' });
    expect(closed).toMatchObject({ state: 'resolved', closedBy: 'user:dana', outcome: 'false_alarm' });
    const last = (await t.timeline(alarm.id)).at(-1)!;
    expect(last).toMatchObject({ type: 'resolved', actor: 'user:dana', detail: { outcome: 'false_alarm', workerCancelledAt: alarm.workerCancelledAt } });
  });

  it('R6: a cancel that reaches the hub before the SOS it names is applied when the SOS arrives; a cancel of another event, or of none, is not', async () => {
    const f = await fob('fob-6');
    const sos = makeEventId(2, 3);
    // Out of order, as when the SOS's publish was lost and the fob's outbox resent the cancel first
    // (each event has its own back-off, with jitter): the cancel first. It finds no alarm, and says why.
    await f.send({ i: makeEventId(2, 4), k: 'can', ag: 0, r: sos });
    await f.send({ i: makeEventId(2, 5), k: 'can', ag: 0, r: makeEventId(2, 1) });
    await f.send({ i: makeEventId(2, 6), k: 'can', ag: 0 });
    await t.settle();
    expect(await t.alarms()).toHaveLength(0);
    expect(t.hub.ingest.counters.rejected.cancel_no_open_alarm).toBe(3);
    await t.advance(2000);
    await f.send({ i: sos, k: 'sos', ag: 0 });
    await t.settle();
    const [alarm, ...others] = await t.alarms();
    expect(others).toHaveLength(0);
    // Raised (its SOS was pressed, and the record keeps it), then stood down by the worker's cancel,
    // and like any cancel of an SOS from the fob it stays open for the officer's call-back.
    expect(alarm).toMatchObject({ sourceEventId: sos, state: 'notifying', closedAt: null, workerCancelledAt: t.clock.now() });
    const timeline = await t.timeline(alarm.id);
    expect(timeline[0]!.type).toBe('raised');
    const cancelled = timeline.filter((e) => e.type === 'worker_cancelled');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]!.detail.reason).toMatch(/the cancel, event 2-4, reached the hub before the alarm/);
    await f.waitFor((c) => c.k === 'stop');
    await f.waitFor((c) => c.k === 'clr');

    // An SOS that no stored cancel names stays open, not cancelled (the cancel without r meant
    // whatever was active then; the one naming 2-1 is another alarm's).
    const other = await fob('fob-7');
    await other.send({ i: makeEventId(1, 2), k: 'can', ag: 0 });
    await other.send({ i: makeEventId(1, 3), k: 'sos', ag: 0 });
    await f.send({ i: makeEventId(2, 7), k: 'sos', ag: 0 });
    await t.settle();
    const open = (await t.alarms()).filter((a) => a.id !== alarm.id);
    expect(open).toHaveLength(2);
    for (const a of open) expect(a).toMatchObject({ state: 'notifying', workerCancelledAt: null });
  });

  it('R3, R13: an unacknowledged SOS repeats its notifications on the clock until exhausted', async () => {
    const f = await fob('fob-6');
    await f.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    const [alarm] = await t.alarms();
    const before = (await t.timeline(alarm.id)).filter((e) => e.type === 'notify').length;
    await t.advance(2 * 60_000);
    const after = (await t.timeline(alarm.id)).filter((e) => e.type === 'notify').length;
    expect(after).toBeGreaterThan(before);
    await t.advance(60 * 60_000);
    expect((await t.alarms())[0].state).toBe('exhausted');
  });
});
