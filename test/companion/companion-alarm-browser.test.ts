/// <reference lib="dom" />
// The phone's loud SOS screen (issue 15 item 7), its 24-hour times with the zone and its 390 px
// layout (item 8), in Debian's Chromium against a real hub (real MQTT over WebSocket, real SQLite,
// the hub's clock driven by the test). No Bluetooth is involved: the phone's own SOS goes as the
// worker's fob's event through the hub link.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { addWorkerAccount, PASSWORD, startCompanionHub } from './companion-harness.js';
import type { TestHub } from '../helpers/hub-harness.js';
import { userClient } from '../dashboard/api-client.js';
import { alarmScreenText, confirmationCode } from '../../hub/companion/public/alarm-screen.js';
import { launchChromium } from '../helpers/chromium.js';

const HOUR = 3600_000;
let browser: Browser;
const cleanup: (() => Promise<void> | void)[] = [];
let pageErrors: string[] = [];

beforeAll(async () => {
  // The run's shared Chromium (the same flags: no sandbox, sound without a click), issue 18.
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
  const errors = pageErrors;
  pageErrors = [];
  expect(errors).toEqual([]);
});

async function setup(): Promise<{ t: TestHub; page: Page }> {
  const t = await startCompanionHub();
  cleanup.push(() => t.stop());
  await addWorkerAccount(t, 'sam', 'w-sam', 'Sam Carter');
  await t.addDevice('puck-sam', { workerId: 'w-sam' });
  // 14:00 on the hub's day: a 12-hour phone would say "02:00 PM".
  await t.addVisit({ workerId: 'w-sam', ref: 'V-77', scheduledStart: t.clock.now() + 5 * HOUR, expectedEnd: t.clock.now() + 6 * HOUR });
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, timezoneId: 'Europe/London', locale: 'en-US' });
  cleanup.push(() => context.close());
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
  });
  await page.goto(`${t.httpUrl}/companion/`);
  await page.fill('#username', 'sam');
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('#day:not([hidden])');
  await expect.poll(() => page.textContent('#hub-state'), { timeout: 10_000 }).toBe('Hub: connected');
  return { t, page };
}

describe('the alarm screen’s words (pure)', () => {
  const base = { sentAt: Date.UTC(2026, 10, 23, 14, 5), ackedAt: null, takenAt: null, closedAt: null, cancelAt: null, cancelAckedAt: null };
  it('never says the office has the alarm before the hub’s ack, nor that someone took it before help-coming', () => {
    for (const connected of [true, false]) {
      const s = alarmScreenText(base, connected);
      expect(s.title).toBe('Sending alarm');
      expect(`${s.status} ${s.advice}`).not.toMatch(/office system has|help is coming|took/i);
    }
    expect(alarmScreenText(base, false).status).toMatch(/NO CONNECTION.*has not reached the office/);
    const acked = alarmScreenText({ ...base, ackedAt: base.sentAt + 2000 }, true);
    expect(acked.title).toBe('Alarm sent');
    expect(acked.status).toMatch(/No one has confirmed/);
    expect(alarmScreenText({ ...base, ackedAt: base.sentAt, takenAt: base.sentAt + 60_000 }, true).title).toBe('Help is coming');
    // A cancel not yet at the hub: the office still treats it as real.
    expect(alarmScreenText({ ...base, ackedAt: base.sentAt, cancelAt: base.sentAt + 5000 }, false).status).toMatch(/treats this as a real alarm/);
  });
  it('the confirmation code is always four digits', () => {
    for (const r of [0, 0.5, 0.99999]) expect(confirmationCode(() => r)).toMatch(/^\d{4}$/);
  });
});

