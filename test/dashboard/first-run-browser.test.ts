// First run (issue 15 item 9), in real Chromium against a real hub: with no admin account the hub
// logs a one-time set-up link and the sign-in page says how to create the first admin; the set-up
// page, opened with that link, creates the first admin exactly once.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { ApiClient, PASSWORD } from './api-client.js';
import { launchChromium } from './browser.js';

let browser: Browser;
let t: TestHub;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await t?.stop();
});

it('a newcomer: the sign-in page says how, the logged link creates the first admin once, then it is spent', { timeout: 120_000 }, async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  t = await startTestHub({ manualClock: true, log });
  const setupLine = lines.map((l) => JSON.parse(l) as { msg: string; setupUrl?: string }).find((l) => l.setupUrl);
  expect(setupLine?.msg).toContain('npx lonewatch users add <username> --admin');
  const token = /\/#\/setup\/([A-Za-z0-9_-]{20,})$/.exec(setupLine!.setupUrl!)![1]!;

  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => {
    throw err;
  });
  await page.goto(t.httpUrl + '/');
  await expect.poll(() => page.textContent('#signin-setup')).toMatch(/no admin account yet.*set-up link.*npx lonewatch users add <username> --admin/);

  // A made-up token is refused, and nothing is created.
  await page.goto(`${t.httpUrl}/#/setup/not-the-token`);
  await page.reload();
  await page.fill('#setup-form input[name=username]', 'mallory');
  await page.fill('#setup-form input[name=password]', PASSWORD);
  await page.click('#setup-form button[type=submit]');
  await expect.poll(() => page.textContent('#setup-result')).toMatch(/not valid/);
  expect(await t.hub.store.read((tx) => tx.listUsers())).toEqual([]);

  // The logged link: the first admin is created, and signs in.
  await page.goto(`${t.httpUrl}/#/setup/${token}`);
  await page.reload();
  await page.fill('#setup-form input[name=username]', 'ada');
  await page.fill('#setup-form input[name=name]', 'Ada Admin');
  await page.fill('#setup-form input[name=password]', PASSWORD);
  await page.click('#setup-form button[type=submit]');
  await page.waitForSelector('#signin:not([hidden])');
  expect(await page.inputValue('#signin-form input[name=username]')).toBe('ada');
  await page.fill('#signin-form input[name=password]', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#top:not([hidden])');
  expect(await page.textContent('#me')).toContain('Ada Admin · admin');
  expect((await t.hub.store.read((tx) => tx.listUsers())).map((u) => [u.username, u.role])).toEqual([['ada', 'admin']]);
  expect((await t.hub.store.listAudit(10)).find((e) => e.action === 'user.add')).toMatchObject({ subject: 'user:ada', actor: expect.stringMatching(/^setup:/) });

  // The same link a second time: refused, nothing created.
  const again = await new ApiClient(t.httpUrl).post('/api/auth/setup', { token, username: 'eve', password: PASSWORD });
  expect(again.status).toBe(409);
  expect(again.text).toMatch(/already exists/);
  expect(await t.hub.store.read((tx) => tx.listUsers())).toHaveLength(1);
  const status = await new ApiClient(t.httpUrl).get<{ setupNeeded: boolean }>('/api/auth/setup');
  expect(status.body.setupNeeded).toBe(false);
  await context.close();
});
