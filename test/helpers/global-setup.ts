/**
 * Vitest's global set-up (vitest.config.ts `globalSetup`): what every test file would otherwise make
 * for itself, made once per run before the first file starts (issue 18: the suite on 2 cores).
 *
 *   - One Chromium (Debian's, through playwright-core's `launchServer`): its WebSocket endpoint is
 *     provided to the files as `chromiumWsEndpoint`, and `launchChromium()` (test/dashboard/browser.ts)
 *     connects to it instead of starting a browser of its own, about a second and a half a file. Each
 *     page still gets a browser context of its own (cookies, storage and connections apart), and
 *     closing a connected browser closes only the contexts it made.
 *   - The firmware builds of both boards, into the content-hashed cache of firmware/build/build-cache.ts.
 *   - One PostgreSQL server (test/helpers/postgres-server.ts `startOwnPostgres`) where it is
 *     installed: its admin URL is provided as `postgresUrl`, and `startPostgres()` in a file makes
 *     its databases there instead of running initdb and a server of its own (a few CPU-seconds a file).
 *
 *   - The `lonewatch` command as one esbuild bundle for the cluster files' node processes
 *     (test/helpers/cli-bundle.ts), provided as `cliBundle`.
 *
 *   - A scratch folder on tmpfs (/dev/shm) as the run's TMPDIR, where the machine has one: see
 *     `scratchOnTmpfs` below.
 *
 * Either one failing here fails nothing by itself: a file then starts its own browser, or builds the
 * firmware itself, exactly as without this set-up, so a missing tool is still reported by the file
 * that needs it, in its own words.
 */
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserServer } from 'playwright-core';
import type { TestProject } from 'vitest/node';
import { BOARDS } from '../../shared/protocol-core.js';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.js';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { postgresMissing, startOwnPostgres, type PostgresServer } from './postgres-server.js';
import { buildCliBundle } from './cli-bundle.js';

/** Made afresh each run (the sources may have changed since the last). */
const CLI_BUNDLE_DIR = fileURLToPath(new URL('../../node_modules/.cache/lonewatch-cli/', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared Chromium's endpoint for `chromium.connect`, or '' when each file starts its own. */
    chromiumWsEndpoint: string;
    /** The shared PostgreSQL server's admin URL, or '' when each file starts its own. */
    postgresUrl: string;
    /** The `lonewatch` command bundled for the cluster's nodes (test/helpers/cli-bundle.ts), or '' for bin/lonewatch.js. */
    cliBundle: string;
  }
}

/**
 * The shared Chromium is opt-in (LONEWATCH_SHARED_CHROMIUM=1); by default each browser file starts
 * its own. It was the default for one clean-clone CI run (2026-12-02), and that run failed in the
 * sound test of console2-browser ("item 2": no sound banner after a reload, in the strict-autoplay
 * browser that test launches for itself). The same test failed in the 2026-12-01 CI run on the shared
 * browser, and in no run with a browser per file. Why is not known: the strict browser is not the
 * shared one. The other two 2026-12-01 failures were races in the tests and are fixed (the
 * companion's lost-fob test raced the phone's own 5-second reconnect timer; the workers-board test
 * ran out of a 30-second limit). What sharing saves was measured as about nothing: 63 CPU-s shared
 * against 63-66 with a browser each, on three browser files at load 11-13 (2026-12-02). Each test
 * makes its own browser context either way (cookies, storage, permissions and the page clock are
 * per context or page), and a connected file's `browser.close()` closes every context it made.
 */
const SHARE_CHROMIUM = process.env.LONEWATCH_SHARED_CHROMIUM === '1';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The run's temporary files on tmpfs (issue 18). Every hub a test starts keeps its SQLite file with
 * synchronous=FULL, so each commit is an fsync; with four files at a time on one shared disk, the
 * fsyncs of one file's hub waited on the others' writes (a profile of the suite, 2026-12-02: about
 * 35 s of the test processes' main threads blocked in COMMIT), besides Chromium's profiles, the
 * interpreters' flash files and the certificates. On tmpfs an fsync returns at once. What the tests
 * prove about durability is unchanged: a kill -9 of a hub loses nothing that tmpfs would keep and a
 * disk would not (the page cache survives a killed process either way); a power cut is not something
 * a test here can make. Set before the workers start, so they and every process they spawn inherit
 * it (`os.tmpdir()` reads TMPDIR). A TMPDIR given by the caller is kept; LONEWATCH_TEST_TMPFS=0 turns
 * this off. Returns the folder made, to remove at the end, or null.
 */
function scratchOnTmpfs(): string | null {
  if (process.env.TMPDIR || process.env.LONEWATCH_TEST_TMPFS === '0') return null;
  try {
    if (!statSync('/dev/shm').isDirectory()) return null;
    accessSync('/dev/shm', constants.W_OK);
    const dir = mkdtempSync('/dev/shm/lonewatch-test-');
    process.env.TMPDIR = dir;
    return dir;
  } catch {
    return null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const scratch = scratchOnTmpfs();
  let server: BrowserServer | null = null;
  let postgres: PostgresServer | null = null;
  const [browser, , pgServer, bundle] = await Promise.allSettled([
    SHARE_CHROMIUM && executable(CHROMIUM) ? chromium.launchServer({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }) : Promise.resolve(null),
    // Sequential: two builds at once on two cores are no faster than one after the other.
    (async () => {
      for (const board of BOARDS) await cachedFirmwareBuild(board);
    })(),
    // Missing PostgreSQL is not an error here: the files that need it skip or fail in their own words.
    postgresMissing() ? Promise.resolve(null) : startOwnPostgres(),
    buildCliBundle(CLI_BUNDLE_DIR),
  ]).then((results) => {
    for (const r of results) if (r.status === 'rejected') process.stderr.write(`test set-up: ${String(r.reason)} (the files that need it will try again themselves)\n`);
    return results;
  });
  if (browser.status === 'fulfilled' && browser.value) server = browser.value;
  if (pgServer.status === 'fulfilled' && pgServer.value) postgres = pgServer.value;
  project.provide('chromiumWsEndpoint', server?.wsEndpoint() ?? '');
  project.provide('postgresUrl', postgres?.url ?? '');
  project.provide('cliBundle', bundle.status === 'fulfilled' ? bundle.value : '');
  return async () => {
    await server?.close();
    await postgres?.stop();
    if (scratch) {
      delete process.env.TMPDIR;
      rmSync(scratch, { recursive: true, force: true });
    }
  };
}
