/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Issue 15 part 2 in real Chromium against a real hub (real MQTT fob, real SQLite, the hub's clock
// driven by the test, the page's clock by Playwright's page.clock): item 2 (sound until taken,
// autoplay banner, the choice remembered), item 3 (call-back due on the board, with its own tone and
// a timeline entry), item 4 (hub lost: banner, tone, stale times), item 8 (390 px), item 15 (titles,
// favicon, sign-in focus, live relative times) and the accessibility checks (labels, keyboard,
// contrast).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestHub, TEST_CONTACTS, type TestHub } from '../helpers/hub-harness.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { createUser } from '../../hub/http/users.js';
import { PASSWORD, TEST_PASSWORD_COST, userClient } from './api-client.js';
import { CHROMIUM_DESKTOP, launchChromium } from './browser.js';

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
  t = await startTestHub({ manualClock: true, config: { contacts: [...TEST_CONTACTS, { id: 'bud-1', name: 'Bea Buddy', role: 'buddy' }] } });
  await t.addWorker('sam', { name: 'Sam Carter', buddyId: 'bud-1', lineManagerId: 'lm-1' });
  for (const [username, role] of [['dana', 'duty_officer'], ['adam', 'admin']] as const) {
    await createUser(t.hub.store, { username, role, password: PASSWORD, name: username[0]!.toUpperCase() + username.slice(1) }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
  }
  await t.addVisit({ workerId: 'sam', ref: 'V-1042', nextLocation: 'office' });
  await t.hub.runtime.workerAction('sam', { type: 'visit_start', ref: 'V-1042', source: 'test' });
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  fob = await connectFob(t.mqttUrl, 'fob-1', secret);
});
afterEach(async () => {
  await fob?.close().catch(() => undefined);
  await t.stop();
});

/**
 * Counts the oscillators the page really starts (the WebAudio calls behind each tone), by wrapping
 * the browser's own OscillatorNode.start: the sound is real, the count is only read.
 */
const COUNT_OSCILLATORS = `(() => {
  const start = OscillatorNode.prototype.start;
  window.__oscillators = 0;
  OscillatorNode.prototype.start = function (...a) { window.__oscillators++; return start.apply(this, a); };
})()`;

/** A signed-in page with the page clock installed (it still flows; the test can run it ahead). */
async function openConsole(b: Browser, username: string, opts: { width?: number; height?: number; clock?: boolean } = {}): Promise<Page> {
  const context = await b.newContext({ viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 } });
  const page = await context.newPage();
  page.on('close', () => void context.close().catch(() => undefined));
  page.on('pageerror', (err) => {
    throw err;
  });
  await page.addInitScript(COUNT_OSCILLATORS);
  if (opts.clock !== false) await page.clock.install();
  await page.goto(t.httpUrl + '/');
  await page.fill('#signin-form input[name=username]', username);
  await page.fill('#signin-form input[name=password]', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#top:not([hidden])');
  await page.waitForSelector('#live:not(.off)');
  return page;
}

const tones = async (page: Page, kind: 'Alarm' | 'Callback' | 'HubLost'): Promise<number> => Number((await page.getAttribute('body', `data-tones-${kind.toLowerCase() === 'hublost' ? 'hub-lost' : kind.toLowerCase()}`)) ?? '0');
const oscillators = (page: Page): Promise<number> => page.evaluate(() => (window as unknown as { __oscillators: number }).__oscillators);

async function raise(kind: 'sos' | 'cov', seq = 1): Promise<string> {
  await fob.send({ i: makeEventId(1, seq), k: kind, ag: 0 });
  await t.settle();
  const alarm = (await t.alarms()).find((a) => a.kind === (kind === 'sos' ? 'sos' : 'covert_sos'))!;
  return alarm.id;
}

