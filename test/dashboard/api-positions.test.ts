// Issue 20: the positions API (the dashboard map is built on exactly this shape), its live SSE event,
// and R22: who may see a worker's position when, every view and every refusal in the audit log.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { positionTopic, type Position, type PositionSource } from '../../shared/protocol-core.js';
import { userClient } from './api-client.js';

let t: TestHub;
const fobs: TestFob[] = [];

beforeEach(async () => {
  t = await startTestHub({ manualClock: true });
  await t.addWorker('sam', { name: 'Sam Carter' });
});
afterEach(async () => {
  for (const f of fobs.splice(0)) await f.close().catch(() => undefined);
  await t.stop();
});

async function fob(deviceId: string, workerId: string): Promise<TestFob> {
  const { secret } = await t.addDevice(deviceId, { workerId });
  const f = await connectFob(t.mqttUrl, deviceId, secret);
  fobs.push(f);
  return f;
}

const fix = (la: number, lo: number, ac = 10, fa = 0, s: PositionSource = 'g'): Position => ({ la, lo, ac, fa, s });
async function sendPosition(f: TestFob, p: ReturnType<typeof fix>): Promise<void> {
  // QoS 1 in the test so the PUBACK says the hub has it (fobs use QoS 0).
  await f.client.publishAsync(positionTopic(f.deviceId), JSON.stringify(p), { qos: 1 });
}

type Pos = { lat: number; lon: number; accuracyM: number; fixAt: string; receivedAt: string; source: string };
type Track = { positions: Pos[]; latest: Pos | null; visit: { ref: string; address: string | null } | null };

async function audit(action: string) {
  return (await t.hub.store.listAudit(100)).filter((a) => a.action === action);
}

