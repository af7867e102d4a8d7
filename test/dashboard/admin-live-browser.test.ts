/// <reference lib="dom" />
// Admin lists are live (issue 15 item 13): in real Chromium against a real hub, a worker added with
// the real CLI (another process writing the SQLite file) and a fob registered from another console
// appear on an open admin page within a few seconds, far inside the old 30-second poll; a fob's
// secret shown once stays on screen through such a refresh. The routing of API writes to events is
// checked as a pure function beside it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { adminChangeOf } from '../../hub/http/admin-live.js';
import { userClient } from './api-client.js';
import { launchChromium, signInPage } from './browser.js';

const run = promisify(execFile);
const bin = new URL('../../bin/lonewatch.js', import.meta.url).pathname;
let browser: Browser;
let t: TestHub;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  t = await startTestHub({ config: { http: { external_check_ms: 200 } } });
});
afterEach(async () => {
  await t.stop();
});

describe('adminChangeOf', () => {
  it('turns successful administration writes into events, and nothing else', () => {
    expect(adminChangeOf('PUT', '/api/workers/ali', 200)).toBe('workers');
    expect(adminChangeOf('POST', '/api/workers/ali/visits', 201)).toBe('visits');
    expect(adminChangeOf('POST', '/api/admin/devices', 201)).toBe('devices');
    expect(adminChangeOf('POST', '/api/admin/users/bo/disable', 200)).toBe('users');
    expect(adminChangeOf('POST', '/api/admin/tokens?x=1', 201)).toBe('tokens');
    expect(adminChangeOf('POST', '/api/admin/visits/import', 200)).toBe('visits');
    expect(adminChangeOf('GET', '/api/admin/devices', 200)).toBeNull();
    expect(adminChangeOf('POST', '/api/admin/devices', 400)).toBeNull();
    expect(adminChangeOf('POST', '/api/alarms/a1/acknowledge', 200)).toBeNull();
    expect(adminChangeOf('POST', '/api/auth/sign-in', 200)).toBeNull();
  });
});

describe('live admin lists in Chromium', () => {
  it('a worker added with the CLI and a fob registered on another console appear at once; a secret shown once stays', { timeout: 90_000 }, async () => {
    const other = await userClient(t, 'adam', 'admin');
    const page = await signInPage(browser, t.httpUrl, 'adam');
    await page.goto(`${t.httpUrl}/#/admin`);
    await page.waitForSelector('#admin-workers');
    await page.waitForSelector('#live:not(.off)');

    // The page registers a fob: its secret is shown this once.
    await page.fill('#device-form input[name=deviceId]', 'fob-page');
    await page.click('#device-form button[type=submit]');
    await page.waitForSelector('#secret-value');
    const secret = await page.textContent('#secret-value');
    expect(secret).toMatch(/\S{16,}/);

    // Another process: the real CLI on the same database file.
    await run(process.execPath, [bin, 'workers', 'add', 'ali', '--name', 'Ali Khan'], { env: { ...process.env, LONEWATCH_DATA_DIR: t.dataDir }, timeout: 90_000 });
    await expect.poll(() => page.textContent('#admin-workers'), { timeout: 30_000 }).toContain('Ali Khan (ali)');

    // Another console, through the API.
    const reg = await other.post('/api/admin/devices', { deviceId: 'fob-elsewhere', workerId: 'ali', board: 'puck' });
    expect(reg.status).toBe(201);
    await expect.poll(() => page.textContent('#admin-devices'), { timeout: 10_000 }).toContain('fob-elsewhere');
    // The lists were fetched again, and the secret the admin has not written down yet is still there.
    expect(await page.textContent('#admin-devices')).toContain('fob-page');
    expect(await page.textContent('#secret-value')).toBe(secret);

    // The workers board follows too.
    await page.goto(`${t.httpUrl}/#/workers`);
    await page.waitForSelector('#workers');
    expect((await other.request('PUT', '/api/workers/bo', { name: 'Bo Lind' })).status).toBe(200);
    await expect.poll(() => page.textContent('#workers'), { timeout: 10_000 }).toContain('Bo Lind');
    await page.close();
  });
});
