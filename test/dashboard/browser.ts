/**
 * Drives the real dashboard in Debian's Chromium (playwright-core; its headless build, test/helpers/chromium.ts) against a real hub.
 */
import type { Browser, Page } from 'playwright-core';
import { PASSWORD } from './api-client.js';

// The run's one shared Chromium where the global set-up started it (issue 18), else the file's own.
export { CHROMIUM, CHROMIUM_DESKTOP, launchChromium } from '../helpers/chromium.js';

/** A signed-in page: opens the dashboard and signs in through the form, as a person would. */
export async function signInPage(browser: Browser, baseUrl: string, username: string, opts: { width?: number; height?: number; initScript?: string } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 } });
  // Runs in every page of the context before the dashboard's own scripts (a test's observer).
  if (opts.initScript) await context.addInitScript(opts.initScript);
  const page = await context.newPage();
  // One context per page: closing the page closes the context and its pooled connections to the hub.
  page.on('close', () => void context.close().catch(() => undefined));
  page.on('pageerror', (err) => {
    throw err;
  });
  await page.goto(baseUrl + '/');
  await page.fill('#signin-form input[name=username]', username);
  await page.fill('#signin-form input[name=password]', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#top:not([hidden])');
  return page;
}
