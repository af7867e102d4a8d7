/**
 * Issue 20: the phone's own position in the companion, in Debian's Chromium against a real hub (its
 * MQTT over WebSocket, the positions store and API) with the emitted Puck.js firmware on a simulated
 * board (companion-harness.ts). The position is Chromium's own geolocation override
 * (`context.setGeolocation` with the permission granted): nothing in the page is replaced. The page's
 * geolocation calls are counted by wrapping the browser's own methods (they still run).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type vm from 'node:vm';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { addWorkerAccount, PageFob, PASSWORD, puckScript, startCompanionHub } from './companion-harness.js';
import type { TestHub } from '../helpers/hub-harness.js';
import { systemClock } from '../../hub/clock.js';
import { userClient } from '../dashboard/api-client.js';
import { launchChromium } from '../dashboard/browser.js';

const MINUTE = 60_000;
const HERE = { latitude: 51.5072178, longitude: -0.1275862, accuracy: 18 };
const THERE = { latitude: 51.5101234, longitude: -0.1342987, accuracy: 9 };

const COUNT_GEOLOCATION = `(() => {
  window.__geo = { watch: 0, current: 0 };
  const g = navigator.geolocation;
  const watch = g.watchPosition.bind(g);
  const current = g.getCurrentPosition.bind(g);
  g.watchPosition = (...a) => { window.__geo.watch++; return watch(...a); };
  g.getCurrentPosition = (...a) => { window.__geo.current++; return current(...a); };
})()`;

let browser: Browser;
let script: vm.Script;
const cleanup: (() => Promise<unknown> | unknown)[] = [];
let pageErrors: string[] = [];

beforeAll(async () => {
  // The run's shared Chromium (test/helpers/global-setup.ts): nothing here needs flags of its own.
  browser = await launchChromium();
  script = await puckScript();
}, 120_000);
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
  const errors = pageErrors;
  pageErrors = [];
  expect(errors).toEqual([]);
});

interface Setup {
  t: TestHub;
  context: BrowserContext;
  page: Page;
  fob: PageFob;
}

async function setup(opts: { granted: boolean }): Promise<Setup> {
  // The hub on the real clock: the phone dates its fixes by its own (real) clock, and the hub dates
  // them `fa` seconds before they arrive, so a hub clock standing still would put a later fix first.
  const t = await startCompanionHub({ clock: systemClock });
  cleanup.push(() => t.stop());
  await addWorkerAccount(t, 'sam', 'w-sam', 'Sam Carter');
  await t.addDevice('puck-sam', { workerId: 'w-sam' });
  const context = await browser.newContext({ geolocation: HERE, ...(opts.granted ? { permissions: ['geolocation'] } : {}) });
  cleanup.push(() => context.close());
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
  });
  await page.addInitScript({ content: COUNT_GEOLOCATION });
  const fob = new PageFob(script, 'puck-sam');
  cleanup.push(() => fob.stop());
  await fob.attach(page);
  return { t, context, page, fob };
}

async function signIn(page: Page, httpUrl: string): Promise<void> {
  await page.goto(`${httpUrl}/companion/`);
  await page.fill('#username', 'sam');
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('#day:not([hidden])');
  await expect.poll(() => page.textContent('#hub-state'), { timeout: 10_000 }).toBe('Hub: connected');
}

async function pair(page: Page, fob: PageFob): Promise<void> {
  await page.click('#pair');
  await expect.poll(() => page.textContent('#fob-state'), { timeout: 10_000 }).toBe('Fob: Puck.js a1b2');
  await expect.poll(() => fob.events('hi').length, { timeout: 10_000 }).toBeGreaterThan(0);
  await expect.poll(() => fob.outboxLength(), { timeout: 10_000 }).toBe(0);
}

const geoCalls = (page: Page) => page.evaluate(() => (window as unknown as { __geo: { watch: number; current: number } }).__geo);
const positionsAtHub = (t: TestHub) => t.hub.store.read((tx) => tx.listPositions('puck-sam', 0, Number.MAX_SAFE_INTEGER, 100));
const round5 = (n: number) => Math.round(n * 1e5) / 1e5;

describe('the phone position (issue 20)', () => {
  it('is asked for at sign-in with a plain explanation, and "Not now" uses nothing', async () => {
    const { t, page } = await setup({ granted: false });
    await signIn(page, t.httpUrl);
    await page.waitForSelector('#location-ask:not([hidden])');
    const ask = (await page.textContent('#location-ask'))!;
    expect(ask).toContain('only during your shift and during an alarm');
    expect(ask).toContain('never used outside your shift');
    await page.click('#location-later');
    expect(await page.isHidden('#location-ask')).toBe(true);
    expect(await page.textContent('#location-line')).toBe('Location off: not used outside your shift.');
    expect(await geoCalls(page)).toEqual({ watch: 0, current: 0 });
  }, 120_000);

  it('off shift nothing is read or sent; on shift the worker is told, and a relayed covert SOS carries the phone position to the hub, then ps while it is open', async () => {
    const { t, context, page, fob } = await setup({ granted: true });
    const now = t.clock.now();
    await t.addVisit({ workerId: 'w-sam', ref: 'V-501', scheduledStart: now, expectedEnd: now + 60 * MINUTE });
    await signIn(page, t.httpUrl);
    // Already allowed in this browser: nothing to ask.
    expect(await page.isHidden('#location-ask')).toBe(true);
    await pair(page, fob);
    // Off shift: the fob's traffic is relayed (its hello reached the hub and was acknowledged), and
    // the location was never read nor sent.
    expect(await t.eventCount('puck-sam')).toBeGreaterThan(0);
    expect(await page.textContent('#location-line')).toBe('Location off: not used outside your shift.');
    expect(await geoCalls(page)).toEqual({ watch: 0, current: 0 });
    expect(await positionsAtHub(t)).toEqual([]);

    // The visit starts: on shift, the worker sees that the location is on.
    await page.click('#visits li[data-ref="V-501"] button.start');
    await expect.poll(() => page.textContent('#location-line'), { timeout: 10_000 }).toBe('Location on: shared with the office during your shift (sent with an alarm).');
    expect((await geoCalls(page)).watch).toBe(1);
    await expect.poll(async () => (await t.hub.store.read((tx) => tx.getCheckinState('w-sam')))?.activeVisitId ?? null, { timeout: 10_000 }).not.toBe(null);
    // On shift with no alarm, the position stays on the phone.
    expect(await positionsAtHub(t)).toEqual([]);

    // The covert gesture on the fob, relayed by the phone with the phone's position.
    fob.gesture('covert_sos');
    await expect.poll(async () => (await t.alarms()).map((a) => a.kind), { timeout: 10_000 }).toEqual(['covert_sos']);
    const alarmId = (await t.alarms())[0]!.id;
    await expect.poll(async () => (await positionsAtHub(t)).filter((p) => p.alarmId === alarmId).length, { timeout: 10_000 }).toBeGreaterThan(0);
    const atHub = await positionsAtHub(t);
    const first = atHub.find((p) => p.alarmId === alarmId)!;
    expect(first).toMatchObject({ deviceId: 'puck-sam', workerId: 'w-sam', source: 'phone', lat: round5(HERE.latitude), lon: round5(HERE.longitude), accuracyM: HERE.accuracy });
    // It came inside the relayed alarm event (`l`), stored with the alarm as it was raised: no `ps`
    // went before the alarm, and the next one is due only 15 s later. (The fob itself has no GNSS:
    // its own event line carried no position.)
    expect(atHub.filter((p) => p.alarmId !== alarmId)).toEqual([]);
    const raised = (await t.alarms())[0]!;
    expect(first.receivedAt - raised.raisedAt).toBeLessThan(5000);
    expect(fob.events('cov')[0]).not.toHaveProperty('l');
    // The duty officer sees it through the API the map draws from.
    const officer = await userClient(t, 'dana', 'duty_officer');
    const track = await officer.get<{ latest: { lat: number; lon: number; source: string } | null }>(`/api/alarms/${alarmId}/positions`);
    expect(track.body.latest).toMatchObject({ lat: round5(HERE.latitude), lon: round5(HERE.longitude), source: 'phone' });
    // The phone says so, and nothing on it looks like an alarm.
    await expect.poll(() => page.textContent('#location-line')).toBe('Location on: sent to the office every 15 s during this alarm.');
    expect(await page.isHidden('#alarm-screen')).toBe(true);

    // The worker moves: the next `ps` (every 15 s while the alarm is open) carries the new place.
    await context.setGeolocation(THERE);
    await expect
      .poll(async () => (await officer.get<{ latest: { lat: number; lon: number } | null }>(`/api/alarms/${alarmId}/positions`)).body.latest, { timeout: 25_000, interval: 1000 })
      .toMatchObject({ lat: round5(THERE.latitude), lon: round5(THERE.longitude), accuracyM: THERE.accuracy, source: 'phone' });
  }, 90_000);
});
