// The duty officer's dashboard in a real browser: a virtual fob raises a covert SOS, it appears live
// without a reload (with the audible alert), the officer works through the purple-file script,
// acknowledges, opens the police hand-over and resolves; the timeline shows every step. And R22: a
// manager cannot see a worker's medical notes outside an alarm, and the attempt is logged.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { createUser } from '../../hub/http/users.js';
import { PASSWORD, TEST_PASSWORD_COST } from './api-client.js';
import { launchChromium, signInPage } from './browser.js';

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
  t = await startTestHub({ manualClock: true });
  await t.addWorker('sam', { name: 'Sam Carter' });
  for (const [username, role] of [['dana', 'duty_officer'], ['lee', 'manager'], ['adam', 'admin']] as const) {
    await createUser(t.hub.store, { username, role, password: PASSWORD, name: username[0]!.toUpperCase() + username.slice(1) }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
  }
  await t.addVisit({ workerId: 'sam', ref: 'V-1042', nextLocation: 'office' });
  await t.hub.runtime.workerAction('sam', { type: 'visit_start', ref: 'V-1042', source: 'test' });
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  fob = await connectFob(t.mqttUrl, 'fob-1', secret);
});
afterEach(async () => {
  await fob?.close().catch(() => undefined);
  await t.stop();
});

