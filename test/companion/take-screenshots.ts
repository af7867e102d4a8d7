/**
 * Screenshots of the worker's companion for the docs: `npx tsx test/companion/take-screenshots.ts`
 * starts a real hub on a manual clock, gives Sam a day of visits, opens the companion in Chromium at
 * a phone's size with the simulated Puck.js paired, and writes docs/screenshots/companion-*.png.
 */
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../hub/clock.js';
import { startTestHub } from '../helpers/hub-harness.js';
import { launchChromium } from '../dashboard/browser.js';
import { addWorkerAccount, PageFob, PASSWORD, puckScript } from './companion-harness.js';

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const MIN = 60_000;

/** Waits for an element's text (the page's CSP forbids evaluating strings, so no waitForFunction). */
async function waitText(page: Page, selector: string, ok: (text: string) => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok((await page.textContent(selector)) ?? '')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${selector} never matched`);
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 9, 0));
  const t = await startTestHub({ clock });
  await addWorkerAccount(t, 'sam', 'sam', 'Sam Carter');
  await t.addWorker('priya', { name: 'Priya Shah' });
  await t.addDevice('puck-017', { workerId: 'sam' });
  const day = clock.now();
  await t.addVisit({ workerId: 'sam', ref: 'HV-2231', scheduledStart: day, expectedEnd: day + 45 * MIN });
  await t.addVisit({ workerId: 'sam', ref: 'HV-2240', scheduledStart: day + 60 * MIN, expectedEnd: day + 120 * MIN, rag: 'amber', checkinIntervalMin: 30 });
  await t.addVisit({ workerId: 'sam', ref: 'HV-2302', scheduledStart: day + 180 * MIN, expectedEnd: day + 240 * MIN, riskCategory: 2, secondWorkerId: 'priya' });
  await t.addVisit({ workerId: 'sam', ref: 'HV-2315', scheduledStart: day + 270 * MIN, expectedEnd: day + 330 * MIN });

  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const fob = new PageFob(await puckScript(), 'puck-017');
  await fob.attach(page);
  await page.goto(`${t.httpUrl}/companion/`);
  await page.screenshot({ path: `${OUT}companion-0-sign-in.png` });
  await page.fill('#username', 'sam');
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('#day:not([hidden])');
  await page.click('#pair');
  await waitText(page, '#fob-state', (x) => x.startsWith('Fob: Puck'));
  await page.click('#visits li[data-ref="HV-2231"] button.start');
  await waitText(page, '#now-title', (x) => x === 'At HV-2231');
  await t.advance(40 * MIN);
  await page.click('#visits li[data-ref="HV-2240"] button.start');
  await waitText(page, '#now-title', (x) => x === 'At HV-2240');
  await t.advance(30 * MIN);
  await page.waitForSelector('#prompt:not([hidden])');
  await page.screenshot({ path: `${OUT}companion-1-day.png`, fullPage: true });
  await page.click('#checkin');
  await fob.drop();
  await page.waitForSelector('#fob-lost:not([hidden])');
  await page.screenshot({ path: `${OUT}companion-2-fob-lost.png` });
  // The loud SOS from the phone: the full-screen alarm screen once the hub has acked it (item 7).
  await page.click('#sos');
  await page.click('#sos-yes');
  await waitText(page, '#alarm-title', (x) => x === 'Alarm sent');
  await page.screenshot({ path: `${OUT}companion-3-alarm-screen.png` });
  await page.click('#im-safe');
  await page.screenshot({ path: `${OUT}companion-4-im-safe.png` });
  fob.stop();
  await browser.close();
  await t.stop();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
