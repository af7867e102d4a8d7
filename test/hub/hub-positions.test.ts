// Issue 20: positions at the hub: the `ps` leaf and `l` on events, over real MQTT into real SQLite,
// attached to the open alarm, the latest kept hot, old fobs unchanged, retention on the hub's clock.
import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { positionTopic } from '../../shared/protocol-core.js';
import type { PositionRecord } from '../../hub/store/store-types.js';

let t: TestHub;
const fobs: TestFob[] = [];

afterEach(async () => {
  for (const f of fobs.splice(0)) await f.close().catch(() => undefined);
  await t?.stop();
});

async function fob(deviceId: string, workerId = `w-${deviceId}`): Promise<TestFob> {
  const { secret } = await t.addDevice(deviceId, { workerId });
  const f = await connectFob(t.mqttUrl, deviceId, secret);
  fobs.push(f);
  return f;
}

/** Fobs send `ps` at QoS 0; the test uses QoS 1 so that the PUBACK says the hub has handled it. */
async function sendPosition(f: TestFob, payload: unknown): Promise<void> {
  await f.client.publishAsync(positionTopic(f.deviceId), typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });
}

const positions = (deviceId: string): Promise<PositionRecord[]> => t.hub.store.read((tx) => tx.listPositions(deviceId, 0, Number.MAX_SAFE_INTEGER, 1000));

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

