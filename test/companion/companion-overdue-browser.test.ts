// An overdue visit on the worker's phone (issue 15 item 6), in real Chromium against a real hub on a
// manual clock: a planned visit past its start and not started is shown as overdue with what to do
// ("Start now: you are late"); once the hub has raised the missed-check-in ladder for it (the
// start plus rules.visit_start_grace_min and checkin_grace_min), "Start now, the office has been told you are late" and
// "Check in now" instead of a plain Start. Starting it then starts the visit at the hub.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { addWorkerAccount, PASSWORD, startCompanionHub } from './companion-harness.js';
import type { TestHub } from '../helpers/hub-harness.js';
import { launchChromium } from '../dashboard/browser.js';

const MINUTE = 60_000;
let browser: Browser;
let t: TestHub | null = null;
let context: BrowserContext | null = null;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await context?.close();
  await t?.stop();
  context = null;
  t = null;
});

describe('an overdue visit on the companion', () => {
  it('shows it overdue with the action to take, then says the office has been told, and starts it', async () => {
    t = await startCompanionHub({ config: { rules: { visit_start_grace_min: 15 } } });
    await addWorkerAccount(t, 'sam', 'w-sam', 'Sam Carter');
    await t.addDevice('puck-sam', { workerId: 'w-sam' });
    const now = t.clock.now();
    await t.addVisit({ workerId: 'w-sam', ref: 'V-501', scheduledStart: now + 10 * MINUTE, expectedEnd: now + 70 * MINUTE });
    // As an import or the dashboard does: the hub re-reads the worker's day and arms its deadline.
    await t.hub.runtime.workerAction('w-sam', { type: 'itinerary_changed' });
    context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    // What the page asked the hub and was answered, and what it logged, in order: for the message if
    // a wait below fails.
    const seen: string[] = [];
    page.on('response', (res) => {
      if (res.url().includes('/api/companion/')) seen.push(`${res.request().method()} ${new URL(res.url()).pathname} ${res.status()}`);
    });
    page.on('requestfailed', (req) => seen.push(`${req.method()} ${new URL(req.url()).pathname} failed: ${req.failure()?.errorText}`));
    page.on('console', (msg) => seen.push(`console.${msg.type()}: ${msg.text()}`));
    await page.goto(`${t.httpUrl}/companion/`);
    await page.fill('#username', 'sam');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('#day:not([hidden])');
    const visit = '#visits li[data-ref="V-501"]';

    // Before its start: a plain Start.
    await page.waitForSelector(`${visit} button.start`);
    expect(await page.textContent(`${visit} button.start`)).toBe('Start');
    expect(await page.getAttribute(visit, 'data-late')).toBeNull();

    // Past its start, within the grace: overdue, and what to do.
    await t.advance(11 * MINUTE);
    await page.reload();
    await page.waitForSelector(`${visit}[data-late="late"]`);
    expect(await page.textContent(`${visit} button.start`)).toBe('Start now: you are late');
    expect(await page.textContent(`${visit} .late-note`)).toMatch(/^OVERDUE: due to start at \d\d:\d\d\. Start it now, or the office will be told\.$/);
    expect(await page.locator(`${visit} [data-action="late-checkin"]`).count()).toBe(0);

    // Past the start grace (15 min) and the check-in grace (rules.checkin_grace_min, 5): the hub
    // runs the missed-check-in ladder for the visit; the phone says so.
    await t.advance(20 * MINUTE);
    const raised = (await t.alarms()).find((a) => a.kind === 'missed_checkin');
    expect(raised?.state).toMatch(/raised|notifying/);
    expect((await t.hub.store.read((tx) => tx.getCheckinState('w-sam')))?.due).toMatchObject({ reason: 'visit_not_started' });
    await page.reload();
    // One clean-clone CI run (2026-12-03, under load) waited 30 s here in vain, with the alarm raised
    // and the due reason set (both asserted above); the page keeps its last copy of the day when a
    // read of /today fails. If it happens again, the failure says what the page was answered.
    await page.waitForSelector(`${visit}[data-late="office-told"]`).catch(async (err: Error) => {
      const shown = await page.evaluate(() => localStorage.getItem('lw.today')).catch((e: Error) => e.message);
      const today = await page.evaluate(async () => {
        const res = await fetch('/api/companion/today', { headers: { authorization: `Bearer ${localStorage.getItem('lw.token')}` } });
        return `${res.status} ${await res.text()}`;
      }).catch((e: Error) => e.message);
      throw new Error(`${err.message}\nthe page's requests to the hub, their answers and its console, in order: ${seen.join('; ')}\nits stored day: ${shown}\n/today now: ${today}\npage errors: ${errors.join('; ')}`);
    });
    expect(await page.textContent(`${visit} button.start`)).toBe('Start now, the office has been told you are late');
    expect(await page.textContent(`${visit} [data-action="late-checkin"]`)).toBe('Check in now: I am safe');
    expect(await page.textContent(`${visit} .late-note`)).toContain('The office has been told you are late.');

    await page.click(`${visit} button.start`);
    await expect.poll(async () => (await t!.hub.store.read((tx) => tx.listVisits('w-sam', now - MINUTE, now + 2 * 60 * MINUTE))).find((v) => v.ref === 'V-501')?.status, { timeout: 10_000 }).toBe('active');
    expect(errors).toEqual([]);
  }, 120_000);
});
