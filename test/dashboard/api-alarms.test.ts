// The API around alarms, workers and records, against a real hub with real MQTT fobs: the live board
// order, server-sent events, the covert script, the police hand-over, R22 privacy with its audit,
// itinerary editing with the R8/R9 checks, records and CSV, devices, and 400s that name the field.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { type ApiClient, userClient } from './api-client.js';

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

type AlarmJson = { id: string; kind: string; open: boolean; state: string; workerName: string };

async function raise(f: TestFob, k: 'sos' | 'cov' | 'mdn', seq: number): Promise<void> {
  await f.send({ i: makeEventId(1, seq), k, ag: 0 });
  await t.settle();
}

describe('alarm board', () => {
  it('R3: open alarms first, loudest first; closed ones after', async () => {
    const f = await fob('fob-1', 'sam');
    await t.addWorker('ann', { name: 'Ann Lee' });
    const g = await fob('fob-2', 'ann');
    await raise(g, 'cov', 1);
    await t.advance(60_000);
    await raise(f, 'sos', 1);
    await t.advance(60_000);
    await raise(g, 'mdn', 2);
    const officer = await userClient(t, 'dana', 'duty_officer');
    const first = await officer.get<{ alarms: AlarmJson[] }>('/api/alarms');
    expect(first.body.alarms.map((a) => a.kind)).toEqual(['sos', 'covert_sos', 'man_down']);
    const sos = first.body.alarms[0]!;
    // What the policy says to do now, for the officer at a glance.
    expect(sos).toMatchObject({ step: 'inform the chain', steps: 2, allAtOnce: true });
    expect(first.body.alarms.find((x) => x.kind === 'man_down')).toMatchObject({ nextStepAt: expect.any(Number) });
    expect((await officer.post(`/api/alarms/${sos.id}/acknowledge`)).status).toBe(200);
    expect((await officer.post(`/api/alarms/${sos.id}/resolve`, { outcome: 'genuine', note: 'worker safe' })).status).toBe(200);
    const after = await officer.get<{ alarms: AlarmJson[] }>('/api/alarms');
    expect(after.body.alarms.map((a) => [a.kind, a.open])).toEqual([
      ['covert_sos', true],
      ['man_down', true],
      ['sos', false],
    ]);
  });

  it('server-sent events announce a new alarm to a signed-in dashboard', async () => {
    const f = await fob('fob-1', 'sam');
    const officer = await userClient(t, 'dana', 'duty_officer');
    // The stream stays open until the hub stops (which ends it), as a dashboard's would.
    const res = await fetch(`${t.httpUrl}/api/events`, { headers: { cookie: officer.cookie! } });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const read = (async () => {
      while (!text.includes('event: alarm')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    })();
    await raise(f, 'cov', 1);
    await read;
    const [alarm] = await t.alarms();
    expect(text).toContain(`"alarmId":"${alarm!.id}"`);
    const anon = await fetch(`${t.httpUrl}/api/events`);
    expect(anon.status).toBe(401);
  });

  it('HEAD /api/events answers its headers and ends, holding no stream open (found by the fuzz harness)', async () => {
    const officer = await userClient(t, 'dana', 'duty_officer');
    // Before the fix the headers never came: node sends a HEAD response's headers only at its end.
    const res = await fetch(`${t.httpUrl}/api/events`, { method: 'HEAD', headers: { cookie: officer.cookie! }, signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(await res.text()).toBe('');
  });

  it('R4, R5, R19: covert alarm: script answers, the 5-minute call-back, notes, police called and the hand-over, all in the timeline', async () => {
    const f = await fob('fob-1', 'sam');
    await t.addVisit({ workerId: 'sam', ref: 'V-1042', nextLocation: 'office' });
    await t.hub.runtime.workerAction('sam', { type: 'visit_start', ref: 'V-1042', source: 'test' });
    await raise(f, 'cov', 1);
    const officer = await userClient(t, 'dana', 'duty_officer');
    const [alarm] = await t.alarms();
    const id = alarm!.id;

    const detail = await officer.get<{ visit: { ref: string }; script: { questions: { id: string }[] }; lastSighting: { kind: string } | null }>(`/api/alarms/${id}`);
    expect(detail.body.visit.ref).toBe('V-1042');
    expect(detail.body.script.questions.map((q) => q.id)).toEqual(['at_address', 'in_danger', 'need_police', 'weapon', 'need_staff', 'call_back']);
    expect(detail.body.lastSighting).not.toBeNull();

    expect((await officer.post(`/api/alarms/${id}/script`, { question: 'in_danger', answer: 'yes', note: 'whispered' })).status).toBe(200);
    const cb = await officer.post<{ dueAt: number }>(`/api/alarms/${id}/script`, { question: 'call_back', answer: 'yes' });
    expect(cb.status).toBe(200);
    const afterCb = await officer.get<{ script: { callbackDueAt: number; questions: { id: string; answer: string | null; note: string | null }[] } }>(`/api/alarms/${id}`);
    expect(afterCb.body.script.callbackDueAt).toBe(t.clock.now() + 5 * 60_000);
    expect(afterCb.body.script.questions.find((q) => q.id === 'in_danger')).toMatchObject({ answer: 'yes', note: 'whispered' });
    expect((await officer.post(`/api/alarms/${id}/notes`, { text: 'dispatching colleague' })).status).toBe(200);
    expect((await officer.post(`/api/alarms/${id}/acknowledge`)).status).toBe(200);
    expect((await officer.post(`/api/alarms/${id}/police-called`, { reference: 'CAD 4411' })).status).toBe(200);

    const handover = await officer.get<{ worker: Record<string, unknown>; visit: { ref: string; nextLocation: string } }>(`/api/alarms/${id}/handover`);
    expect(handover.status).toBe(200);
    // R5: location (visit and last sighting), phone, emergency contacts, medical details, car.
    expect(handover.body.worker).toMatchObject({ name: 'Sam Carter', phone: '07700 900123', homeAddress: '1 Private Road', medicalNotes: 'asthma', car: 'blue Fiat 500 AB12 CDE', emergencyContacts: [{ name: 'Alex Carter', relationship: 'partner', phone: '07700 900456' }], emergencyContactsOldText: null });
    expect(handover.body.visit).toMatchObject({ ref: 'V-1042', nextLocation: 'office' });

    expect((await officer.post(`/api/alarms/${id}/resolve`, { outcome: 'police_attended', note: 'police on scene, Sam safe' })).status).toBe(200);
    const types = (await t.timeline(id)).map((e) => e.type);
    for (const step of ['raised', 'script_answer', 'callback_scheduled', 'note', 'acknowledged', 'police_called', 'handover_viewed', 'resolved']) expect(types).toContain(step);
    const audit = await t.hub.store.listAudit(50);
    expect(audit.find((e) => e.action === 'private.view')).toMatchObject({ actor: 'user:dana', subject: 'worker:sam', detail: { context: `police_handover:${id}` } });
  });

  it('R6, R20: cancel as a false alarm needs a reason; a second acknowledgement is refused and recorded', async () => {
    const f = await fob('fob-1', 'sam');
    await raise(f, 'sos', 1);
    const [alarm] = await t.alarms();
    const dana = await userClient(t, 'dana', 'duty_officer');
    const lee = await userClient(t, 'lee', 'manager');
    const noReason = await dana.post(`/api/alarms/${alarm!.id}/cancel`, {});
    expect(noReason.status).toBe(400);
    expect(noReason.body).toMatchObject({ field: 'reason' });
    expect((await dana.post(`/api/alarms/${alarm!.id}/acknowledge`)).status).toBe(200);
    const second = await lee.post(`/api/alarms/${alarm!.id}/acknowledge`);
    expect(second.status).toBe(409);
    // Dana has it: another officer may not cancel it, and a duty officer may not override (item 10).
    const dora = await userClient(t, 'dora', 'duty_officer');
    const notTheirs = await dora.post(`/api/alarms/${alarm!.id}/cancel`, { reason: 'looks like a mistake' });
    expect(notTheirs.status).toBe(409);
    expect(notTheirs.text).toMatch(/user:dana has taken this alarm/);
    expect((await dora.post(`/api/alarms/${alarm!.id}/cancel`, { reason: 'x', override: true })).status).toBe(403);
    expect((await t.alarms())[0]!.state).toBe('acknowledged');
    expect((await dana.post(`/api/alarms/${alarm!.id}/cancel`, { reason: 'pressed by mistake' })).status).toBe(200);
    const after = (await t.alarms())[0]!;
    expect(after.state).toBe('cancelled');
    expect(after.outcome).toBe('false_alarm');
    expect((await t.timeline(alarm!.id)).map((e) => e.actor)).toContain('user:lee');
  });
});

describe('R22: private details', () => {
  it('R22: a manager cannot see medical notes outside an alarm; the attempt is logged; during an alarm they can', async () => {
    const f = await fob('fob-1', 'sam');
    const lee = await userClient(t, 'lee', 'manager');
    const refused = await lee.get('/api/workers/sam/private?fields=medicalNotes');
    expect(refused.status).toBe(403);
    expect((refused.body as { error: string }).error).toMatch(/audit log/);
    expect(refused.text).not.toContain('asthma');
    let audit = await t.hub.store.listAudit(10);
    expect(audit[0]).toMatchObject({ actor: 'user:lee', action: 'private.refused', subject: 'worker:sam', detail: { fields: ['medicalNotes'], role: 'manager' } });

    // Phone and emergency contacts: a manager may reach their worker any time (logged too).
    const phone = await lee.get<{ details: Record<string, unknown>; withheld: { field: string }[] }>('/api/workers/sam/private');
    expect(phone.status).toBe(200);
    expect(phone.body.details).toEqual({ phone: '07700 900123', emergencyContacts: [{ name: 'Alex Carter', relationship: 'partner', phone: '07700 900456' }], emergencyContactsOldText: null });
    expect(phone.body.withheld.map((w) => w.field)).toEqual(['homeAddress', 'medicalNotes', 'car', 'description']);

    await raise(f, 'sos', 1);
    const during = await lee.get<{ details: Record<string, string>; alarmId: string }>('/api/workers/sam/private?fields=medicalNotes');
    expect(during.status).toBe(200);
    expect(during.body.details).toEqual({ medicalNotes: 'asthma' });
    audit = await t.hub.store.listAudit(10);
    expect(audit[0]).toMatchObject({ action: 'private.view', detail: { fields: ['medicalNotes'], alarmId: during.body.alarmId } });
  });

  it('R5, R22: a duty officer sees nothing private without an active alarm; an admin sees everything; the hand-over is refused after the alarm', async () => {
    const f = await fob('fob-1', 'sam');
    const dana = await userClient(t, 'dana', 'duty_officer');
    const adam = await userClient(t, 'adam', 'admin');
    expect((await dana.get('/api/workers/sam/private')).status).toBe(403);
    expect((await adam.get('/api/workers/sam/private')).status).toBe(200);
    await raise(f, 'cov', 1);
    const [alarm] = await t.alarms();
    expect((await dana.get(`/api/alarms/${alarm!.id}/handover`)).status).toBe(200);
    await dana.post(`/api/alarms/${alarm!.id}/resolve`, { outcome: 'false_alarm' });
    expect((await dana.get(`/api/alarms/${alarm!.id}/handover`)).status).toBe(403);
    // Lists never carry private fields.
    const board = await dana.get('/api/workers');
    expect(board.text).not.toMatch(/asthma|Private Road|AB12/);
  });

  it('an unknown private field is a 400 naming the parameter', async () => {
    const adam = await userClient(t, 'adam', 'admin');
    const res = await adam.get('/api/workers/sam/private?fields=shoeSize');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ field: 'fields' });
  });
});

describe('workers and itineraries', () => {
  let dana: ApiClient;
  beforeEach(async () => {
    dana = await userClient(t, 'dana', 'duty_officer');
  });

  it('the board shows status, next check-in due, and follows visits started, extended and ended', async () => {
    await fob('fob-1', 'sam');
    const add = await dana.post<{ visit: { ref: string } }>('/api/workers/sam/visits', { ref: 'U-7', durationMin: 30, unplanned: true, startNow: true });
    expect(add.status).toBe(201);
    type Row = { id: string; status: string[]; activeVisit: { ref: string; expectedEnd: number } | null; nextDue: { at: number } | null; devices: { online: boolean }[] };
    let board = await dana.get<{ workers: Row[] }>('/api/workers');
    let sam = board.body.workers.find((w) => w.id === 'sam')!;
    expect(sam.status).toContain('on visit');
    expect(sam.activeVisit!.ref).toBe('U-7');
    const end = sam.activeVisit!.expectedEnd;
    expect((await dana.post('/api/workers/sam/actions', { type: 'extend', minutes: 20 })).status).toBe(200);
    board = await dana.get<{ workers: Row[] }>('/api/workers');
    sam = board.body.workers.find((w) => w.id === 'sam')!;
    expect(sam.activeVisit!.expectedEnd).toBe(end + 20 * 60_000);
    expect(sam.nextDue).not.toBeNull();
    expect((await dana.post('/api/workers/sam/actions', { type: 'visit_end' })).status).toBe(200);
    board = await dana.get<{ workers: Row[] }>('/api/workers');
    expect(board.body.workers.find((w) => w.id === 'sam')!.status).toContain('between visits');
    const nothing = await dana.post('/api/workers/sam/actions', { type: 'extend', minutes: 5 });
    expect(nothing.status).toBe(409);
  });

  it('R8, R9: a Category 2 visit without a second worker is refused naming the field', async () => {
    const res = await dana.post('/api/workers/sam/visits', { ref: 'V-2', durationMin: 60, riskCategory: 2 });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ field: 'secondWorkerId' });
    expect((res.body as { error: string }).error).toMatch(/Category 2/);
  });

  it('R8, R9: with visit_policy_breach = "flag" the visit is recorded with warnings', async () => {
    await t.stop();
    t = await startTestHub({ manualClock: true, config: { rules: { visit_policy_breach: 'flag' } } });
    await t.addWorker('sam', { trainingDate: null });
    dana = await userClient(t, 'dana', 'duty_officer');
    const res = await dana.post<{ warnings: string[]; visit: { policyFlags: string[] } }>('/api/workers/sam/visits', { ref: 'V-3', durationMin: 60, rag: 'red' });
    expect(res.status).toBe(201);
    expect(res.body.visit.policyFlags).toEqual(['red_lone', 'training_missing']);
    expect(res.body.warnings.join(' ')).toMatch(/no lone-working training/);
  });

  it('bad input is a 400 naming the field', async () => {
    const cases: [string, unknown, string][] = [
      ['/api/workers/sam/visits', { ref: '1 High Street, Leeds', durationMin: 30 }, 'ref'],
      ['/api/workers/sam/visits', { ref: 'V-9', durationMin: 30, rag: 'purple' }, 'rag'],
      ['/api/workers/sam/visits', { ref: 'V-9' }, 'expectedEnd'],
      ['/api/workers/sam/visits', { ref: 'V-9', scheduledStart: 'tomorrow', durationMin: 5 }, 'scheduledStart'],
      ['/api/workers/sam/actions', { type: 'extend', minutes: 0 }, 'minutes'],
      ['/api/workers/sam/actions', { type: 'dance' }, 'type'],
      ['/api/alarms/x1/script', { question: 'weapon', answer: 'maybe' }, 'answer'],
      ['/api/alarms/x1/notes', { text: '' }, 'text'],
    ];
    for (const [path, body, field] of cases) {
      const res = await dana.post(path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}: ${res.text}`).toBe(400);
      expect(res.body, path).toMatchObject({ field });
      expect((res.body as { error: string }).error, path).toContain(field);
    }
    const notJson = await dana.request('POST', '/api/workers/sam/visits', '{oops', { headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ error: expect.any(String) });
    const unknownAlarm = await dana.post('/api/alarms/nope/acknowledge');
    expect(unknownAlarm.status).toBe(404);
    expect((await dana.get('/api/nowhere')).status).toBe(404);
  });
});

describe('records and administration', () => {
  it('R19, R20: records are searchable and export as CSV with every timeline step; the export is audited', async () => {
    const f = await fob('fob-1', 'sam');
    await raise(f, 'sos', 1);
    await raise(f, 'cov', 2);
    const dana = await userClient(t, 'dana', 'duty_officer');
    const [a] = (await dana.get<{ alarms: AlarmJson[] }>('/api/alarms')).body.alarms;
    await dana.post(`/api/alarms/${a!.id}/notes`, { text: 'zebra crossing outside' });
    const hit = await dana.get<{ records: { id: string; steps: number }[] }>('/api/records?q=zebra');
    expect(hit.body.records.map((r) => r.id)).toEqual([a!.id]);
    expect((await dana.get<{ records: unknown[] }>('/api/records?kind=covert_sos')).body.records).toHaveLength(1);
    expect((await dana.get<{ records: unknown[] }>('/api/records?q=Sam%20Carter')).body.records).toHaveLength(2);
    const badDate = await dana.get('/api/records?from=yesterday');
    expect(badDate.status).toBe(400);
    expect(badDate.body).toMatchObject({ field: 'from' });
    const csv = await dana.get('/api/records/export.csv?q=zebra');
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('"incident","kind","worker","device","visit","raised_at","state","closed_by","outcome","worker_cancelled_at","seq","at","step","actor","detail","raised_local","at_local","response","kind_label","step_words"');
    // For people: the hub's local time with its zone, and the response in words.
    expect(lines[1]).toMatch(/"\d{4}-\d\d-\d\d \d\d:\d\d [A-Z][A-Za-z0-9+:-]*","\d{4}-\d\d-\d\d \d\d:\d\d [^"]+","(taken after [^"]+|not taken yet|closed without being taken)","[A-Za-z -]+","[^"]*"$/);
    // Delivery steps in words (issue 15 item 15): who, by what, what was confirmed; no notice id.
    const deliveryRows = lines.filter((l) => l.includes('"delivery","notifier:'));
    expect(deliveryRows.length).toBeGreaterThan(0);
    expect(deliveryRows[0]).toMatch(/,"E-mail to Dana Duty \(duty officer\) at d\*\*\*@example\.org: NOT SENT: the hub has no e-mail set up \(\[notifiers\.email\] is not configured\)"$/);
    expect(lines.length - 1).toBe(hit.body.records[0]!.steps);
    expect(csv.text).toContain('zebra crossing outside');
    expect((await t.hub.store.listAudit(5)).some((e) => e.action === 'records.export')).toBe(true);
  });

  it('admin registers a fob (secret shown once, then it connects), revokes it (dropped at once), and sees the policies', async () => {
    const adam = await userClient(t, 'adam', 'admin');
    const reg = await adam.post<{ secret: string }>('/api/admin/devices', { deviceId: 'fob-new', workerId: 'sam', board: 'puck' });
    expect(reg.status).toBe(201);
    expect(reg.headers.get('cache-control')).toBe('no-store');
    const list = await adam.get('/api/admin/devices');
    expect(list.text).not.toContain(reg.body.secret);
    const dup = await adam.post('/api/admin/devices', { deviceId: 'fob-new' });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ field: 'deviceId' });
    const badBoard = await adam.post('/api/admin/devices', { deviceId: 'fob-b', board: 'arduino' });
    expect(badBoard.body).toMatchObject({ field: 'board' });
    const f = await connectFob(t.mqttUrl, 'fob-new', reg.body.secret);
    fobs.push(f);
    const closed = new Promise<void>((r) => f.client.once('close', () => r()));
    expect((await adam.post('/api/admin/devices/fob-new/revoke')).status).toBe(200);
    await closed;
    const policies = await adam.get<{ alarmPolicies: { kind: string; policy: string }[]; policies: { name: string; levels: unknown[] }[] }>('/api/admin/policies');
    expect(policies.body.alarmPolicies.find((p) => p.kind === 'covert_sos')!.policy).toBe('sos');
    expect(policies.body.policies.map((p) => p.name)).toContain('missed_checkin');
    const audit = await adam.get<{ entries: { action: string; actor: string }[] }>('/api/admin/audit?action=device.revoke');
    expect(audit.body.entries[0]).toMatchObject({ actor: 'user:adam' });
  });

  it('R22: admin edits a worker record; only changed field names are audited, never values', async () => {
    const adam = await userClient(t, 'adam', 'admin');
    const res = await adam.request('PUT', '/api/workers/sam', { name: 'Sam Carter', medicalNotes: 'asthma, inhaler in bag', buddyId: 'lm-1' });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('inhaler');
    const bad = await adam.request('PUT', '/api/workers/sam', { name: 'Sam', lineManagerId: 'ghost' });
    expect(bad.status).toBe(404);
    expect(bad.body).toMatchObject({ field: 'lineManagerId' });
    const badDate = await adam.request('PUT', '/api/workers/sam', { name: 'Sam', trainingDate: '01/02/2026' });
    expect(badDate.body).toMatchObject({ field: 'trainingDate' });
    const entry = (await t.hub.store.listAudit(5)).find((e) => e.action === 'worker.update')!;
    expect(entry.detail).toEqual({ fields: ['name', 'medicalNotes', 'buddyId'] });
    expect(JSON.stringify(await t.hub.store.listAudit(50))).not.toContain('inhaler');
  });

  it('OpenAPI is served at /docs', async () => {
    const res = await fetch(`${t.httpUrl}/docs/json`);
    const spec = (await res.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/alarms', '/api/alarms/{id}/handover', '/api/workers/{id}/visits', '/api/admin/devices']));
  });
});

describe('the dashboard page', () => {
  it('is served with a strict CSP and no inline script or style', async () => {
    const res = await fetch(`${t.httpUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'; connect-src 'self'/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    expect(html).not.toMatch(/<script>|<script(?![^>]*src=)[^>]*>|<style|style=|onclick=/i);
    const link = await fetch(`${t.httpUrl}/alarms/abc123`, { redirect: 'manual' });
    expect(link.headers.get('location')).toBe('/#/alarm/abc123');
  });
});
