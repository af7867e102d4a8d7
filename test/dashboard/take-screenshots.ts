/**
 * Screenshots of the dashboard's main screens for the docs: `npx tsx test/dashboard/take-screenshots.ts`
 * starts a real hub on a manual clock, fills it with a small demo team (real MQTT fobs raise the
 * alarms), signs in with Chromium and writes docs/screenshots/*.png.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../hub/clock.js';
import { createUser } from '../../hub/http/users.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { startTestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { PASSWORD } from './api-client.js';
import { launchChromium } from './browser.js';

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const MIN = 60_000;

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 14, 5));
  const t = await startTestHub({ clock });
  const fobs: TestFob[] = [];
  const team = [
    { id: 'sam', name: 'Sam Carter' },
    { id: 'priya', name: 'Priya Shah' },
    { id: 'tom', name: 'Tom Evans' },
    { id: 'alex', name: 'Alex Morgan' },
    { id: 'jo', name: 'Jo Williams' },
    { id: 'chris', name: 'Chris Okafor' },
  ];
  for (const w of team) await t.addWorker(w.id, { name: w.name, buddyId: 'lm-1' });
  await createUser(t.hub.store, { username: 'dana', role: 'duty_officer', password: PASSWORD, name: 'Dana Duty' }, 'demo', clock.now());
  await createUser(t.hub.store, { username: 'ada', role: 'admin', password: PASSWORD, name: 'Ada Admin' }, 'demo', clock.now());
  const fobOf: Record<string, TestFob> = {};
  for (const [i, w] of team.entries()) {
    const { secret } = await t.addDevice(`fob-00${i + 1}`, { workerId: w.id });
    if (w.id === 'chris') continue; // fob offline
    const f = await connectFob(t.mqttUrl, `fob-00${i + 1}`, secret);
    fobs.push(f);
    fobOf[w.id] = f;
  }
  const now = () => clock.now();
  const start = async (workerId: string, ref: string, mins: number, extra: Record<string, unknown> = {}) => {
    await t.addVisit({ workerId, ref, scheduledStart: now(), expectedEnd: now() + mins * MIN, ...extra });
    await t.hub.runtime.workerAction(workerId, { type: 'visit_start', ref, source: `worker:${workerId}` });
  };

  // Earlier: an SOS that was a false alarm, and a resolved man-down.
  await fobOf.jo!.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
  await t.settle();
  let [a] = await t.alarms();
  await t.hub.runtime.alarmAction(a!.id, { type: 'acknowledge', by: 'user:dana' });
  await t.hub.runtime.alarmAction(a!.id, { type: 'cancel', by: 'user:dana', source: 'officer', reason: 'pressed in her bag; Jo called back, all fine' });

  // Alex's visit ends and no check-in comes: the missed check-in ladder starts.
  await start('alex', 'CASE-3310', 10, { nextLocation: 'home' });
  await start('priya', 'CASE-2231', 90, { rag: 'red', secondWorkerId: 'tom', riskCategory: 2 });
  await start('tom', 'CASE-2231', 90, { rag: 'red', secondWorkerId: 'priya', riskCategory: 2 });
  await t.addVisit({ workerId: 'jo', ref: 'CASE-4120', scheduledStart: now() + 40 * MIN, expectedEnd: now() + 100 * MIN });
  await t.hub.runtime.workerAction('jo', { type: 'checkin', source: 'worker:jo' });
  await t.advance(17 * MIN);
  for (const w of ['priya', 'tom', 'sam']) await fobOf[w]!.heartbeat(80);
  await fobOf.jo!.heartbeat(12);

  // Sam, at a visit, says the code phrase: covert SOS from the fob.
  await start('sam', 'CASE-1042', 60, { rag: 'amber', nextLocation: 'office' });
  await t.advance(6 * MIN);
  await fobOf.sam!.send({ i: makeEventId(1, 2), k: 'cov', ag: 0 });
  await t.settle();
  await t.advance(1 * MIN);
  const covert = (await t.alarms()).find((x) => x.kind === 'covert_sos')!;
  a = covert;

  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, timezoneId: 'Europe/London', locale: 'en-GB', deviceScaleFactor: 1 });
  const page = await context.newPage();
  /** Top of the page, no toast: what a person sees when the screen has settled. */
  const shot = async (name: string) => {
    await page.evaluate("document.getElementById('toast').hidden = true; window.scrollTo(0, 0)");
    await page.screenshot({ path: OUT + name, fullPage: true });
  };
  await page.goto(t.httpUrl + '/');
  await shot('00-sign-in.png');
  await page.fill('#signin-form input[name=username]', 'dana');
  await page.fill('#signin-form input[name=password]', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#board');
  await page.waitForSelector('#live:not(.off)');
  await shot('01-alarm-board.png');

  // The same board on a 390 px phone (issue 15 item 8).
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, timezoneId: 'Europe/London', locale: 'en-GB', deviceScaleFactor: 1 });
  const pp = await phone.newPage();
  await pp.goto(t.httpUrl + '/');
  await pp.fill('#signin-form input[name=username]', 'dana');
  await pp.fill('#signin-form input[name=password]', PASSWORD);
  await pp.click('#signin-form button[type=submit]');
  await pp.waitForSelector('#board');
  await pp.waitForSelector('#live:not(.off)');
  await pp.evaluate("document.getElementById('toast').hidden = true; window.scrollTo(0, 0)");
  await pp.screenshot({ path: OUT + '09-board-390px.png', fullPage: true });
  await phone.close();

  await page.goto(`${t.httpUrl}/#/alarm/${covert.id}`);
  await page.waitForSelector('#script');
  await page.click('#actions [data-action="ack"]');
  await page.waitForSelector('#alarm[data-state="acknowledged"]');
  for (const [q, ans, note] of [
    ['at_address', 'yes', ''],
    ['in_danger', 'yes', 'whispering; a man shouting in the background'],
    ['need_police', 'yes', ''],
    ['weapon', 'no_answer', ''],
  ] as const) {
    if (note) await page.fill(`[data-question="${q}"] input`, note);
    await page.click(`[data-question="${q}"] button[data-answer="${ans}"]`);
    await page.waitForSelector(`[data-question="${q}"] button[data-answer="${ans}"].chosen`);
  }
  await page.click('[data-action="callback-start"]');
  await page.waitForSelector('#callback-timer');
  await shot('02-covert-alarm.png');

  await page.click('[data-action="handover"]');
  await page.waitForSelector('#handover');
  await shot('03-police-handover.png');

  await page.click('[data-nav="workers"]');
  await page.waitForSelector('#workers');
  await shot('04-workers.png');

  await page.goto(`${t.httpUrl}/#/worker/alex`);
  await page.waitForSelector('#visit-form');
  await page.fill('#visit-form input[name=ref]', 'CASE-5002');
  await page.selectOption('#visit-form select[name=category]', '2');
  await page.click('#visit-form button[type=submit]');
  await page.waitForSelector('#visit-result .error');
  await shot('05-worker-itinerary.png');

  await page.click('[data-nav="records"]');
  await page.waitForSelector('#records-rows');
  await shot('06-records.png');

  await page.click('[data-action="printable"]');
  await page.waitForSelector('#records-print .incident');
  await shot('07-records-printable.png');

  // The admin's view: a fob registered, its secret shown this once.
  const admin = await browser.newContext({ viewport: { width: 1400, height: 1000 }, timezoneId: 'Europe/London', locale: 'en-GB' });
  const ap = await admin.newPage();
  await ap.goto(t.httpUrl + '/#/admin');
  await ap.fill('#signin-form input[name=username]', 'ada');
  await ap.fill('#signin-form input[name=password]', PASSWORD);
  await ap.click('#signin-form button[type=submit]');
  await ap.waitForSelector('#device-form');
  await ap.fill('#device-form input[name=deviceId]', 'fob-007');
  await ap.selectOption('#device-form select[name=workerId]', 'chris');
  await ap.selectOption('#device-form select[name=board]', 'rak5010');
  await ap.click('#device-form button[type=submit]');
  await ap.waitForSelector('#secret-value');
  await ap.evaluate("document.getElementById('toast').hidden = true; window.scrollTo(0, 0)");
  await ap.screenshot({ path: OUT + '08-admin.png', fullPage: true });

  await browser.close();
  for (const f of fobs) await f.close();
  await t.stop();
  process.stdout.write(`screenshots in ${OUT}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