describe('positions from fobs (issue 20)', () => {
  it('a `ps` fix is stored dated received - fa, with its worker and source, and is the hot latest', async () => {
    t = await startTestHub({ manualClock: true });
    const f = await fob('fob-1');
    const now = t.clock.now();
    await sendPosition(f, { la: 51.50722, lo: -0.1275, ac: 12, fa: 4, s: 'g' });
    const [p] = await positions('fob-1');
    expect(p).toEqual({ deviceId: 'fob-1', workerId: 'w-fob-1', alarmId: null, fixAt: now - 4000, receivedAt: now, lat: 51.50722, lon: -0.1275, accuracyM: 12, source: 'gnss' });
    expect(t.hub.ingest.counters.positions).toBe(1);
    await t.advance(30_000);
    await sendPosition(f, { la: 51.5073, lo: -0.1276, ac: 30, fa: 0, s: 'p' });
    const latest = await t.hub.store.read((tx) => t.hub.ingest.positions.get(tx, 'fob-1'));
    expect(latest).toMatchObject({ lat: 51.5073, lon: -0.1276, source: 'phone', fixAt: now + 30_000 });
    // One hot entry per device, however many fixes it sends.
    expect(t.hub.ingest.positions.size).toBe(1);
  });

  it('an invalid fix is refused with its field, rate-limited in the log, counted, and stores nothing', async () => {
    const { lines, log } = capturedLog();
    t = await startTestHub({ manualClock: true, log });
    const f = await fob('fob-2');
    const bad = [
      { la: 91, lo: 0, ac: 5, fa: 0, s: 'g' },
      { la: 51.5, lo: -0.12, ac: 5, fa: 0, s: 'x' },
      { la: 51.5, lo: -0.12, ac: 5, fa: 0, s: 'g', extra: 1 },
      { la: 51.123456, lo: -0.12, ac: 5, fa: 0, s: 'g' },
      'not json',
      { la: 51.5, lo: -0.12, ac: 5, fa: 0, s: 'g', pad: 'x'.repeat(300) },
      { la: 51.5, lo: -0.12, ac: 200000, fa: 0, s: 'c' },
    ];
    for (const b of bad) await sendPosition(f, b);
    expect(t.hub.ingest.counters.rejected.position_invalid).toBe(bad.length);
    expect(await positions('fob-2')).toEqual([]);
    const rejected = lines.filter((l) => l.deviceId === 'fob-2' && String(l.msg).startsWith('position rejected'));
    // RateLimitedLog: the first few lines, the rest counted.
    expect(rejected.length).toBe(5);
    expect(rejected[0]).toMatchObject({ reason: 'position_invalid', field: 'la' });
    expect(String(rejected[0]!.msg)).toMatch(/field "la"/);
  });

  it('an SOS with `l` stores the fix with the alarm; later `ps` fixes join that alarm until it closes', async () => {
    t = await startTestHub({ manualClock: true });
    const f = await fob('fob-3');
    const events: unknown[] = [];
    t.hub.runtime.on('position', (e) => events.push(e));
    await f.send({ i: '1-1', k: 'sos', ag: 2, l: { la: 53.4808, lo: -2.24263, ac: 8, fa: 3, s: 'g' } });
    const [alarm] = await t.alarms();
    expect(alarm!.kind).toBe('sos');
    const raisedAt = t.clock.now();
    expect(await positions('fob-3')).toEqual([expect.objectContaining({ alarmId: alarm!.id, lat: 53.4808, fixAt: raisedAt - 3000 })]);
    await t.advance(10_000);
    await sendPosition(f, { la: 53.481, lo: -2.2427, ac: 10, fa: 1, s: 'g' });
    expect((await t.hub.store.read((tx) => tx.listAlarmPositions(alarm!.id, 100))).map((p) => p.lat)).toEqual([53.4808, 53.481]);
    expect(events).toEqual([
      { alarmId: alarm!.id, deviceId: 'fob-3' },
      { alarmId: alarm!.id, deviceId: 'fob-3' },
    ]);
    // Closed: a later fix is the worker's again, not the alarm's.
    await t.hub.runtime.alarmAction(alarm!.id, { type: 'acknowledge', by: 'user:dana' });
    await t.hub.runtime.alarmAction(alarm!.id, { type: 'resolve', by: 'user:dana', outcome: 'false_alarm', authority: 'taker' });
    await sendPosition(f, { la: 53.482, lo: -2.2428, ac: 10, fa: 0, s: 'g' });
    const all = await positions('fob-3');
    expect(all.at(-1)).toMatchObject({ lat: 53.482, alarmId: null });
    expect(events).toHaveLength(2);
  });

  it('a check-in with `l` is a fix of the worker, on no alarm, and the check-in still counts', async () => {
    t = await startTestHub({ manualClock: true });
    const f = await fob('fob-4');
    await f.send({ i: '1-1', k: 'chk', ag: 0, l: { la: 52.2, lo: 0.12, ac: 20, fa: 0, s: 'p' } });
    await t.settle();
    expect(await positions('fob-4')).toEqual([expect.objectContaining({ alarmId: null, source: 'phone' })]);
    const st = await t.hub.store.read((tx) => tx.getCheckinState('w-fob-4'));
    expect(st?.lastCheckInAt).toBe(t.clock.now());
    expect(t.hub.ingest.counters.rejected.event_invalid).toBe(0);
  });

  it('an old fob (protocol 1, no positions) works as before: SOS raised and acked, nothing stored', async () => {
    t = await startTestHub({ manualClock: true });
    const f = await fob('fob-5');
    await f.send({ i: '1-1', k: 'hi', ag: 0, fw: '0.9.0', bd: 'puck', pv: 1, bc: 1 });
    await f.send({ i: '1-2', k: 'sos', ag: 0 });
    await f.waitFor((c) => c.k === 'ack' && c.i === '1-2');
    expect(t.hub.ingest.counters.rejected.event_invalid).toBe(0);
    expect(await t.alarms()).toHaveLength(1);
    expect(await positions('fob-5')).toEqual([]);
    expect(await t.hub.store.read((tx) => t.hub.ingest.positions.get(tx, 'fob-5'))).toBeNull();
  });

  it('retention: fixes older than retention_days go on the hourly prune; the alarm’s fixes stay', async () => {
    t = await startTestHub({ manualClock: true, config: { positions: { retention_days: 1 } } });
    const f = await fob('fob-6');
    await sendPosition(f, { la: 51.1, lo: -1.1, ac: 10, fa: 0, s: 'g' });
    await f.send({ i: '1-1', k: 'sos', ag: 0, l: { la: 51.2, lo: -1.2, ac: 10, fa: 0, s: 'g' } });
    expect(await positions('fob-6')).toHaveLength(2);
    // 23 hours on: nothing is older than a day yet.
    await t.advance(23 * 3600_000);
    expect(await positions('fob-6')).toHaveLength(2);
    // Past a day, the next hourly prune removes the worker's own fix, not the alarm's.
    await t.advance(2 * 3600_000);
    expect((await positions('fob-6')).map((p) => p.lat)).toEqual([51.2]);
  });
});
