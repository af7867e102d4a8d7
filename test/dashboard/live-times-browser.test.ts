/// <reference lib="dom" />
// Relative times on the console stay true without a reload (issue 15 item 15), in real Chromium
// against a real hub: a "device silent" alarm says how long the fob has been silent, counted live
// from when it was last heard, not the minutes written into the alarm when it was raised. The hub's
// clock is a ManualClock held still; the page's clock is Playwright's page.clock, run a second at a
// time, so only the page's own 1-second ticker can move the text.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { createUser } from '../../hub/http/users.js';
import { PASSWORD, TEST_PASSWORD_COST } from './api-client.js';
import { launchChromium } from './browser.js';

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
  t = await startTestHub({ manualClock: true });
  await t.addWorker('sam', { name: 'Sam Carter' });
  await createUser(t.hub.store, { username: 'dana', role: 'duty_officer', password: PASSWORD, name: 'Dana' }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  fob = await connectFob(t.mqttUrl, 'fob-1', secret);
});
afterEach(async () => {
  await fob?.close().catch(() => undefined);
  await t.stop();
});

async function openConsole(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('close', () => void context.close().catch(() => undefined));
  page.on('pageerror', (err) => {
    throw err;
  });
  await page.clock.install();
  await page.goto(t.httpUrl + '/');
  await page.fill('#signin-form input[name=username]', 'dana');
  await page.fill('#signin-form input[name=password]', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#top:not([hidden])');
  return page;
}

/** The largest "N min" the selector shows while the page's clock runs `seconds`, a second at a time. */
async function mostMinutes(page: Page, selector: string, seconds: number): Promise<number> {
  let most = 0;
  for (let i = 0; i < seconds; i++) {
    await page.clock.runFor(1000);
    const n = Number(/^(\d+) min$/.exec((await page.textContent(selector)) ?? '')?.[1] ?? 0);
    most = Math.max(most, n);
  }
  return most;
}

describe('live relative times', () => {
  it('a silent fob: "silent for N min" counts on from its last heartbeat on the board and the alarm page', { timeout: 90_000 }, async () => {
    await t.addVisit({ workerId: 'sam', ref: 'V-1', expectedEnd: t.clock.now() + 240 * MIN });
    await fob.send({ i: '1-1', k: 'vs', ag: 0 });
    await fob.heartbeat(80);
    await t.settle();
    const heardAt = t.clock.now();
    // Silent 20 min (the default rules.device_silent_after_min) raises the alarm; 50 s more pass.
    await t.advance(20 * MIN + 50_000);
    const [silent] = (await t.alarms()).filter((a) => a.kind === 'device_silent');
    expect(silent?.reason).toMatch(/Device silent for 20 min/);

    const page = await openConsole();
    const onBoard = '#open-alarms [data-reason=device_silent] [data-since]';
    await page.waitForSelector(onBoard);
    expect(await page.textContent(onBoard)).toBe('20 min');
    expect(await page.textContent('#open-alarms [data-reason=device_silent]')).toMatch(/^Fob fob-1 silent for 20 min \(last heard \d\d:\d\d\) during a shift$/);
    expect(await page.getAttribute(onBoard, 'data-since')).toBe(String(heardAt));
    // The hub's clock stands still: only the page's ticker can take it past 21 min (each answer
    // from the hub brings the page back to the hub's time, at most every 30 s, so one stretch of
    // the 40 s is long enough for the 10 s it takes).
    expect(await mostMinutes(page, onBoard, 40)).toBe(21);

    await page.click('#open-alarms [data-kind=device_silent] a.button');
    await page.waitForSelector('#alarm-reason [data-since]');
    expect(await page.textContent('#alarm-reason')).toMatch(/^Fob fob-1 silent for 2\d min/);
    // Both clocks move on together: the count follows.
    await t.advance(9 * MIN);
    await page.clock.runFor(9 * MIN);
    await expect.poll(() => page.textContent('#alarm-reason [data-since]'), { timeout: 5_000 }).toMatch(/^(29|30) min$/);
    await page.close();
  });

  it('the workers board: "next check-in due (in N min)" counts down on the page clock alone', { timeout: 90_000 }, async () => {
    await t.addVisit({ workerId: 'sam', ref: 'V-2', expectedEnd: t.clock.now() + 10 * MIN + 10_000 });
    await t.hub.runtime.workerAction('sam', { type: 'visit_start', ref: 'V-2', source: 'test' });
    await t.settle();
    const page = await openConsole();
    await page.goto(`${t.httpUrl}/#/workers`);
    const due = '[data-next-due=sam] [data-until]';
    await page.waitForSelector(due);
    expect(await page.textContent(due)).toBe('in 10 min');
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      await page.clock.runFor(1000);
      seen.add((await page.textContent(due)) ?? '');
    }
    expect(seen).toContain('in 9 min');
    await page.close();
  });
});
