/**
 * The companion in Debian's Chromium (playwright-core) against a real hub, its real MQTT over
 * WebSocket and the emitted Puck.js firmware on a simulated board. Only `navigator.bluetooth` is
 * replaced: the page talks GATT to the simulated fob in this process (companion-harness.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type vm from 'node:vm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { addWorkerAccount, PageFob, PASSWORD, puckScript, startCompanionHub } from './companion-harness.js';
import type { TestHub } from '../helpers/hub-harness.js';
import { userClient } from '../dashboard/api-client.js';
import { launchChromium, signInPage } from '../dashboard/browser.js';

const MINUTE = 60_000;
/** Entries in the page's IndexedDB outbox (JavaScript evaluated in the page). */
const OUTBOX_COUNT = `new Promise((resolve) => {
  const req = indexedDB.open('lonewatch-companion', 1);
  req.onsuccess = () => {
    const r = req.result.transaction('outbox').objectStore('outbox').count();
    r.onsuccess = () => resolve(r.result);
  };
})`;

let browser: Browser;
let script: vm.Script;
const cleanup: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  // The run's shared Chromium (test/helpers/global-setup.ts): nothing here needs flags of its own.
  browser = await launchChromium();
  script = await puckScript();
}, 120_000);
afterAll(async () => {
  await browser?.close();
});
/** Uncaught errors in the companion page fail the test. */
let pageErrors: string[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
  const errors = pageErrors;
  pageErrors = [];
  expect(errors).toEqual([]);
});

/** The dashboard's live feed (server-sent events), as the duty officer's browser reads it. */
async function openLiveFeed(httpUrl: string, cookie: string): Promise<{ text(): string }> {
  const ctl = new AbortController();
  const res = await fetch(`${httpUrl}/api/events`, { headers: { cookie }, signal: ctl.signal });
  expect(res.status).toBe(200);
  let text = '';
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      /* aborted */
    }
  })();
  cleanup.push(() => ctl.abort());
  return { text: () => text };
}

interface Setup {
  t: TestHub;
  context: BrowserContext;
  page: Page;
  fob: PageFob;
}

async function setup(opts: { dataDir?: string; httpPort?: number } = {}): Promise<Setup> {
  const t = await startCompanionHub({ ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), ...(opts.httpPort ? { config: { http: { port: opts.httpPort } } } : {}) });
  cleanup.push(() => t.stop());
  await addWorkerAccount(t, 'sam', 'w-sam', 'Sam Carter');
  await t.addDevice('puck-sam', { workerId: 'w-sam' });
  const context = await browser.newContext();
  cleanup.push(() => context.close());
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // The strict CSP must hold without violations (no inline script or style anywhere).
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
  });
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
  // The fob says hello on connect; the hub's ack comes back and empties its outbox.
  await expect.poll(() => fob.events('hi').length, { timeout: 10_000 }).toBeGreaterThan(0);
  await expect.poll(() => fob.outboxLength(), { timeout: 10_000 }).toBe(0);
}