describe('issue 15 part 2 in Chromium', () => {
  it('item 2: an untaken SOS sounds for a minute and more on the page clock, and stops when an officer takes it', { timeout: 120_000 }, async () => {
    const page = await openConsole(browser, 'dana');
    expect(await page.getAttribute('#sound', 'aria-pressed')).toBe('true');
    await raise('sos');
    await page.waitForSelector('#open-alarms [data-kind="sos"]');
    await expect.poll(() => tones(page, 'Alarm')).toBeGreaterThanOrEqual(1);
    const before = await tones(page, 'Alarm');
    const oscBefore = await oscillators(page);
    await page.clock.runFor(61_000);
    // One alarm tone every 4 s: at least 15 more in 61 s, each four real oscillator notes.
    const during = (await tones(page, 'Alarm')) - before;
    expect(during).toBeGreaterThanOrEqual(15);
    expect((await oscillators(page)) - oscBefore).toBeGreaterThanOrEqual(during * 4);

    // From here the hub answers reads of the open alarms 1 s late (a busy hub), while the board's own
    // read is not held: the board shows the alarm taken only once the console has heard the hub's
    // answer to the click, so its tone has stopped by then (open-alarms.js). Before, the tone went on
    // until the live event's read came back, and the page clock can run a minute in that time.
    // The badge's read (open-alarms.js), which names its limit.
    await page.route('**/api/alarms?open=true&limit=*', async (route) => {
      const answer = await route.fetch();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await route.fulfill({ response: answer });
    });
    await page.click('#open-alarms [data-action="ack"]');
    await page.waitForSelector('#open-alarms .s-acknowledged');
    const taken = await tones(page, 'Alarm');
    await page.clock.runFor(61_000);
    expect(await tones(page, 'Alarm')).toBe(taken);
    await page.close();
  });

  it('item 2: a read of the open alarms answered after a newer one is not applied: a new SOS goes on sounding', { timeout: 120_000 }, async () => {
    const page = await openConsole(browser, 'dana');
    // The next read the console sends is answered by the hub at once (no alarm yet) and held on the
    // way back, as a slow connection would.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let answered!: () => void;
    const hubAnswered = new Promise<void>((resolve) => (answered = resolve));
    let first = true;
    // The badge's read (open-alarms.js), which names its limit.
    await page.route('**/api/alarms?open=true&limit=*', async (route) => {
      if (!first) return route.continue();
      first = false;
      const answer = await route.fetch();
      answered();
      await held;
      await route.fulfill({ response: answer });
    });
    await page.clock.runFor(30_000); // the console's 30 s poll sends that read
    await hubAnswered;
    await raise('sos'); // the live event's read, sent after it, is answered first
    await expect.poll(() => tones(page, 'Alarm')).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#alarm-count')).toBe('1');

    release();
    await page.waitForFunction(() => document.body.dataset.alarmReadsLate === '1', null, { timeout: 10_000 });
    const before = await tones(page, 'Alarm');
    await page.clock.runFor(12_500);
    expect((await tones(page, 'Alarm')) - before, 'the SOS still sounds every 4 s').toBeGreaterThanOrEqual(2);
    expect(await page.isVisible('#alarm-count')).toBe(true);
    expect(await page.textContent('#alarm-count')).toBe('1');
    await page.close();
  });

  it('item 2: where the browser blocks sound a banner says so until one click turns it on; turning it off is remembered', { timeout: 120_000 }, async () => {
    // A browser with Chrome's default autoplay policy: no sound before a click on the page. The
    // desktop Chromium a duty officer runs, as this is the browser's own policy.
    const strict = await chromium.launch({ executablePath: CHROMIUM_DESKTOP, headless: true, args: ['--no-sandbox', '--autoplay-policy=document-user-activation-required'] });
    try {
      const signedIn = await openConsole(strict, 'dana', { clock: false });
      // The sign-in click let that page start sound. The console opened afresh, in a context no click
      // has touched, with the same session: nothing has let it start sound. (A reload of the signed-in
      // page was used before; in one full run under load its sound was running after the reload and
      // the banner never showed, so a reload is not a sure way to lose the click.)
      const fresh = await strict.newContext({ viewport: { width: 1400, height: 900 }, storageState: await signedIn.context().storageState() });
      await signedIn.close();
      const page = await fresh.newPage();
      page.on('close', () => void fresh.close().catch(() => undefined));
      page.on('pageerror', (err) => {
        throw err;
      });
      await page.addInitScript(COUNT_OSCILLATORS);
      await page.goto(t.httpUrl + '/');
      await page.waitForSelector('#top:not([hidden])');
      await page.waitForSelector('#sound-banner:not([hidden])');
      expect(await page.textContent('#sound-banner')).toContain('blocked by the browser');
      expect(await page.textContent('#sound')).toBe('Sound: blocked (click)');
      await raise('sos');
      await expect.poll(() => tones(page, 'Alarm')).toBeGreaterThanOrEqual(1);
      expect(await oscillators(page)).toBe(0); // nothing claimed as played while blocked
      await page.click('#sound-enable');
      await page.waitForSelector('#sound-banner', { state: 'hidden' });
      await expect.poll(() => oscillators(page), { timeout: 10_000 }).toBeGreaterThan(0);

      // Off by choice: remembered across a reload, and the banner says it is off, not blocked.
      await page.click('#sound');
      expect(await page.textContent('#sound')).toBe('Sound: off (click)');
      await page.reload();
      await page.waitForSelector('#sound-banner:not([hidden])');
      expect(await page.textContent('#sound-banner')).toContain('turned off on this console');
      await page.close();
    } finally {
      await strict.close();
    }
  });

  it('item 3: a covert call-back falling due is on the board of every view, sounds its own tone and is on the timeline', { timeout: 120_000 }, async () => {
    const page = await openConsole(browser, 'dana');
    const id = await raise('cov');
    const api = await userClient(t, 'dora', 'duty_officer');
    await api.post(`/api/alarms/${id}/acknowledge`, {});
    await api.post(`/api/alarms/${id}/callback`, { action: 'start' });
    await page.goto(`${t.httpUrl}/#/workers`);
    await page.waitForSelector('#workers');
    await page.waitForSelector('#duties [data-duty="callback"]');
    expect(await page.textContent('#duties')).toContain('Call-back promised');
    expect(await tones(page, 'Callback')).toBe(0);

    await t.advance(5 * MIN);
    // The hub records it due (on the record, not only a timer in one browser).
    const timeline = await t.hub.store.read((tx) => tx.getTimeline(id));
    expect(timeline.filter((e) => e.type === 'callback_due')).toHaveLength(1);
    await expect.poll(() => page.textContent('#duties'), { timeout: 10_000 }).toContain('CALL BACK NOW');
    await expect.poll(() => tones(page, 'Callback')).toBeGreaterThanOrEqual(1);
    const first = await tones(page, 'Callback');
    await page.clock.runFor(17_000);
    expect(await tones(page, 'Callback')).toBeGreaterThanOrEqual(first + 2);

    await page.click('#duties a');
    await page.waitForSelector('#timeline [data-step="callback_due"]');
    expect(await page.textContent('#timeline [data-step="callback_due"]')).toContain('call the worker now');
    await page.click('[data-action="callback-done"]');
    await page.waitForSelector('#duties', { state: 'hidden' });
    const done = await tones(page, 'Callback');
    await page.clock.runFor(20_000);
    expect(await tones(page, 'Callback')).toBe(done);
    await page.close();
  });

  it('item 4: a lost hub shows a full-width banner, sounds, and marks "told again in …" as not known', { timeout: 120_000 }, async () => {
    const page = await openConsole(browser, 'dana');
    await raise('sos');
    await page.waitForSelector('#open-alarms [data-kind="sos"] [data-until]');
    await page.click('#open-alarms [data-action="ack"]').catch(() => undefined);
    await page.goto(`${t.httpUrl}/#/alarms`);
    expect(await page.isHidden('#hub-lost')).toBe(true);
    // The hub goes away: its HTTP listener closes under the open live stream.
    await t.hub.http.close();
    await page.waitForSelector('#hub-lost:not([hidden])', { timeout: 15_000 });
    expect(await page.textContent('#hub-lost')).toContain('Connection to the hub lost');
    const box = (await page.locator('#hub-lost').boundingBox())!;
    expect(box.width).toBeGreaterThanOrEqual(1400 - 20);
    await expect.poll(() => tones(page, 'HubLost')).toBeGreaterThanOrEqual(1);
    for (const text of await page.locator('[data-until]').allTextContents()) expect(text).toBe('(not known: hub unreachable)');
    await page.close();
  });

  it('item 15: the step line counts down live, each view has its own title, favicon and sign-in focus work', { timeout: 120_000 }, async () => {
    const context = await browser.newContext();
    const fresh = await context.newPage();
    await fresh.goto(t.httpUrl + '/');
    await fresh.waitForSelector('#signin:not([hidden])');
    expect(await fresh.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('username');
    expect(await fresh.title()).toBe('Sign in · Lonewatch');
    const ico = await fresh.request.get(t.httpUrl + '/favicon.ico');
    expect(ico.status()).toBe(200);
    expect(ico.headers()['content-type']).toContain('svg');
    await context.close();

    const page = await openConsole(browser, 'dana');
    await page.goto(`${t.httpUrl}/#/workers`);
    await page.waitForSelector('#workers');
    expect(await page.title()).toBe('Workers · Lonewatch');
    await page.goto(`${t.httpUrl}/#/records`);
    await page.waitForSelector('#records');
    expect(await page.title()).toBe('Records · Lonewatch');
    await page.goto(`${t.httpUrl}/#/alarms`);
    await raise('sos');
    await page.waitForSelector('#open-alarms [data-until]');
    // The count in the title follows the live event on its own fetch, beside the board's refresh.
    await expect.poll(() => page.title(), { timeout: 10_000 }).toBe('(1) ALARM · Alarms · Lonewatch');
    // The alarm page has no timed reload: its "raised … ago" is kept true by the 1-second ticker.
    // Both clocks move 3 minutes together (the page takes the hub's time from each answer).
    const [alarm] = await t.alarms();
    await page.goto(`${t.httpUrl}/#/alarm/${alarm!.id}`);
    await page.waitForSelector('#alarm-raised [data-ago]');
    expect(await page.textContent('#alarm-raised [data-ago]')).toBe('just now');
    expect(await page.title()).toBe('(1) ALARM · Alarm · Lonewatch');
    // The ticker itself: with the hub's clock still, nothing re-renders the page; the same element's
    // text still moves on as the page's clock runs (an answer from the hub in between, the 30-s
    // check, brings the page back to the hub's time once at most, so one stretch is >= 10 s).
    const el = (await page.$('#alarm-raised [data-ago]'))!;
    let most = 0;
    for (let i = 0; i < 20; i++) {
      await page.clock.runFor(1000);
      const n = Number(/^(\d+) s ago$/.exec((await el.textContent()) ?? '')?.[1] ?? 0);
      most = Math.max(most, n);
    }
    expect(await el.evaluate((x) => x.isConnected)).toBe(true);
    expect(most).toBeGreaterThanOrEqual(10);
    await t.advance(3 * MIN);
    await page.clock.runFor(3 * MIN);
    await expect.poll(() => page.textContent('#alarm-raised [data-ago]'), { timeout: 5_000 }).toBe('3 min ago');
    await page.close();
  });

  it('item 8 and accessibility: at 390 px nothing scrolls sideways and every action is on screen; inputs are labelled, keys work, text has contrast', { timeout: 90_000 }, async () => {
    const id = await raise('sos');
    const page = await openConsole(browser, 'adam', { width: 390, height: 844 });
    const fits = async () => {
      const { sw, iw, wide } = await page.evaluate(() => ({
        sw: document.documentElement.scrollWidth,
        iw: window.innerWidth,
        // What sticks out, named in the failure message.
        wide: [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map((e) => `${e.tagName}.${e.className}#${e.id}`),
      }));
      expect(sw, wide.join(', ')).toBeLessThanOrEqual(iw);
    };
    const onScreen = async (selector: string) => {
      const loc = page.locator(selector).first();
      await loc.scrollIntoViewIfNeeded();
      expect(await loc.isVisible()).toBe(true);
      const b = (await loc.boundingBox())!;
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.x + b.width).toBeLessThanOrEqual(390);
    };
    const labelled = async () => {
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll('main input, main select, main textarea')]
          .filter((el) => (el as HTMLInputElement).type !== 'hidden' && (el as HTMLElement).offsetParent !== null)
          .filter((el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute('aria-label'))
          .map((el) => el.outerHTML),
      );
      expect(unlabelled).toEqual([]);
    };
    await page.waitForSelector('#open-alarms [data-kind="sos"]');
    await fits();
    for (const sel of ['[data-nav="alarms"]', '[data-nav="workers"]', '[data-nav="records"]', '[data-nav="admin"]', '#sound', '#sign-out', '#open-alarms [data-action="ack"]']) await onScreen(sel);

    // Keyboard: Tab reaches Acknowledge, Enter takes the alarm.
    await page.locator('body').focus();
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.getAttribute('data-action') === 'ack');
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#open-alarms .s-acknowledged');

    await page.goto(`${t.httpUrl}/#/alarm/${id}`);
    await page.waitForSelector('#actions');
    await fits();
    for (const sel of ['[data-action="resolve"]', '[data-action="police"]', '[data-action="note"]', '[data-action="cancel"]', '[data-action="handover"]']) await onScreen(sel);
    await labelled();
    // Space presses a focused button too: 999 called goes on the timeline.
    await page.focus('[data-action="police"]');
    await page.keyboard.press('Space');
    await page.waitForSelector('#timeline [data-step="police_called"]');

    for (const [hash, root] of [['#/workers', '#workers'], ['#/records', '#records'], ['#/admin', '#admin']] as const) {
      await page.goto(`${t.httpUrl}/${hash}`);
      await page.waitForSelector(root);
      await fits();
      await labelled();
    }
    await onScreen('#worker-form button[type=submit]');

    // Contrast (WCAG 2.1, 1.4.3): body text and each kind of button at least 4.5:1.
    const ratios = await page.evaluate(() => {
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
      const lum = (c: string) => {
        const [r, g, b] = rgb(c).map((v) => {
          const s = v / 255;
          return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
      };
      const bgOf = (el: Element | null): string => {
        for (let e = el; e; e = e.parentElement) {
          const c = getComputedStyle(e).backgroundColor;
          if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c;
        }
        return getComputedStyle(document.body).backgroundColor;
      };
      const ratio = (el: Element) => {
        const a = lum(getComputedStyle(el).color);
        const b = lum(bgOf(el));
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      };
      const out: Record<string, number> = {};
      for (const sel of ['main h1', 'main .muted', 'main label', 'button.primary', 'button.danger', 'button:not(.primary):not(.danger):not(.good)', '#sign-out', '.topbar nav a']) {
        const el = document.querySelector(sel);
        if (el) out[sel] = ratio(el);
      }
      return out;
    });
    expect(Object.keys(ratios).length).toBeGreaterThanOrEqual(6);
    for (const [sel, r] of Object.entries(ratios)) expect(r, sel).toBeGreaterThanOrEqual(4.5);
    await page.close();
  });

  it('item 13: visit import from the dashboard is all or nothing; the line-manager list offers only line managers; lists show names', { timeout: 120_000 }, async () => {
    const page = await openConsole(browser, 'adam');
    await page.goto(`${t.httpUrl}/#/admin`);
    await page.waitForSelector('#admin-import');
    expect(await page.title()).toBe('Administration · Lonewatch');
    const options = await page.locator('#worker-form select[name=lineManagerId] option').allTextContents();
    expect(options.sort()).toEqual(['(none)', 'Hana Head (head of service)', 'Lee Manager (line manager)']);
    // The buddy and line manager by name, not id.
    const row = page.locator('#admin-workers tr', { hasText: 'Sam Carter (sam)' });
    expect(await row.locator('td').nth(1).textContent()).toBe('Bea Buddy');
    expect(await row.locator('td').nth(2).textContent()).toBe('Lee Manager');

    const dir = mkdtempSync(join(tmpdir(), 'lw-import-'));
    const start = new Date(t.clock.now() + 60 * MIN).toISOString();
    const end = new Date(t.clock.now() + 120 * MIN).toISOString();
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, `worker,ref,start,end\nsam,V-500,${start},${end}\nnobody,V-501,${start},${end}\n`);
    await page.setInputFiles('#import-form input[type=file]', bad);
    await page.click('#import-form button[type=submit]');
    await page.waitForSelector('#import-refused li');
    expect(await page.textContent('#import-result')).toContain('nothing was imported');
    expect(await page.textContent('#import-refused')).toContain('bad.csv:3');
    const visitsOf = () => t.hub.store.read((tx) => tx.listVisits('sam', t.clock.now() - 86_400_000, t.clock.now() + 86_400_000));
    expect((await visitsOf()).map((v) => v.ref)).not.toContain('V-500');

    const good = join(dir, 'good.csv');
    writeFileSync(good, `worker,ref,start,end\nsam,V-500,${start},${end}\n`);
    await page.setInputFiles('#import-form input[type=file]', good);
    await page.click('#import-form button[type=submit]');
    await expect.poll(() => page.textContent('#import-result')).toContain('Imported 1 visit(s) from good.csv');
    expect((await visitsOf()).map((v) => v.ref)).toContain('V-500');

    // The hub refuses a director as line manager even if a request names one.
    const api = await userClient(t, 'ada', 'admin');
    const refused = await api.request('PUT', '/api/workers/sam', { name: 'Sam Carter', lineManagerId: 'dir-1' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ field: 'lineManagerId' });
    await page.close();
  });

  it('item 15: records say the response time and the outcome in words, with the zone', { timeout: 120_000 }, async () => {
    const id = await raise('sos');
    await t.advance(2 * MIN + 5_000);
    const dana = await userClient(t, 'dora', 'duty_officer');
    await dana.post(`/api/alarms/${id}/acknowledge`, {});
    await dana.post(`/api/alarms/${id}/resolve`, { outcome: 'false_alarm' });
    const page = await openConsole(browser, 'dana');
    await page.goto(`${t.httpUrl}/#/records`);
    await page.waitForSelector(`#records-rows tr[data-alarm="${id}"]`);
    const row = page.locator(`#records-rows tr[data-alarm="${id}"]`);
    expect(await row.locator('[data-col="response"]').textContent()).toBe('taken after 2 min 5 s by dora');
    expect(await row.locator('[data-col="outcome"]').textContent()).toBe('False alarm');
    expect(await row.locator('td').first().textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d [A-Z]/);
    expect(await page.textContent('#records-zone')).toMatch(/Times are 24-hour/);
    await page.close();
  });
});
