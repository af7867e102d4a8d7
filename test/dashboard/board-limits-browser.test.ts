// R3, the board when there are many alarms, in Debian's Chromium against a real hub. The board once
// read the newest 60 alarms of any state and showed the open ones among them: an SOS left open (its
// ladder exhausted) behind 60 newer alarms that were closed went off the board and out of its
// "N active" heading. And the open-alarm reads stopped at 200, newest first, so with more open than
// that an old SOS gave way to newer low batteries and the badge said 200. Now the open alarms are read
// loudest first (in the store: hub/store/alarm-list-sql.ts) and counted whole (openTotal), and a
// board that lists fewer than are open says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { userClient } from './api-client.js';
import { launchChromium, signInPage } from './browser.js';
import { alarm } from '../store/store-contract.js';

let t: TestHub;
let browser: Browser;
let page: Page;
let sosId: string;

beforeAll(async () => {
  t = await startTestHub({ manualClock: true });
  await t.addWorker('sam', { name: 'Sam Carter' });
  await userClient(t, 'dana', 'duty_officer');
  const start = t.clock.now();
  // The SOS first, through the runtime as an SOS is raised; every alarm after it is newer.
  const sos = await t.hub.runtime.run((tx, unit) => t.hub.runtime.raiseAlarm(tx, unit, { kind: 'sos', workerId: 'sam', deviceId: null, sourceEventId: null, reason: 'SOS pressed' }));
  sosId = sos.id;
  await t.settle();
  // 61 newer alarms, all closed (a day of low batteries dealt with).
  await t.hub.store.transaction(async (tx) => {
    for (let i = 0; i < 61; i++) {
      await tx.insertAlarm(alarm(`closed-${i}`, { kind: 'low_battery', priority: 4, workerId: 'sam', deviceId: null, raisedAt: start + 1_000 + i, state: 'resolved', closedAt: start + 2_000 + i, closedBy: 'user:dana', outcome: 'false_alarm' }));
    }
  });
  browser = await launchChromium();
  page = await signInPage(browser, t.httpUrl, 'dana');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

describe('the board with many alarms', () => {
  it('R3: an open SOS older than 61 closed alarms is on the board, in its count and on the badge', async () => {
    await page.waitForSelector(`#open-alarms [data-alarm="${sosId}"][data-kind="sos"]`);
    expect(await page.textContent('#board h1')).toBe('1 active alarm');
    expect(await page.$('#board-truncated')).toBeNull();
    await expect.poll(() => page.textContent('#alarm-count')).toBe('1');
    // The recently closed ones are still listed after it (12 of them).
    expect(await page.locator('#closed-alarms [data-alarm]').count()).toBe(12);
  });

  it('R3: with more open alarms than the board lists: the SOS first, every open alarm counted, and the board says it shows only some', async () => {
    const start = t.clock.now();
    await t.hub.store.transaction(async (tx) => {
      for (let i = 0; i < 205; i++) {
        await tx.insertAlarm(alarm(`batt-${i}`, { kind: 'low_battery', priority: 4, workerId: 'sam', deviceId: null, raisedAt: start + 5_000 + i, state: 'notifying' }));
      }
    });
    // Written straight into the store (no change on the feed): the officer reloads the page.
    await page.reload();
    await page.waitForSelector('#board-truncated');
    expect(await page.textContent('#board h1')).toBe('206 active alarms');
    expect(await page.textContent('#board-truncated')).toContain('shows the 200 most urgent of 206 active alarms. The other 6 are open too');
    expect(await page.locator('#open-alarms [data-alarm]').count()).toBe(200);
    // Loudest first: the oldest alarm on the board, the SOS, is its first card.
    expect(await page.getAttribute('#open-alarms [data-alarm]:first-child', 'data-alarm')).toBe(sosId);
    await expect.poll(() => page.textContent('#alarm-count')).toBe('206');
    expect(await page.title()).toMatch(/^\(206\) ALARM/);
    // The link goes to the records of every open alarm.
    expect(await page.getAttribute('#board-truncated a', 'href')).toBe('#/records?state=open');
  });
});
