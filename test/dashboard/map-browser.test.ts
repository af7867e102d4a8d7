/// <reference lib="dom" />
// Issue 20: the map on the alarm view and the police hand-over, in Debian's Chromium against a real
// hub (real MQTT fob, real SQLite, the positions API and its live `position` event) and a real tile
// server of the test's own (test/helpers/tile-server.ts) on a loopback port: the fix, its accuracy
// circle and the track drawn by Leaflet, the tiles asked of the configured server, a second position
// moving the marker live; and the offline map with no tile server, or one that does not answer.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createServer } from 'node:net';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { startTileServer, type TileServer } from '../helpers/tile-server.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { positionTopic, type Position } from '../../shared/protocol-core.js';
import { createUser } from '../../hub/http/users.js';
import { PASSWORD, TEST_PASSWORD_COST } from './api-client.js';
import { launchChromium } from './browser.js';

let browser: Browser;
const cleanup: (() => Promise<unknown> | unknown)[] = [];
let violations: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
  // The dashboard's CSP holds with the map: Leaflet's script and style from the hub, tiles from the
  // configured tile server only.
  const v = violations;
  violations = [];
  expect(v).toEqual([]);
});

interface Rig {
  t: TestHub;
  fob: TestFob;
  page: Page;
  alarmId: string;
}

const fix = (la: number, lo: number, ac: number, fa: number): Position => ({ la, lo, ac, fa, s: 'g' });

