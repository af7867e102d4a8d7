// Issue 20: the printable police hand-over in real Chromium shows the last known position with its
// accuracy and age and plain geo: / OpenStreetMap links; a fob that sent none says so.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { createUser } from '../../hub/http/users.js';
import { PASSWORD } from './api-client.js';
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
  await createUser(t.hub.store, { username: 'dana', role: 'duty_officer', password: PASSWORD, name: 'Dana' }, 'test', t.clock.now());
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  fob = await connectFob(t.mqttUrl, 'fob-1', secret);
});
afterEach(async () => {
  await fob?.close().catch(() => undefined);
  await t.stop();
});

describe('the hand-over page (issue 20)', () => {
  it('prints the position, its accuracy, its age and the geo: and OpenStreetMap links', { timeout: 60_000 }, async () => {
    await fob.send({ i: '1-1', k: 'sos', ag: 0, l: { la: 53.4808, lo: -2.24263, ac: 9, fa: 30, s: 'g' } });
    const [alarm] = await t.alarms();
    await t.advance(90_000);
    const page = await signInPage(browser, t.httpUrl, 'dana');
    await page.goto(`${t.httpUrl}/#/alarm/${alarm!.id}/handover`);
    await page.waitForSelector('#handover [data-field="position"]');
    const text = await page.textContent('#handover [data-field="position"]');
    expect(text).toContain('53.4808, -2.24263 · within 9 m');
    expect(text).toContain("2 min before this page was made · from the fob's GPS");
    expect(await page.getAttribute('#handover [data-field="position"] a[data-link="geo"]', 'href')).toBe('geo:53.4808,-2.24263;u=9');
    expect(await page.getAttribute('#handover [data-field="position"] a[data-link="osm"]', 'href')).toBe('https://www.openstreetmap.org/?mlat=53.4808&mlon=-2.24263#map=18/53.4808/-2.24263');
    await page.close();
  });

  it('an SOS from a fob that sends no positions: "none received"', { timeout: 60_000 }, async () => {
    await fob.send({ i: '1-1', k: 'sos', ag: 0 });
    const [alarm] = await t.alarms();
    const page = await signInPage(browser, t.httpUrl, 'dana');
    await page.goto(`${t.httpUrl}/#/alarm/${alarm!.id}/handover`);
    await page.waitForSelector('#handover [data-field="position"]');
    expect(await page.textContent('#handover [data-field="position"]')).toBe('none received from the fob or phone');
    await page.close();
  });
});
