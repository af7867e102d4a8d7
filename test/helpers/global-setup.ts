/**
 * Vitest's global set-up (vitest.config.ts `globalSetup`): what every test file would otherwise make
 * for itself, made once per run before the first file starts (issue 18: the suite on 2 cores).
 *
 *   - One Chromium (Debian's, through playwright-core's `launchServer`): its WebSocket endpoint is
 *     provided to the files as `chromiumWsEndpoint`, and `launchChromium()` (test/dashboard/browser.ts)
 *     connects to it instead of starting a browser of its own, about a second and a half a file. Each
 *     page still gets a browser context of its own (cookies, storage and connections apart), and
 *     closing a connected browser closes only the contexts it made.
 *   - The firmware builds of both boards, into the content-hashed cache of test/helpers/firmware-bundle.ts.
 *   - One PostgreSQL server (test/helpers/postgres-server.ts `startOwnPostgres`) where it is
 *     installed: its admin URL is provided as `postgresUrl`, and `startPostgres()` in a file makes
 *     its databases there instead of running initdb and a server of its own (a few CPU-seconds a file).
 *
 * Either one failing here fails nothing by itself: a file then starts its own browser, or builds the
 * firmware itself, exactly as without this set-up, so a missing tool is still reported by the file
 * that needs it, in its own words.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type BrowserServer } from 'playwright-core';
import type { TestProject } from 'vitest/node';
import { BOARDS } from '../../shared/protocol-core.js';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.js';
import { firmwareBundle } from './firmware-bundle.js';
import { postgresMissing, startOwnPostgres, type PostgresServer } from './postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared Chromium's endpoint for `chromium.connect`, or '' when each file starts its own. */
    chromiumWsEndpoint: string;
    /** The shared PostgreSQL server's admin URL, or '' when each file starts its own. */
    postgresUrl: string;
  }
}

/**
 * The shared Chromium is the default; LONEWATCH_SHARED_CHROMIUM=0 gives each browser file a browser
 * of its own. It was opt-in after three browser tests that passed with their own browser failed in a
 * clean-clone CI run on it (2026-12-01). None of the three was the sharing: the companion's lost-fob
 * test raced the phone's own 5-second reconnect timer (its fake fob came back in range at once, so
 * the phone could reconnect before the test looked at the "lost" state; reproduced on the shared
 * browser under load on 2026-12-02, and possible with any browser) and met a heartbeat flush held on
 * the ManualClock (fixed the same day); the workers-board test ran out of the 30-second test limit
 * of the time, alone too (now 120 s). The page-clock sound test's output of that run is not on
 * record; it passed in every shared run since (six browser files three at a time on one browser, at
 * load averages of 12 to 19). Each test makes its own browser context (cookies, storage, permissions
 * and the page clock are per context or page), and a connected file's `browser.close()` closes every
 * context it made.
 */
const SHARE_CHROMIUM = process.env.LONEWATCH_SHARED_CHROMIUM !== '0';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: BrowserServer | null = null;
  let postgres: PostgresServer | null = null;
  const [browser, , pgServer] = await Promise.allSettled([
    SHARE_CHROMIUM && executable(CHROMIUM) ? chromium.launchServer({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }) : Promise.resolve(null),
    // Sequential: two builds at once on two cores are no faster than one after the other.
    (async () => {
      for (const board of BOARDS) await firmwareBundle(board);
    })(),
    // Missing PostgreSQL is not an error here: the files that need it skip or fail in their own words.
    postgresMissing() ? Promise.resolve(null) : startOwnPostgres(),
  ]).then((results) => {
    for (const r of results) if (r.status === 'rejected') process.stderr.write(`test set-up: ${String(r.reason)} (the files that need it will try again themselves)\n`);
    return results;
  });
  if (browser.status === 'fulfilled' && browser.value) server = browser.value;
  if (pgServer.status === 'fulfilled' && pgServer.value) postgres = pgServer.value;
  project.provide('chromiumWsEndpoint', server?.wsEndpoint() ?? '');
  project.provide('postgresUrl', postgres?.url ?? '');
  return async () => {
    await server?.close();
    await postgres?.stop();
  };
}