/** A hub with the given [map], a worker on a visit, their fob's SOS with a GNSS fix, an officer's page on the alarm. */
async function rig(map: Record<string, unknown>, first: Position = fix(51.50722, -0.1275, 12, 4)): Promise<Rig> {
  const t = await startTestHub({ manualClock: true, config: { map } });
  cleanup.push(() => t.stop());
  await t.addWorker('sam', { name: 'Sam Carter' });
  await createUser(t.hub.store, { username: 'dana', role: 'duty_officer', password: PASSWORD, name: 'Dana Duty' }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
  await t.addVisit({ workerId: 'sam', ref: 'V-2231' });
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
  cleanup.push(() => fob.close());
  await fob.send({ i: '1-1', k: 'vs', ag: 0, v: 'V-2231' });
  await fob.send({ i: '1-2', k: 'sos', ag: 0, l: first });
  await t.settle();
  const alarmId = (await t.alarms())[0]!.id;

  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  cleanup.push(() => context.close());
  const page = await context.newPage();
  page.on('pageerror', (err) => violations.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  await page.clock.install();
  await page.goto(t.httpUrl + '/');
  await page.fill('#signin-form input[name=username]', 'dana');
  await page.fill('#signin-form input[name=password]', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#live:not(.off)');
  await page.goto(`${t.httpUrl}/#/alarm/${alarmId}`);
  await page.waitForSelector('#position-summary');
  return { t, fob, page, alarmId };
}

const mapData = (page: Page) => page.evaluate(() => ({ ...(document.querySelector('#map') as HTMLElement).dataset }));

describe('the map on the alarm view (issue 20)', () => {
  let tiles: TileServer;
  beforeAll(async () => {
    tiles = await startTileServer();
  });
  afterAll(async () => {
    await tiles?.close();
  });

  it('shows the fix with its accuracy circle on tiles from the configured server, and follows a live position', async () => {
    // Counted before the page opens: the map can have fetched its tiles by the time the rig returns.
    const before = tiles.requests.length;
    const { t, fob, page, alarmId } = await rig({ tile_url: tiles.template, attribution: '© Test Tiles <contributors>' });
    // The summary in words, from the fix's own time (it was 4 s old when the SOS arrived).
    await expect.poll(() => page.textContent('#position-summary')).toMatch(/^fix \d+ s old, ±12 m, GNSS$/);
    expect(await page.textContent('#position-coords')).toBe('51.50722, -0.12750 (WGS84)');
    expect(await page.getAttribute('[data-link="geo"]', 'href')).toBe('geo:51.50722,-0.12750;u=12');
    expect(await page.getAttribute('[data-link="osm"]', 'href')).toBe('https://www.openstreetmap.org/?mlat=51.50722&mlon=-0.12750#map=17/51.50722/-0.12750');
    expect(await page.textContent('#visit-address')).toContain('V-2231');
    // Leaflet drew the marker and the circle where the fix is, on tiles from the tile server.
    await expect.poll(() => mapData(page), { timeout: 10_000 }).toMatchObject({ mode: 'tiles', markerLat: '51.50722', markerLon: '-0.12750', circleRadius: '12', trackPoints: '1' });
    await expect.poll(async () => Number((await mapData(page)).tilesLoaded ?? 0), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(tiles.requests.length).toBeGreaterThan(before);
    expect(await page.locator('#map img.leaflet-tile-loaded').count()).toBeGreaterThan(0);
    expect(await page.locator('#map path.leaflet-interactive, #map path').count()).toBeGreaterThanOrEqual(2);
    expect(await page.isHidden('#map-tiles-note')).toBe(true);
    // The tile server's credit is shown as text, not markup.
    expect(await page.textContent('#map .leaflet-control-attribution')).toContain('© Test Tiles <contributors>');

    // The age keeps ticking on the page's own clock.
    const age = (s: string | null) => Number(/fix (\d+) s old/.exec(s ?? '')?.[1]);
    const a0 = age(await page.textContent('#position-summary'));
    await page.clock.runFor(10_000);
    expect(age(await page.textContent('#position-summary'))).toBeGreaterThanOrEqual(a0 + 9);

    // A second fix arrives on the fob's `ps` leaf: the live event redraws the map in place.
    await page.evaluate(() => {
      (document.querySelector('#map') as HTMLElement & { __mark?: number }).__mark = 1;
    });
    await t.advance(20_000);
    await fob.client.publishAsync(positionTopic('fob-1'), JSON.stringify(fix(51.5081, -0.1281, 8, 1)), { qos: 1 });
    await t.settle();
    await expect.poll(() => mapData(page), { timeout: 10_000 }).toMatchObject({ markerLat: '51.50810', markerLon: '-0.12810', circleRadius: '8', trackPoints: '2' });
    await expect.poll(() => page.textContent('#position-summary')).toMatch(/^fix \d+ s old, ±8 m, GNSS$/);
    expect(await page.textContent('#position-coords')).toBe('51.50810, -0.12810 (WGS84)');
    expect(await page.textContent('#position-track')).toMatch(/^2 positions/);
    // Redrawn in place: the same map element (the officer's zoom and pan are kept).
    expect(await page.evaluate(() => (document.querySelector('#map') as HTMLElement & { __mark?: number }).__mark)).toBe(1);

    // The hand-over carries the position as text (for the printout), with the map beside it on screen.
    await page.goto(`${t.httpUrl}/#/alarm/${alarmId}/handover`);
    await page.waitForSelector('#handover #position-summary');
    expect(await page.textContent('#handover #position-coords')).toBe('51.50810, -0.12810 (WGS84)');
    expect(await page.textContent('#handover #position-links')).toContain('https://www.openstreetmap.org/?mlat=51.50810&mlon=-0.12810');
    await expect.poll(() => mapData(page), { timeout: 10_000 }).toMatchObject({ markerLat: '51.50810', trackPoints: '2' });
    await page.emulateMedia({ media: 'print' });
    expect(await page.isVisible('#handover #position-summary')).toBe(true);
    expect(await page.isVisible('#handover #position-fix-at')).toBe(true);
    expect(await page.isHidden('#handover #map')).toBe(true);
  }, 120_000);

  it('an alarm with no position says so plainly, and draws no map', async () => {
    const t = await startTestHub({ manualClock: true, config: { map: { tile_url: tiles.template } } });
    cleanup.push(() => t.stop());
    await t.addWorker('sam', { name: 'Sam Carter' });
    await createUser(t.hub.store, { username: 'dana', role: 'duty_officer', password: PASSWORD }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
    const { secret } = await t.addDevice('fob-2', { workerId: 'sam' });
    const fob = await connectFob(t.mqttUrl, 'fob-2', secret);
    cleanup.push(() => fob.close());
    await fob.send({ i: '1-1', k: 'sos', ag: 0 });
    await t.settle();
    const alarmId = (await t.alarms())[0]!.id;
    const context = await browser.newContext();
    cleanup.push(() => context.close());
    const page = await context.newPage();
    await page.goto(t.httpUrl + '/');
    await page.fill('#signin-form input[name=username]', 'dana');
    await page.fill('#signin-form input[name=password]', PASSWORD);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#top:not([hidden])');
    await page.goto(`${t.httpUrl}/#/alarm/${alarmId}`);
    await page.waitForSelector('#position-none');
    expect(await page.textContent('#position-none')).toMatch(/^No position received from this fob/);
    expect(await page.locator('#map').count()).toBe(0);
    expect(await page.locator('.leaflet-container').count()).toBe(0);
  }, 120_000);
});

describe('the offline map (issue 20)', () => {
  it('with no tile server: the coordinates, the accuracy circle on a grid, the links, and the tiles said to be unavailable', async () => {
    const { t, page } = await rig({});
    await expect.poll(() => mapData(page), { timeout: 10_000 }).toMatchObject({ mode: 'offline', markerLat: '51.50722', circleRadius: '12' });
    expect(await page.textContent('#map-tiles-note')).toMatch(/^Map tiles are not available \(no tile server is configured for this hub\)/);
    expect(Number((await mapData(page)).gridSpacing)).toBeGreaterThan(0);
    expect(await page.textContent('#map-grid-label')).toMatch(/^grid: \d+ m squares$/);
    expect(await page.locator('#map .leaflet-control-scale').count()).toBe(1);
    expect(await page.locator('#map img.leaflet-tile').count()).toBe(0);
    expect(await page.textContent('#position-coords')).toBe('51.50722, -0.12750 (WGS84)');
    expect(await page.getAttribute('[data-link="geo"]', 'href')).toBe('geo:51.50722,-0.12750;u=12');
    // No tile server: the CSP lets no image in from anywhere but the hub.
    const csp = await page.evaluate(async () => (await fetch('/')).headers.get('content-security-policy'));
    expect(csp).toContain("img-src 'self' data:;");

    // R22: once the officer closes the alarm, a duty officer may no longer see its track; the card
    // asks again and says so in the hub's words, the map is gone.
    await page.click('#actions [data-action="ack"]');
    await page.waitForSelector('#alarm[data-state="acknowledged"]');
    await page.selectOption('#close-alarm select[name=outcome]', 'test');
    await page.click('#close-alarm [data-action="resolve"]');
    await page.waitForSelector('#alarm[data-state="resolved"]');
    await page.waitForSelector('#position-error');
    expect(await page.textContent('#position-error')).toMatch(/^The position is not shown: a duty officer sees an alarm's positions only while it is open/);
    expect(await page.locator('#position .leaflet-container').count()).toBe(0);
    const refused = (await t.hub.store.listAudit(100)).filter((a) => a.action === 'position.refused');
    expect(refused).toEqual([expect.objectContaining({ actor: 'user:dana', subject: 'worker:sam' })]);
  }, 120_000);

  it('with a tile server that does not answer: the same offline map, saying the tiles could not be loaded', async () => {
    // A port that was free a moment ago and has nobody listening: every tile fails.
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const { page } = await rig({ tile_url: `http://127.0.0.1:${port}/{z}/{x}/{y}.png` });
    await expect.poll(() => mapData(page), { timeout: 15_000 }).toMatchObject({ mode: 'offline', markerLat: '51.50722' });
    expect(Number((await mapData(page)).tilesFailed)).toBeGreaterThan(0);
    expect(await page.textContent('#map-tiles-note')).toMatch(/^Map tiles are not available \(the tile server did not answer\)/);
    expect(await page.textContent('#map-grid-label')).toMatch(/^grid: /);
  }, 120_000);
});
