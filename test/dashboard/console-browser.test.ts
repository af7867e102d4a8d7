// Issue 15, as a new duty officer, an admin and a worker found it, in real Chromium against a real
// hub (real MQTT, real SQLite, the hub's clock driven by the test): items 1, 5, 6, 10, 11, 12, 14.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startTestHub, TEST_CONTACTS, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { createUser } from '../../hub/http/users.js';
import { PASSWORD, TEST_PASSWORD_COST, userClient } from './api-client.js';
import { launchChromium, signInPage } from './browser.js';

const MIN = 60_000;
let browser: Browser;
let t: TestHub;
let fob: TestFob;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  // Office contacts with work numbers: the buddy and the line manager are rungs the officer phones.
  const contacts = [...TEST_CONTACTS.filter((c) => c.id !== 'lm-1'), { id: 'lm-1', name: 'Lee Manager', role: 'line_manager', email: 'lee@example.org', phone: '01632 960111' }, { id: 'bud-1', name: 'Bea Buddy', role: 'buddy', phone: '01632 960222' }];
  t = await startTestHub({ manualClock: true, config: { contacts, rules: { checkin_grace_min: 5, visit_start_grace_min: 15, overdue_recheck_min: 30 } } });
  await t.addWorker('sam', { name: 'Sam Carter', buddyId: 'bud-1' });
  for (const [username, role] of [['dana', 'duty_officer'], ['dora', 'duty_officer'], ['lee', 'manager'], ['adam', 'admin']] as const) {
    await createUser(t.hub.store, { username, role, password: PASSWORD, name: username[0]!.toUpperCase() + username.slice(1) }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
  }
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  fob = await connectFob(t.mqttUrl, 'fob-1', secret);
});
afterEach(async () => {
  await fob?.close().catch(() => undefined);
  await t.stop();
});

async function startVisit(ref = 'V-1042'): Promise<void> {
  await t.addVisit({ workerId: 'sam', ref, contactName: 'Mrs Jones', contactPhone: '01632 960333' });
  await t.hub.runtime.workerAction('sam', { type: 'visit_start', ref, source: 'test' });
}

async function raiseSos(): Promise<string> {
  const ev = makeEventId(1, 1);
  await fob.send({ i: ev, k: 'sos', ag: 0 });
  await t.settle();
  const [alarm] = await t.alarms();
  return alarm!.id;
}

async function closeWith(page: Page, outcome: string, note?: string): Promise<void> {
  if (note) await page.fill('#actions textarea', note);
  await page.selectOption('#close-alarm select[name=outcome]', outcome);
  await page.click('#close-alarm [data-action="resolve"]');
}

