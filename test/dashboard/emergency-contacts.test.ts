/// <reference lib="dom" />
// Emergency contacts as records (issue 15 item 13): name, relationship and phone through the API,
// the admin form and the police hand-over, and the free text from before schema v10 kept visible
// until an admin clears it. Real hub, real SQLite, real Chromium.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { userClient } from './api-client.js';
import { launchChromium, signInPage } from './browser.js';

let browser: Browser;
let t: TestHub;
let fob: TestFob | null = null;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  t = await startTestHub({ manualClock: true });
  // Ali's record as an upgraded database holds it: records read from the old text, the text kept.
  await t.addWorker('ali', { name: 'Ali Khan', emergencyContacts: 'Ravi Khan (brother): 07700 900002\nask at the corner shop' });
  await t.hub.store.transaction((tx) => tx.setEmergencyContacts('ali', [{ name: 'Ravi Khan', relationship: 'brother', phone: '07700 900002' }, { name: 'ask at the corner shop', relationship: null, phone: null }]));
});
afterEach(async () => {
  await fob?.close().catch(() => undefined);
  fob = null;
  await t.stop();
});

describe('emergency contacts through the API', () => {
  it('saves records in order, refuses the old free-text form and bad numbers (changing nothing), and clears the old text only when asked', async () => {
    const adam = await userClient(t, 'adam', 'admin');
    const list = [
      { name: 'Mina Khan', relationship: 'mother', phone: '+44 7700 900003' },
      { name: 'Ravi Khan', relationship: 'brother', phone: '07700 900002' },
    ];
    expect((await adam.request('PUT', '/api/workers/ali', { name: 'Ali Khan', emergencyContacts: list })).status).toBe(200);
    const view = await adam.get<{ details: Record<string, unknown> }>('/api/workers/ali/private?fields=emergencyContacts,emergencyContactsOldText');
    expect(view.body.details).toEqual({ emergencyContacts: list, emergencyContactsOldText: 'Ravi Khan (brother): 07700 900002\nask at the corner shop' });

    const text = await adam.request('PUT', '/api/workers/ali', { name: 'Ali Khan', emergencyContacts: 'Mina 07700 900003' });
    expect(text.status).toBe(400);
    expect(text.text).toMatch(/emergencyContacts.*list of \{ name, relationship, phone \}|must be a list of/);
    const badPhone = await adam.request('PUT', '/api/workers/ali', { name: 'Ali Khan', emergencyContacts: [{ name: 'Mina', phone: 'call the shop' }] });
    expect(badPhone.status).toBe(400);
    expect(badPhone.text).toMatch(/phone number/);
    const setOld = await adam.request('PUT', '/api/workers/ali', { name: 'Ali Khan', emergencyContactsOldText: 'new text' });
    expect(setOld.status).toBe(400);
    expect(await t.hub.store.read((tx) => tx.listEmergencyContacts('ali'))).toEqual(list);

    // Leaving both out keeps both; null clears the old text and leaves the records.
    expect((await adam.request('PUT', '/api/workers/ali', { name: 'Ali Khan' })).status).toBe(200);
    expect((await t.hub.store.read((tx) => tx.getWorker('ali')))!.emergencyContacts).not.toBeNull();
    expect((await adam.request('PUT', '/api/workers/ali', { name: 'Ali Khan', emergencyContactsOldText: null })).status).toBe(200);
    expect((await t.hub.store.read((tx) => tx.getWorker('ali')))!.emergencyContacts).toBeNull();
    expect(await t.hub.store.read((tx) => tx.listEmergencyContacts('ali'))).toEqual(list);
  });
});

describe('emergency contacts in Chromium', () => {
  it('the form shows the records and the old text; saving with "clear" drops the text; the hand-over lists each contact with a tel: link', { timeout: 90_000 }, async () => {
    await userClient(t, 'adam', 'admin');
    const page = await signInPage(browser, t.httpUrl, 'adam');
    await page.goto(`${t.httpUrl}/#/admin`);
    await page.click('[data-action="edit-worker"][data-worker="ali"]');
    await expect.poll(() => page.inputValue('#ec-rows [data-ec="1"] [data-ec-field=name]')).toBe('Ravi Khan');
    expect(await page.inputValue('#ec-rows [data-ec="1"] [data-ec-field=relationship]')).toBe('brother');
    expect(await page.inputValue('#ec-rows [data-ec="2"] [data-ec-field=name]')).toBe('ask at the corner shop');
    expect(await page.textContent('#ec-old [data-field=emergencyContactsOldText]')).toBe('Ravi Khan (brother): 07700 900002\nask at the corner shop');
    // The admin fixes the second row into a real contact and clears the old text.
    await page.fill('#ec-rows [data-ec="2"] [data-ec-field=name]', 'Corner Shop');
    await page.fill('#ec-rows [data-ec="2"] [data-ec-field=relationship]', 'neighbour');
    await page.fill('#ec-rows [data-ec="2"] [data-ec-field=phone]', '01632 960444');
    await page.check('#ec-old input[name=clearOldText]');
    await page.click('#worker-form button[type=submit]');
    await expect.poll(async () => (await t.hub.store.read((tx) => tx.getWorker('ali')))!.emergencyContacts).toBeNull();
    expect(await t.hub.store.read((tx) => tx.listEmergencyContacts('ali'))).toEqual([
      { name: 'Ravi Khan', relationship: 'brother', phone: '07700 900002' },
      { name: 'Corner Shop', relationship: 'neighbour', phone: '01632 960444' },
    ]);

    // An SOS: the police hand-over names each contact with a number to dial.
    const { secret } = await t.addDevice('fob-1', { workerId: 'ali' });
    fob = await connectFob(t.mqttUrl, 'fob-1', secret);
    await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    await t.settle();
    const [alarm] = await t.alarms();
    await page.goto(`${t.httpUrl}/#/alarm/${alarm!.id}/handover`);
    await page.waitForSelector('[data-field=emergencyContacts] a[data-tel="home-contact"]');
    expect(await page.textContent('[data-field=emergencyContacts]')).toBe('Ravi Khan (brother) 07700 900002 Corner Shop (neighbour) 01632 960444 ');
    expect(await page.getAttribute('[data-field=emergencyContacts] a[data-tel="home-contact-2"]', 'href')).toBe('tel:01632960444');
    expect(await page.locator('[data-field=emergencyContactsOldText]').count()).toBe(0);
    await page.close();
  });
});