describe('worker companion in Chromium', () => {
  it('R1, R17: relays the fob: a covert gesture is an alarm at the hub and on the dashboard, the hub ack reaches the fob, and so does "help is coming"', async () => {
    const { t, page, fob } = await setup();
    // A duty officer watches the dashboard (and, for the record, its live feed).
    const officer = await userClient(t, 'dana', 'duty_officer');
    const feed = await openLiveFeed(t.httpUrl, officer.cookie!);
    const dashboard = await signInPage(browser, t.httpUrl, 'dana');
    cleanup.push(() => dashboard.context().close());
    await dashboard.waitForSelector('#live:not(.off)');
    await signIn(page, t.httpUrl);
    await pair(page, fob);
    fob.gesture('covert_sos');
    await expect.poll(async () => (await t.alarms()).map((a) => [a.kind, a.deviceId, a.workerId]), { timeout: 10_000 }).toEqual([['covert_sos', 'puck-sam', 'w-sam']]);
    const alarmId = (await t.alarms())[0].id;
    await expect.poll(() => feed.text(), { timeout: 10_000 }).toContain(alarmId);
    const board = await officer.get<{ alarms: { id: string; kind: string }[] }>('/api/alarms?open=true');
    expect(board.body.alarms.map((a) => [a.id, a.kind])).toEqual([[alarmId, 'covert_sos']]);
    const card = await dashboard.waitForSelector('#open-alarms [data-kind="covert_sos"]', { timeout: 10_000 });
    expect(await card.textContent()).toContain('Sam Carter');
    const cov = fob.events('cov');
    expect(cov).toHaveLength(1);
    // The hub's ack travelled back over the page's relay to the fob, which dropped the event.
    await expect.poll(() => fob.outboxLength(), { timeout: 10_000 }).toBe(0);
    expect(fob.board.buzzerOnCount()).toBe(0);
    expect(await t.eventCount('puck-sam')).toBe(fob.events().length);
    // Nothing on the phone's screen says "alarm".
    expect((await page.textContent('body'))!.toLowerCase()).not.toMatch(/covert|alarm sent/);
    await expect.poll(() => page.evaluate(OUTBOX_COUNT), { timeout: 5000 }).toBe(0);
    // The officer takes charge: one discreet pulse on the fob (through the phone), never a sound.
    const pulses = fob.board.motorPulses();
    await dashboard.click('#open-alarms [data-kind="covert_sos"] a.button');
    await dashboard.click('#actions [data-action="ack"]');
    await dashboard.waitForSelector('#alarm[data-state="acknowledged"]');
    await expect.poll(() => fob.board.motorPulses(), { timeout: 10_000 }).toBeGreaterThan(pulses);
    expect(fob.board.buzzerOnCount()).toBe(0);
  }, 120_000);
});