describe('GET /api/alarms/:id/positions', () => {
  it('the last fix before the alarm, the one it came with and every one since, oldest first; latest; the visit', async () => {
    const f = await fob('fob-1', 'sam');
    await t.addVisit({ workerId: 'sam', ref: 'V-1001' });
    await f.send({ i: '1-1', k: 'vs', ag: 0, v: 'V-1001' });
    const t0 = t.clock.now();
    await sendPosition(f, fix(51.5, -0.12, 15, 0, 'g'));
    await t.advance(60_000);
    await f.send({ i: '1-2', k: 'sos', ag: 0, l: fix(51.501, -0.121, 8, 5, 'g') });
    await t.settle();
    const [alarm] = await t.alarms();
    await t.advance(10_000);
    await sendPosition(f, fix(51.502, -0.122, 30, 1, 'p'));
    const officer = await userClient(t, 'dana', 'duty_officer');
    const res = await officer.get<Track>(`/api/alarms/${alarm!.id}/positions`);
    expect(res.status).toBe(200);
    expect(res.body.positions).toEqual([
      { lat: 51.5, lon: -0.12, accuracyM: 15, fixAt: new Date(t0).toISOString(), receivedAt: new Date(t0).toISOString(), source: 'gnss' },
      { lat: 51.501, lon: -0.121, accuracyM: 8, fixAt: new Date(t0 + 55_000).toISOString(), receivedAt: new Date(t0 + 60_000).toISOString(), source: 'gnss' },
      { lat: 51.502, lon: -0.122, accuracyM: 30, fixAt: new Date(t0 + 69_000).toISOString(), receivedAt: new Date(t0 + 70_000).toISOString(), source: 'phone' },
    ]);
    expect(res.body.latest).toEqual(res.body.positions[2]);
    expect(res.body.visit).toEqual({ ref: 'V-1001', address: null });
    const views = await audit('position.view');
    expect(views).toEqual([expect.objectContaining({ actor: 'user:dana', subject: 'worker:sam', detail: expect.objectContaining({ context: `alarm_positions:${alarm!.id}`, role: 'duty_officer', fixes: 3 }) })]);
    expect((await officer.get('/api/alarms/nope/positions')).status).toBe(404);
  });

  it('an alarm from an old fob has no positions: empty list, latest null', async () => {
    const f = await fob('fob-2', 'sam');
    await f.send({ i: '1-1', k: 'sos', ag: 0 });
    const [alarm] = await t.alarms();
    const officer = await userClient(t, 'dana', 'duty_officer');
    const res = await officer.get<Track>(`/api/alarms/${alarm!.id}/positions`);
    expect(res.body).toEqual({ positions: [], latest: null, visit: null });
  });

  it('SSE: a fix for an open alarm is announced as `position` {alarmId, deviceId}, without coordinates', async () => {
    const f = await fob('fob-3', 'sam');
    await f.send({ i: '1-1', k: 'cov', ag: 0 });
    const [alarm] = await t.alarms();
    const officer = await userClient(t, 'dana', 'duty_officer');
    const res = await fetch(`${t.httpUrl}/api/events`, { headers: { cookie: officer.cookie! } });
    const reader = res.body!.getReader();
    let text = '';
    const read = (async () => {
      while (!text.includes('event: position')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    })();
    await sendPosition(f, fix(52.1, 1.1));
    await read;
    const frame = text.slice(text.indexOf('event: position'));
    const data = JSON.parse(frame.split('\n').find((l) => l.startsWith('data: '))!.slice(6));
    expect(data).toEqual({ alarmId: alarm!.id, deviceId: 'fob-3' });
    await reader.cancel();
  });
});

describe('R22: who sees a position, and when', () => {
  it('off shift and no alarm: the duty officer and the manager are refused (403, audited); the admin sees it', async () => {
    const f = await fob('fob-4', 'sam');
    await sendPosition(f, fix(51.4, -0.2));
    const officer = await userClient(t, 'dana', 'duty_officer');
    const manager = await userClient(t, 'lee', 'manager');
    const admin = await userClient(t, 'ada', 'admin');
    const o = await officer.get<{ error: string }>('/api/workers/sam/position');
    expect(o.status).toBe(403);
    expect(o.body.error).toMatch(/during their shift or an open alarm.*audit log/);
    const m = await manager.get<{ error: string }>('/api/workers/sam/position');
    expect(m.status).toBe(403);
    expect(m.body.error).toMatch(/manager sees a worker's position only during an open alarm/);
    const refused = await audit('position.refused');
    expect(refused.map((r) => [r.actor, r.subject, r.detail.role])).toEqual([
      ['user:lee', 'worker:sam', 'manager'],
      ['user:dana', 'worker:sam', 'duty_officer'],
    ]);
    expect(await audit('position.view')).toEqual([]);
    const a = await admin.get<{ latest: Pos; shiftActive: boolean }>('/api/workers/sam/position');
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ latest: expect.objectContaining({ lat: 51.4, lon: -0.2, source: 'gnss' }), shiftActive: false });
    expect((await audit('position.view')).map((v) => v.actor)).toEqual(['user:ada']);
  });

  it('on shift: the duty officer sees it, the manager still not; an open alarm opens it to the manager', async () => {
    const f = await fob('fob-5', 'sam');
    await t.addVisit({ workerId: 'sam', ref: 'V-2002' });
    await f.send({ i: '1-1', k: 'vs', ag: 0, v: 'V-2002' });
    await sendPosition(f, fix(51.45, -0.15));
    const officer = await userClient(t, 'dana', 'duty_officer');
    const manager = await userClient(t, 'lee', 'manager');
    const o = await officer.get<{ latest: Pos; shiftActive: boolean }>('/api/workers/sam/position');
    expect(o.status).toBe(200);
    expect(o.body.shiftActive).toBe(true);
    expect(o.body.latest).toMatchObject({ lat: 51.45 });
    expect((await manager.get('/api/workers/sam/position')).status).toBe(403);
    await f.send({ i: '1-2', k: 'sos', ag: 0 });
    const m = await manager.get<{ latest: Pos }>('/api/workers/sam/position');
    expect(m.status).toBe(200);
    expect(m.body.latest).toMatchObject({ lat: 51.45 });
    expect((await audit('position.view')).find((v) => v.actor === 'user:lee')?.detail).toMatchObject({ because: 'open alarm', alarmId: expect.any(String) });
  });

  it("a closed alarm's track is for an admin: the duty officer is refused once it is closed", async () => {
    const f = await fob('fob-6', 'sam');
    await f.send({ i: '1-1', k: 'sos', ag: 0, l: fix(51.3, -0.3) });
    const [alarm] = await t.alarms();
    const officer = await userClient(t, 'dana', 'duty_officer');
    expect((await officer.get(`/api/alarms/${alarm!.id}/positions`)).status).toBe(200);
    await officer.post(`/api/alarms/${alarm!.id}/acknowledge`);
    await officer.post(`/api/alarms/${alarm!.id}/resolve`, { outcome: 'false_alarm' });
    const late = await officer.get<{ error: string }>(`/api/alarms/${alarm!.id}/positions`);
    expect(late.status).toBe(403);
    expect(late.body.error).toMatch(/only while it is open/);
    expect((await audit('position.refused'))[0]).toMatchObject({ actor: 'user:dana', subject: 'worker:sam', detail: expect.objectContaining({ alarmId: alarm!.id }) });
    const admin = await userClient(t, 'ada', 'admin');
    const a = await admin.get<Track>(`/api/alarms/${alarm!.id}/positions`);
    expect(a.status).toBe(200);
    expect(a.body.latest).toMatchObject({ lat: 51.3, lon: -0.3 });
  });
});