describe('the loud SOS on the phone, in Chromium', () => {
  it('switches to a full-screen alarm: sent, then help coming once an officer takes it; the siren stops on a tap', async () => {
    const { t, page } = await setup();
    await page.click('#sos');
    await page.click('#sos-yes');
    await page.waitForSelector('#alarm-screen:not([hidden])');
    const box = (await page.locator('#alarm-screen').boundingBox())!;
    expect([box.x, box.y, box.width, box.height]).toEqual([0, 0, 390, 844]);
    expect(await page.getAttribute('body', 'data-siren')).toBe('on');
    // The hub stores the alarm and acks it: only now does the phone say the office system has it.
    await expect.poll(async () => (await t.alarms()).map((a) => a.kind), { timeout: 10_000 }).toEqual(['sos']);
    await expect.poll(() => page.textContent('#alarm-title'), { timeout: 10_000 }).toBe('Alarm sent');
    expect(await page.textContent('#alarm-status')).toMatch(/^The office system has your alarm \(\d\d:\d\d\)/);

    await page.click('#siren-stop');
    expect(await page.getAttribute('body', 'data-siren')).toBe('off');
    expect(await page.isHidden('#siren-stop')).toBe(true);

    const [alarm] = await t.alarms();
    const dana = await userClient(t, 'dana', 'duty_officer');
    expect((await dana.post(`/api/alarms/${alarm!.id}/acknowledge`, {})).status).toBe(200);
    await expect.poll(() => page.textContent('#alarm-title'), { timeout: 10_000 }).toBe('Help is coming');
    expect(await page.textContent('#alarm-status')).toMatch(/A duty officer took your alarm at \d\d:\d\d/);
  }, 120_000);

  it('"I’m safe" needs the code shown; a wrong code cancels nothing; the right one goes as the fob’s cancel and the alarm waits for the call-back', async () => {
    const { t, page } = await setup();
    await page.click('#sos');
    await page.click('#sos-yes');
    await expect.poll(() => page.textContent('#alarm-title'), { timeout: 10_000 }).toBe('Alarm sent');
    await page.click('#im-safe');
    const code = /type (\d{4})/.exec((await page.textContent('#safe-code-text')) ?? '')![1]!;
    // Focus is on the code box, which has a label.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('safe-code');
    await page.fill('#safe-code', code === '1234' ? '4321' : '1234');
    await page.click('#safe-yes');
    expect(await page.textContent('#safe-error')).toMatch(/NOT cancelled/);
    const [before] = await t.alarms();
    expect(before!.workerCancelledAt).toBeNull();

    await page.fill('#safe-code', code);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('#alarm-title'), { timeout: 10_000 }).toBe('Cancel received');
    expect(await page.textContent('#alarm-status')).toMatch(/stays open until the duty officer has phoned you/);
    const [after] = await t.alarms();
    expect(after!.workerCancelledAt).not.toBeNull();
    expect(['raised', 'notifying', 'acknowledged']).toContain(after!.state); // open: the officer calls back first
    const timeline = await t.hub.store.read((tx) => tx.getTimeline(after!.id));
    expect(timeline.some((e) => e.type === 'worker_cancelled')).toBe(true);
    await page.click('#alarm-close');
    expect(await page.isHidden('#alarm-screen')).toBe(true);
  }, 120_000);

  it('at 390 px: no sideways scroll, every action on screen, times 24-hour with the zone', async () => {
    const { page } = await setup();
    await page.waitForSelector('#visits li[data-ref="V-77"]');
    const { sw, iw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, iw: window.innerWidth }));
    expect(sw).toBeLessThanOrEqual(iw);
    for (const sel of ['#checkin', '#pair', '#end-shift', '#sos', '#late', '#sign-out', '#visits li[data-ref="V-77"] button']) {
      const loc = page.locator(sel);
      await loc.scrollIntoViewIfNeeded();
      const b = (await loc.boundingBox())!;
      expect(b.x, sel).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width, sel).toBeLessThanOrEqual(390);
    }
    const meta = await page.textContent('#visits li[data-ref="V-77"] .meta');
    expect(meta).toContain('14:00–15:00');
    expect(meta).not.toMatch(/AM|PM/);
    expect(await page.textContent('#zone')).toBe('Times are 24-hour, GMT (Europe/London).');
  }, 120_000);
});