describe('worker companion: the day, offline, and a lost fob', () => {
  it('with the hub stopped, the app reloads from its service worker and a check-in waits on the phone; it is delivered once when the hub is back', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-companion-'));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = await setup({ dataDir });
    const { page } = first;
    const port = first.t.hub.httpPort;
    const visitStart = first.t.clock.now();
    await first.t.addVisit({ workerId: 'w-sam', ref: 'V-401', scheduledStart: visitStart, expectedEnd: visitStart + 60 * MINUTE });
    await signIn(page, first.t.httpUrl);
    await page.waitForSelector('#visits li[data-ref="V-401"] button.start');
    // The service worker has the shell before the signal goes.
    await expect.poll(() => page.evaluate('navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller)'), { timeout: 10_000 }).toBe(true);
    // Chromium itself finds the manifest valid and the app installable (but for the test browser's
    // context being incognito).
    const cdp = await page.context().newCDPSession(page);
    const manifest = (await cdp.send('Page.getAppManifest')) as { errors: { message: string }[]; url: string };
    expect(manifest.url).toContain('/companion/manifest.webmanifest');
    expect(manifest.errors).toEqual([]);
    await expect.poll(async () => ((await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] }).installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito'), { timeout: 10_000 }).toEqual([]);

    await first.t.stop();
    await expect.poll(() => page.textContent('#hub-state'), { timeout: 10_000 }).toBe('Hub: offline');
    // Offline: start the visit, extend it, check in. The phone's next ids are "...-z" then "...-10"
    // and "...-11", which sort before "...-z" as strings: they must still go in the order made.
    await page.evaluate("localStorage.setItem('lw.seq', '34')");
    await page.click('#visits li[data-ref="V-401"] button.start');
    await page.click('#extend-30');
    await page.click('#checkin');
    await expect.poll(() => page.textContent('#waiting')).toBe('3 waiting to send');
    // A reload with no hub: the shell comes from the service worker, the check-in from IndexedDB.
    await page.reload();
    await page.waitForSelector('#day:not([hidden])');
    await expect.poll(() => page.textContent('#waiting'), { timeout: 10_000 }).toBe('3 waiting to send');
    // The day is still on screen, from the phone's last copy.
    expect(await page.textContent('#visits')).toContain('V-401');
    expect(await page.textContent('#hub-state')).toBe('Hub: offline');

    // The hub comes back on the same address and database.
    const t = await startCompanionHub({ dataDir, config: { http: { port } } });
    cleanup.push(() => t.stop());
    await expect.poll(() => page.textContent('#hub-state'), { timeout: 30_000 }).toBe('Hub: connected');
    await expect.poll(() => page.isHidden('#waiting'), { timeout: 10_000 }).toBe(true);
    expect(await t.eventCount('puck-sam')).toBe(3);
    const state = await t.hub.store.read((tx) => tx.getCheckinState('w-sam'));
    expect(state?.lastSighting?.kind).toBe('check-in');
    // In order: the visit started, then was extended by 30 minutes.
    const [visit] = await t.hub.store.read((tx) => tx.listVisits('w-sam', visitStart - MINUTE, visitStart + 3 * 60 * MINUTE));
    expect(visit).toMatchObject({ ref: 'V-401', status: 'active', expectedEnd: visitStart + 90 * MINUTE });
    // Resends after the ack change nothing: still three events, no duplicates counted.
    await new Promise((r) => setTimeout(r, 6000));
    expect(await t.eventCount('puck-sam')).toBe(3);
    expect(t.hub.ingest.counters.events).toBe(3);
  }, 90_000);

  it('R11: the worker starts and extends a visit on the phone, and the hub deadline moves', async () => {
    const { t, page } = await setup();
    const now = t.clock.now();
    await t.addVisit({ workerId: 'w-sam', ref: 'V-101', scheduledStart: now, expectedEnd: now + 60 * MINUTE });
    await t.addVisit({ workerId: 'w-sam', ref: 'V-102', scheduledStart: now + 2 * 60 * MINUTE, expectedEnd: now + 3 * 60 * MINUTE });
    await signIn(page, t.httpUrl);
    await page.waitForSelector('#visits li[data-ref="V-101"] button.start');
    expect(await page.textContent('#visits')).toContain('Cat 1');
    await page.click('#visits li[data-ref="V-101"] button.start');
    const dueAt = async () => (await t.hub.store.read((tx) => tx.getCheckinState('w-sam')))?.due?.at ?? null;
    await expect.poll(dueAt, { timeout: 10_000 }).toBe(now + 60 * MINUTE);
    await expect.poll(() => page.textContent('#now-title')).toBe('At V-101');

    await page.click('#extend-30');
    await expect.poll(dueAt, { timeout: 10_000 }).toBe(now + 90 * MINUTE);
    const visit = (await t.hub.store.read((tx) => tx.listVisits('w-sam', now - MINUTE, now + 4 * 60 * MINUTE))).find((v) => v.ref === 'V-101');
    expect(visit).toMatchObject({ status: 'active', expectedEnd: now + 90 * MINUTE });
    // The armed deadline moved too: nothing fires at the old expected end.
    expect((await t.hub.store.getWork('worker', 'w-sam'))?.dueAt).toBe(now + 90 * MINUTE);
    await t.advance(65 * MINUTE);
    // No fob is paired in this test, so the hub rightly says the device is silent; but the visit
    // is not overdue: no missed check-in.
    expect((await t.alarms()).map((a) => a.kind)).not.toContain('missed_checkin');
    await expect.poll(() => page.getAttribute('#now-detail', 'data-expected-end'), { timeout: 10_000 }).toBe(String(now + 90 * MINUTE));

    await page.click('#end-visit');
    await expect.poll(async () => (await t.hub.store.read((tx) => tx.getCheckinState('w-sam')))?.activeVisitId ?? null, { timeout: 10_000 }).toBe(null);
    await page.click('#end-shift');
    await expect.poll(async () => (await t.hub.store.read((tx) => tx.getCheckinState('w-sam')))?.onShift, { timeout: 10_000 }).toBe(false);
  }, 120_000);

  it('R16: a fob lost mid-shift: the worker is told at once, and the hub raises device silent', async () => {
    const { t, page, fob } = await setup();
    const now = t.clock.now();
    await t.addVisit({ workerId: 'w-sam', ref: 'V-201', scheduledStart: now, expectedEnd: now + 120 * MINUTE });
    await signIn(page, t.httpUrl);
    await pair(page, fob);
    await page.click('#visits li[data-ref="V-201"] button.start');
    await expect.poll(async () => (await t.hub.store.read((tx) => tx.getCheckinState('w-sam')))?.onShift, { timeout: 10_000 }).toBe(true);
    fob.gesture('checkin');
    await expect.poll(() => fob.outboxLength(), { timeout: 10_000 }).toBe(0);
    // Heartbeats are relayed too (QoS 0): the hub learns the fob's battery.
    fob.board.battery = 64;
    fob.board.advance(301_000);
    await expect.poll(async () => (await t.hub.store.read((tx) => tx.getDevice('puck-sam')))?.battery, { timeout: 10_000 }).toBe(64);

    await fob.drop();
    await expect.poll(() => page.isVisible('#fob-lost')).toBe(true);
    expect(await page.textContent('#fob-state')).toBe('Fob: DISCONNECTED');
    const vibrations = await page.evaluate(() => (globalThis as unknown as { __lwRecord: { vibrations: unknown[] } }).__lwRecord.vibrations);
    expect(vibrations.length).toBeGreaterThan(0);

    await t.advance(21 * MINUTE);
    await expect.poll(async () => (await t.alarms()).map((a) => [a.kind, a.deviceId]), { timeout: 10_000 }).toContainEqual(['device_silent', 'puck-sam']);

    // While it is out of range the phone keeps trying, and keeps saying so.
    expect(await page.textContent('#fob-state')).toBe('Fob: DISCONNECTED');
    // Back in range: the phone reconnects by itself, the fob says hello, and the hub closes the alert.
    fob.backInRange();
    await expect.poll(() => page.textContent('#fob-state'), { timeout: 15_000 }).toBe('Fob: Puck.js a1b2');
    expect(await page.isVisible('#fob-lost')).toBe(false);
    await expect.poll(async () => (await t.alarms()).find((a) => a.kind === 'device_silent')?.state, { timeout: 10_000 }).toBe('resolved');
    // Every line the fob wrote arrived whole, before and after the reconnect.
    expect(Object.values(t.hub.ingest.counters.rejected).filter((n) => n > 0)).toEqual([]);
  }, 120_000);

  it('R10: a half-hourly check-in: the hub prompts, the phone shows it, the worker checks in and no missed check-in is raised', async () => {
    const { t, page } = await setup();
    const now = t.clock.now();
    await t.addVisit({ workerId: 'w-sam', ref: 'V-301', scheduledStart: now, expectedEnd: now + 120 * MINUTE, rag: 'amber', checkinIntervalMin: 30 });
    await signIn(page, t.httpUrl);
    await expect.poll(() => page.textContent('#visits'), { timeout: 10_000 }).toContain('check in every 30 min');
    await page.click('#visits li[data-ref="V-301"] button.start');
    await expect.poll(async () => (await t.hub.store.read((tx) => tx.getCheckinState('w-sam')))?.due?.reason, { timeout: 10_000 }).toBe('checkin');
    await t.advance(30 * MINUTE);
    await expect.poll(() => page.isVisible('#prompt'), { timeout: 10_000 }).toBe(true);
    await page.click('#checkin');
    await expect.poll(() => page.isHidden('#prompt')).toBe(true);
    await expect.poll(async () => (await t.hub.store.read((tx) => tx.getCheckinState('w-sam')))?.promptedAt ?? null, { timeout: 10_000 }).toBe(null);
    const chk = (await t.hub.store.read((tx) => tx.getCheckinState('w-sam')))!;
    expect(chk.lastCheckInAt).toBe(now + 30 * MINUTE);
    await t.advance(10 * MINUTE);
    expect((await t.alarms()).map((a) => a.kind)).not.toContain('missed_checkin');
  }, 120_000);

  it('R7: an unplanned visit is recorded on the phone before it starts, then started', async () => {
    const { t, page } = await setup();
    await signIn(page, t.httpUrl);
    await page.click('#unplanned summary');
    await page.fill('#unplanned-ref', 'U-550');
    await page.fill('#unplanned-minutes', '40');
    await page.selectOption('#unplanned-rag', 'amber');
    await page.click('#unplanned-form button[type=submit]');
    await page.waitForSelector('#visits li[data-ref="U-550"] button.start');
    expect(await page.textContent('#visits li[data-ref="U-550"]')).toContain('(unplanned)');
    const now = t.clock.now();
    const [visit] = await t.hub.store.read((tx) => tx.listVisits('w-sam', now - MINUTE, now + 2 * 60 * MINUTE));
    expect(visit).toMatchObject({ ref: 'U-550', unplanned: true, status: 'planned', expectedEnd: now + 40 * MINUTE, rag: 'amber', checkinIntervalMin: 30 });
    await page.click('#visits li[data-ref="U-550"] button.start');
    await expect.poll(async () => (await t.hub.store.read((tx) => tx.listVisits('w-sam', now - MINUTE, now + 2 * 60 * MINUTE)))[0].status, { timeout: 10_000 }).toBe('active');
    // An address is not a reference (R7): refused with the reason on screen.
    await page.click('#unplanned summary');
    await page.fill('#unplanned-ref', '12 High St');
    await page.click('#unplanned-form button[type=submit]');
    await expect.poll(() => page.textContent('#unplanned-error')).toMatch(/reference/);
  }, 120_000);

  it('a worker with no fob assigned is told that the phone cannot reach the office', async () => {
    const { t, page } = await setup();
    await addWorkerAccount(t, 'nofob', 'w-nofob');
    await page.goto(`${t.httpUrl}/companion/`);
    await page.fill('#username', 'nofob');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('#no-fob:not([hidden])');
    await page.click('#checkin');
    await expect.poll(() => page.textContent('#toast')).toMatch(/phone the office/);
    await page.click('#late');
    await expect.poll(() => page.textContent('#toast')).toMatch(/^Not sent/);
    expect(await page.isVisible('#waiting')).toBe(false);
  }, 120_000);

  it('R2: the loud alarm from the phone itself', async () => {
    const { t, page } = await setup();
    await signIn(page, t.httpUrl);
    // One tap is not enough: the SOS asks once more.
    expect(await page.isVisible('#sos-yes')).toBe(false);
    await page.click('#sos');
    expect(await page.isVisible('#sos-yes')).toBe(true);
    expect(await t.alarms()).toHaveLength(0);
    await page.click('#sos-yes');
    await expect.poll(async () => (await t.alarms()).map((a) => [a.kind, a.deviceId, a.workerId]), { timeout: 10_000 }).toEqual([['sos', 'puck-sam', 'w-sam']]);
  }, 120_000);

  it('R1: the covert control looks like an ordinary button and raises a covert alarm', async () => {
    const { t, page } = await setup();
    await signIn(page, t.httpUrl);
    const late = page.locator('#late');
    expect(await late.textContent()).not.toMatch(/alarm|sos|help|danger/i);
    expect(await late.getAttribute('class')).toBe('quiet');
    await late.click();
    await expect.poll(async () => (await t.alarms()).map((a) => a.kind), { timeout: 10_000 }).toEqual(['covert_sos']);
    await expect.poll(() => page.textContent('#toast')).toBe('Noted.');
  }, 120_000);
});