describe('issue 15 in Chromium', () => {
  it('item 1: a second worker saved after the first has none of the first’s private data; Edit loads and clears that worker’s own', { timeout: 120_000 }, async () => {
    const page = await signInPage(browser, t.httpUrl, 'adam');
    await page.click('[data-nav="admin"]');
    await page.waitForSelector('#worker-form');
    const fill = async (fields: Record<string, string>) => {
      for (const [k, v] of Object.entries(fields)) await page.fill(`#worker-form [name=${k}]`, v);
    };
    await fill({ id: 'ali', name: 'Ali Khan', phone: '07700 900001', homeAddress: '2 Elm Street', medicalNotes: 'diabetic', car: 'red Ford Ka XY12 ZZZ', description: 'tall, grey beard', trainingDate: '2026-02-01' });
    // Emergency contacts are rows of name, relationship and phone (issue 15 item 13).
    await page.fill('#ec-rows [data-ec="1"] [data-ec-field=name]', 'Ravi Khan');
    await page.fill('#ec-rows [data-ec="1"] [data-ec-field=relationship]', 'brother');
    await page.fill('#ec-rows [data-ec="1"] [data-ec-field=phone]', '07700 900002');
    await page.click('[data-action="add-ec"]');
    await page.fill('#ec-rows [data-ec="2"] [data-ec-field=name]', 'Mina Khan');
    await page.fill('#ec-rows [data-ec="2"] [data-ec-field=phone]', '07700 900003');
    await page.click('#worker-form button[type=submit]');
    await page.waitForSelector('#admin-workers td:has-text("Ali Khan (ali)")');
    expect(await page.inputValue('#worker-form [name=medicalNotes]')).toBe('');

    await fill({ id: 'bo', name: 'Bo Lind' });
    await page.click('#worker-form button[type=submit]');
    await page.waitForSelector('#admin-workers td:has-text("Bo Lind (bo)")');
    const bo = (await t.hub.store.read((tx) => tx.getWorker('bo')))!;
    expect(bo).toMatchObject({ phone: null, homeAddress: null, medicalNotes: null, car: null, emergencyContacts: null, description: null, trainingDate: null });
    const ali = (await t.hub.store.read((tx) => tx.getWorker('ali')))!;
    expect(ali).toMatchObject({ medicalNotes: 'diabetic', car: 'red Ford Ka XY12 ZZZ', trainingDate: '2026-02-01', emergencyContacts: null });
    expect(await t.hub.store.read((tx) => tx.listEmergencyContacts('ali'))).toEqual([
      { name: 'Ravi Khan', relationship: 'brother', phone: '07700 900002' },
      { name: 'Mina Khan', relationship: null, phone: '07700 900003' },
    ]);
    expect(await t.hub.store.read((tx) => tx.listEmergencyContacts('bo'))).toEqual([]);

    // Edit Bo after Ali: Bo's (empty) fields, not what the form last held.
    await page.click('[data-action="edit-worker"][data-worker="ali"]');
    await expect.poll(() => page.inputValue('#worker-form [name=medicalNotes]')).toBe('diabetic');
    await page.click('[data-action="edit-worker"][data-worker="bo"]');
    await expect.poll(() => page.inputValue('#worker-form [name=name]')).toBe('Bo Lind');
    expect(await page.inputValue('#worker-form [name=medicalNotes]')).toBe('');
    expect(await page.inputValue('#worker-form [name=car]')).toBe('');
    expect(await page.locator('#ec-rows .ec-row').count()).toBe(1);
    expect(await page.inputValue('#ec-rows [data-ec-field=name]')).toBe('');

    // Edit Ali and clear the car: it is cleared, the rest kept.
    await page.click('[data-action="edit-worker"][data-worker="ali"]');
    await expect.poll(() => page.inputValue('#worker-form [name=car]')).toBe('red Ford Ka XY12 ZZZ');
    expect(await page.inputValue('#ec-rows [data-ec="2"] [data-ec-field=name]')).toBe('Mina Khan');
    expect(await page.inputValue('#ec-rows [data-ec="1"] [data-ec-field=relationship]')).toBe('brother');
    await page.fill('#worker-form [name=car]', '');
    await page.click('#worker-form button[type=submit]');
    await expect.poll(async () => (await t.hub.store.read((tx) => tx.getWorker('ali')))!.car).toBeNull();
    expect((await t.hub.store.read((tx) => tx.getWorker('ali')))!.medicalNotes).toBe('diabetic');
    // Loading Ali's private fields into the form was an admin view, on the audit log (R22).
    expect((await t.hub.store.listAudit(50)).some((e) => e.action === 'private.view' && e.subject === 'worker:ali')).toBe(true);

    // The API refuses a misspelt field instead of dropping it.
    const api = await userClient(t, 'adam2', 'admin');
    const bad = await api.request('PUT', '/api/workers/bo', { name: 'Bo Lind', medicalNote: 'typo' });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/medicalNote/);
    await page.close();
  });

  it('items 5, 10, 14: numbers as tel: links; close needs an outcome and is the taker’s; the hand-over has the 999 reference, notes and description', { timeout: 120_000 }, async () => {
    await startVisit();
    const id = await raiseSos();
    const page = await signInPage(browser, t.httpUrl, 'dana');
    await page.goto(`${t.httpUrl}/#/alarm/${id}`);
    await page.waitForSelector('#call');
    expect(await page.getAttribute('#call a[data-tel="visit-contact"]', 'href')).toBe('tel:01632960333');
    expect(await page.getAttribute('#call a[data-tel="buddy"]', 'href')).toBe('tel:01632960222');
    expect(await page.getAttribute('#call a[data-tel="line-manager"]', 'href')).toBe('tel:01632960111');
    expect(await page.textContent('#call')).toContain('Mrs Jones');
    await page.click('[data-action="show-numbers"]');
    expect(await (await page.waitForSelector('#call a[data-tel="worker"]')).getAttribute('href')).toBe('tel:07700900123');
    expect(await page.getAttribute('#call a[data-tel="home-contact"]', 'href')).toBe('tel:07700900456');
    expect((await t.hub.store.listAudit(20)).find((e) => e.action === 'private.view' && e.actor === 'user:dana')).toMatchObject({ detail: { fields: ['phone', 'emergencyContacts', 'emergencyContactsOldText'] } });

    await page.click('#actions [data-action="ack"]');
    await page.waitForSelector('#alarm[data-state="acknowledged"]');
    await page.fill('#actions input[name="police-ref"]', 'CAD-4471');
    await page.click('#actions [data-action="police"]');
    await page.fill('#actions textarea', 'Mrs Jones says a man arrived at 14:10');
    await page.click('#actions [data-action="note"]');
    await page.waitForSelector('#timeline li[data-step="note"]');

    // The hand-over: description, 999 reference, the officer's notes, numbers as links.
    await page.click('[data-action="handover"]');
    await page.waitForSelector('#handover');
    expect(await page.textContent('#handover [data-field="description"]')).toBe('about 1.70 m, slim, short dark hair, green raincoat');
    expect(await page.textContent('#handover-999')).toContain('CAD-4471');
    expect(await page.textContent('#handover-notes')).toContain('Mrs Jones says a man arrived at 14:10');
    expect(await page.getAttribute('#handover [data-field="phone"] a', 'href')).toBe('tel:07700900123');
    expect(await page.getAttribute('#handover a[data-tel="visit-contact"]', 'href')).toBe('tel:01632960333');
    await page.goBack();
    await page.waitForSelector('#close-alarm');

    // Another duty officer cannot close Dana's alarm: the page says so and the API refuses.
    const dora = await signInPage(browser, t.httpUrl, 'dora');
    await dora.goto(`${t.httpUrl}/#/alarm/${id}`);
    await dora.waitForSelector('#close-taken');
    expect(await dora.isDisabled('#close-alarm [data-action="resolve"]')).toBe(true);
    const doraApi = await userClient(t, 'dora2', 'duty_officer');
    await doraApi.post(`/api/alarms/${id}/acknowledge`).catch(() => undefined);
    const refused = await doraApi.post(`/api/alarms/${id}/resolve`, { outcome: 'genuine' });
    expect(refused.status).toBe(409);
    expect(refused.text).toMatch(/user:dana has taken this alarm/);
    expect(await doraApi.post(`/api/alarms/${id}/resolve`, { outcome: 'genuine', override: true }).then((r) => r.status)).toBe(403);
    await dora.close();

    // No outcome chosen: nothing happens but a message.
    await page.click('#close-alarm [data-action="resolve"]');
    await expect.poll(() => page.textContent('#toast')).toMatch(/Choose the outcome/);
    expect((await t.hub.store.read((tx) => tx.getAlarm(id)))!.state).toBe('acknowledged');
    await closeWith(page, 'police_attended', 'police on scene, Sam safe');
    await page.waitForSelector('#alarm[data-state="resolved"]');
    expect(await page.textContent('#closed-banner')).toMatch(/Police attended.*by dana/);
    const csv = await (await userClient(t, 'dana2', 'duty_officer')).get(`/api/records/export.csv?q=${id}`);
    const row = csv.text.split('\r\n').find((l) => l.includes('"resolved"') && l.includes(id))!;
    expect(row).toContain('"user:dana","police_attended"');
    await page.close();
  });

  it('item 10: a manager closes an alarm another officer has taken only as an override, on the record', { timeout: 120_000 }, async () => {
    await startVisit();
    const id = await raiseSos();
    await t.hub.runtime.alarmAction(id, { type: 'acknowledge', by: 'user:dana' });
    const page = await signInPage(browser, t.httpUrl, 'lee');
    await page.goto(`${t.httpUrl}/#/alarm/${id}`);
    await page.waitForSelector('#close-alarm [data-action="override"]');
    await page.selectOption('#close-alarm select[name=outcome]', 'genuine');
    await page.click('#close-alarm [data-action="resolve"]');
    await expect.poll(() => page.textContent('#toast')).toMatch(/has taken this alarm/);
    await page.check('#close-alarm [data-action="override"]');
    await page.click('#close-alarm [data-action="resolve"]');
    await page.waitForSelector('#alarm[data-state="resolved"]');
    const resolved = (await t.timeline(id)).find((e) => e.type === 'resolved')!;
    expect(resolved).toMatchObject({ actor: 'user:lee', detail: { outcome: 'genuine', override: true, takenBy: 'user:dana' } });
    expect(await page.textContent('#timeline')).toContain('override: taken by dana');
    await page.close();
  });

  it('item 11: a cancel from the fob leaves the SOS on the board as "call back to confirm" until an officer closes it', { timeout: 120_000 }, async () => {
    await startVisit();
    const page = await signInPage(browser, t.httpUrl, 'dana');
    await page.waitForSelector('#live:not(.off)');
    const ev = makeEventId(1, 1);
    await fob.send({ i: ev, k: 'sos', ag: 0 });
    await page.waitForSelector('#open-alarms [data-kind="sos"]');
    await fob.send({ i: makeEventId(1, 2), k: 'can', ag: 0, r: ev });
    await page.waitForSelector('#open-alarms [data-kind="sos"] [data-worker-cancelled]');
    expect(await page.textContent('#open-alarms [data-kind="sos"]')).toMatch(/Cancelled by the worker at \d\d:\d\d: call back to confirm/);
    await page.click('#open-alarms [data-kind="sos"] a.button');
    await page.waitForSelector('#worker-cancelled');
    await page.click('#actions [data-action="ack"]');
    await page.waitForSelector('#alarm[data-state="acknowledged"]');
    await closeWith(page, 'safe_after_callback', 'called back, code questions answered: pressed by mistake');
    await page.waitForSelector('#alarm[data-state="resolved"]');
    const [alarm] = await t.alarms();
    expect(alarm).toMatchObject({ state: 'resolved', outcome: 'safe_after_callback', closedBy: 'user:dana' });
    const csv = await (await userClient(t, 'dana2', 'duty_officer')).get(`/api/records/export.csv?q=${alarm!.id}`);
    expect(csv.text).toContain('"worker_cancelled"');
    expect(csv.text).toContain(`"safe_after_callback","${new Date(alarm!.workerCancelledAt!).toISOString()}"`);
    await page.close();
  });

  it('item 6: a planned visit never started becomes a board alarm with its timeline entry, and the worker shows "visit not started"', { timeout: 120_000 }, async () => {
    await t.addVisit({ workerId: 'sam', ref: 'V-2002', scheduledStart: t.clock.now() + 10 * MIN, expectedEnd: t.clock.now() + 70 * MIN });
    await t.hub.runtime.workerAction('sam', { type: 'itinerary_changed' });
    const page = await signInPage(browser, t.httpUrl, 'dana');
    await page.waitForSelector('#live:not(.off)');
    await t.advance(25 * MIN); // start + 15 min grace: the fob is prompted
    await fob.waitFor((c) => c.k === 'prm');
    await page.click('[data-nav="workers"]');
    await expect.poll(() => page.textContent('#workers tr[data-worker="sam"]')).toContain('visit not started');
    await page.click('[data-nav="alarms"]');
    await t.advance(5 * MIN); // no answer within the check-in grace: the ladder runs
    const card = await page.waitForSelector('#open-alarms [data-kind="missed_checkin"]');
    expect(await card.textContent()).toContain('Visit not started');
    await page.click('#open-alarms [data-kind="missed_checkin"] a.button');
    await page.waitForSelector('#timeline li[data-step="raised"]');
    expect(await page.textContent('#timeline li[data-step="raised"]')).toMatch(/Visit not started.*V-2002/);
    await page.close();
  });

  it('item 12: a check-in while overdue closes the alarm and clears the visit: no second alarm', { timeout: 120_000 }, async () => {
    await t.addVisit({ workerId: 'sam', ref: 'V-3003', expectedEnd: t.clock.now() + 30 * MIN });
    await t.hub.runtime.workerAction('sam', { type: 'visit_start', ref: 'V-3003', source: 'test' });
    const page = await signInPage(browser, t.httpUrl, 'dana');
    await page.waitForSelector('#live:not(.off)');
    await t.advance(30 * MIN);
    await t.advance(5 * MIN);
    await page.waitForSelector('#open-alarms [data-kind="missed_checkin"]');
    await fob.send({ i: makeEventId(2, 1), k: 'chk', ag: 0 });
    await t.settle();
    await expect.poll(() => page.textContent('#board h1')).toBe('No active alarms');
    await t.advance(1 * MIN);
    await t.advance(5 * MIN);
    await t.advance(10 * MIN);
    expect((await t.alarms()).filter((a) => a.kind === 'missed_checkin')).toHaveLength(1);
    await page.click('[data-nav="workers"]');
    const row = (await page.textContent('#workers tr[data-worker="sam"]'))!;
    expect(row).toContain('on visit');
    expect(row).not.toContain('overdue');
    await page.close();
  });
});