describe('dashboard in Chromium', () => {
  it('R4, R5: covert SOS: live on the board, script answers, call-back timer, acknowledge, hand-over, resolve, full timeline', { timeout: 120_000 }, async () => {
    const page = await signInPage(browser, t.httpUrl, 'dana');
    await page.waitForSelector('#board');
    await expect.poll(() => page.textContent('#board h1')).toBe('No active alarms');
    await page.waitForSelector('#live:not(.off)');

    // The fob raises a covert SOS over MQTT; the board shows it without a reload, with a beep.
    await fob.send({ i: makeEventId(1, 1), k: 'cov', ag: 0 });
    const card = await page.waitForSelector('#open-alarms [data-kind="covert_sos"]', { timeout: 10_000 });
    expect(await card.textContent()).toContain('Sam Carter');
    expect(Number(await page.getAttribute('body', 'data-tones-alarm'))).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#alarm-count')).toBe('1');
    // A new card flashes its ring: on and off once a second, three times, its opacity alone
    // changing (style.css: composited, not painted again at each frame).
    expect(await card.evaluate((el) => el.classList.contains('fresh'))).toBe(true);
    expect(await card.evaluate((el) => { const s = getComputedStyle(el, '::after'); return [s.animationName, s.animationTimingFunction, s.animationIterationCount, s.animationDuration]; })).toEqual(['flash', 'steps(1)', '3', '1s']);

    await page.click('#open-alarms [data-kind="covert_sos"] a.button');
    await page.waitForSelector('#script');
    expect(await page.textContent('#visit-ref')).toBe('V-1042');
    expect(await page.textContent('#last-sighting')).not.toBe('none recorded');

    // The officer records the answers (the worker can only say yes or no).
    const answer = async (q: string, a: string, note?: string) => {
      if (note) await page.fill(`[data-question="${q}"] input`, note);
      await page.click(`[data-question="${q}"] button[data-answer="${a}"]`);
      await page.waitForSelector(`[data-question="${q}"] button[data-answer="${a}"].chosen`);
    };
    await answer('at_address', 'yes');
    await answer('in_danger', 'yes', 'whispering, man shouting');
    await answer('need_police', 'yes');
    await answer('weapon', 'no');
    await answer('call_back', 'yes');
    await expect.poll(() => page.textContent('#callback-timer')).toMatch(/Call back in [45]:\d\d/);

    await page.click('#actions [data-action="ack"]');
    await page.waitForSelector('#alarm[data-state="acknowledged"]');

    // Five minutes later on the hub's clock, the timer says to call back (the page learns the time
    // with its next update: here a note).
    await t.advance(5 * 60_000 + 1000);
    await page.fill('#actions textarea', 'police dispatched, ETA 10 minutes');
    await page.click('#actions [data-action="note"]');
    await expect.poll(() => page.textContent('#callback-timer')).toBe('CALL BACK NOW');
    await page.click('[data-action="callback-done"]');
    await page.waitForSelector('[data-action="callback-start"]');

    // The police hand-over: everything R5 lists, in one printable view.
    await page.click('[data-action="handover"]');
    await page.waitForSelector('#handover');
    const text = (await page.textContent('#handover'))!;
    for (const s of ['V-1042', '07700 900123', 'Alex Carter (partner) 07700 900456', 'asthma', 'blue Fiat 500 AB12 CDE', '1 Private Road', 'Are you in danger? Yes']) expect(text).toContain(s);
    await page.goBack();
    await page.waitForSelector('#script');

    await page.fill('#actions textarea', 'Sam safe, police on scene');
    await page.selectOption('#close-alarm select[name=outcome]', 'police_attended');
    await page.click('#actions [data-action="resolve"]');
    await page.waitForSelector('#alarm[data-state="resolved"]');
    const steps = await page.$$eval('#timeline li', (lis) => lis.map((li) => li.getAttribute('data-step')));
    for (const step of ['raised', 'script_answer', 'acknowledged', 'callback_scheduled', 'note', 'callback_done', 'handover_viewed', 'resolved']) expect(steps).toContain(step);
    expect(steps.filter((s) => s === 'script_answer')).toHaveLength(5);
    expect(await page.textContent('#timeline')).toContain('whispering, man shouting');

    // The board shows it closed, and the records find it.
    await page.click('[data-nav="alarms"]');
    await page.waitForSelector('#closed-alarms [data-kind="covert_sos"]');
    await page.click('[data-nav="records"]');
    await page.fill('#records-form input[name=q]', 'whispering');
    await page.click('#records-form button[type=submit]');
    await expect.poll(() => page.$$eval('#records-rows tr', (r) => r.length)).toBe(1);
    await page.close();
  });

  it('an SOS more than 7 days old arrives marked STALE on the board and on its alarm page (issue 17, item 8)', async () => {
    const page = await signInPage(browser, t.httpUrl, 'dana');
    await page.waitForSelector('#live:not(.off)');
    await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 8 * 86_400 });
    await fob.waitFor((c) => c.k === 'ack' && c.i === makeEventId(1, 1));
    const badge = await page.waitForSelector('#open-alarms [data-kind="sos"] .stale', { timeout: 10_000 });
    expect(await badge.textContent()).toContain('STALE');
    await page.click('#open-alarms [data-kind="sos"] a.button');
    const head = await page.waitForSelector('.alarm-head .stale');
    expect(await head.getAttribute('title')).toContain('more than 7 days');
    // A fresh SOS beside it has no badge.
    await fob.send({ i: makeEventId(1, 2), k: 'sos', ag: 0 });
    await page.goBack();
    await expect.poll(async () => (await page.$$('#open-alarms [data-kind="sos"]')).length, { timeout: 10_000 }).toBe(2);
    expect(await page.$$('#open-alarms [data-kind="sos"] .stale')).toHaveLength(1);
  });

  it('R3: an SOS taken but notifying again (re-alert on the hub clock) sounds its re-alert tone', async () => {
    const page = await signInPage(browser, t.httpUrl, 'dana');
    await page.waitForSelector('#live:not(.off)');
    await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    await page.waitForSelector('#open-alarms [data-kind="sos"]');
    await page.click('#open-alarms [data-action="ack"]');
    await page.waitForSelector('#open-alarms .s-acknowledged');
    expect(await page.getAttribute('body', 'data-tones-re-alert')).toBeNull();
    // Taken but not resolved: the policy re-alerts after its re-alert interval.
    await t.advance(60 * 60_000);
    await expect.poll(async () => Number(await page.getAttribute('body', 'data-tones-re-alert')), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    await page.close();
  });

  it('R22: a manager cannot see medical notes outside an alarm, and the attempt is logged', async () => {
    const page = await signInPage(browser, t.httpUrl, 'lee');
    await page.goto(`${t.httpUrl}/#/worker/sam`);
    await page.waitForSelector('#worker');
    await page.click('#worker [data-action="private"]');
    await page.waitForSelector('#private dl');
    const shown = (await page.textContent('#private'))!;
    expect(shown).toContain('07700 900123'); // a manager may phone their worker
    expect(shown).toContain('Not shown: Home address, Medical notes, Car, Description');
    expect(shown).not.toContain('asthma');
    expect(await page.content()).not.toContain('asthma');
    const audit = await t.hub.store.listAudit(10);
    expect(audit.find((e) => e.action === 'private.refused')).toMatchObject({ actor: 'user:lee', subject: 'worker:sam', detail: { fields: ['homeAddress', 'medicalNotes', 'car', 'description'] } });

    // The admin page's audit log shows the refusal to the manager too.
    await page.click('[data-nav="admin"]');
    await page.waitForSelector('#admin-audit [data-audit="private.refused"]');
    await page.close();
  });

  it('R7, R8, R9, R11: workers board: itinerary editing with the visit policy checks shown, an unplanned visit, extend and end', async () => {
    const page = await signInPage(browser, t.httpUrl, 'dana');
    await page.click('[data-nav="workers"]');
    const row = await page.waitForSelector('#workers tr[data-worker="sam"]');
    expect(await row.textContent()).toContain('on visit');
    await page.click('#workers tr[data-worker="sam"] a');
    await page.waitForSelector('#visit-form');
    await page.click('[data-action="end"]');
    await expect.poll(() => page.textContent('#active-visit')).toBe('between visits');

    // A Category 2 visit without a second worker is refused, and the page says why.
    await page.fill('#visit-form input[name=ref]', 'V-2001');
    await page.selectOption('#visit-form select[name=category]', '2');
    await page.click('#visit-form button[type=submit]');
    const err = await page.waitForSelector('#visit-result .error');
    expect(await err.textContent()).toMatch(/Category 2: not suitable for lone working/);
    expect(await err.getAttribute('data-field')).toBe('secondWorkerId');

    // An unplanned visit phoned in, starting now; then extended.
    await page.fill('#visit-form input[name=ref]', 'U-77');
    await page.selectOption('#visit-form select[name=category]', '1');
    await page.fill('#visit-form input[name=duration]', '30');
    await page.check('#visit-form input[name=unplanned]');
    await page.check('#visit-form input[name=startNow]');
    await page.click('#visit-form button[type=submit]');
    await page.waitForSelector('#visit-result .ok');
    await expect.poll(() => page.textContent('#active-visit'), { timeout: 5000 }).toMatch(/^U-77 until/);
    const before = (await page.textContent('#active-visit'))!;
    await page.fill('#worker input[name="extend"]', '20');
    await page.click('[data-action="extend"]');
    await expect.poll(() => page.textContent('#active-visit')).not.toBe(before);
    expect(await page.textContent('#itinerary')).toContain('U-77 (unplanned)');
    await page.close();
  });

  it('admin registers a fob and sees its secret once; a worker account cannot use the dashboard', async () => {
    const page = await signInPage(browser, t.httpUrl, 'adam');
    await page.click('[data-nav="admin"]');
    await page.waitForSelector('#device-form');
    await page.fill('#device-form input[name=deviceId]', 'fob-77');
    await page.selectOption('#device-form select[name=workerId]', 'sam');
    await page.click('#device-form button[type=submit]');
    const secret = (await (await page.waitForSelector('#secret-value')).textContent())!;
    expect(secret.length).toBeGreaterThan(16);
    await page.reload();
    await page.waitForSelector('#admin-devices tr[data-device="fob-77"]');
    expect(await page.content()).not.toContain(secret);
    await page.close();

    await t.addWorker('ann');
    await createUser(t.hub.store, { username: 'ann-phone', role: 'worker', workerId: 'ann', password: PASSWORD }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
    const ctx = await browser.newContext();
    const p2 = await ctx.newPage();
    await p2.goto(t.httpUrl + '/');
    await p2.fill('#signin-form input[name=username]', 'ann-phone');
    await p2.fill('#signin-form input[name=password]', PASSWORD);
    await p2.click('#signin-form button[type=submit]');
    await expect.poll(() => p2.textContent('#signin-error')).toMatch(/companion app/);
    await ctx.close();
  });
});
