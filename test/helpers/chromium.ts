/**
 * Debian's Chromium for the browser tests (playwright-core, headless): the run's one shared browser
 * when the global set-up started it (test/helpers/global-setup.ts), else one of the caller's own.
 */
import { chromium, type Browser } from 'playwright-core';
import { inject } from 'vitest';

/**
 * The page tests' browser: Debian's `chromium-headless-shell`, the headless build of the same
 * Chromium source and version as Debian's `chromium` (both depend on the same version of
 * `chromium-common`, so apt installs and upgrades them together; 156.0.8078.114 on 2026-12-03): the
 * same Blink, V8, network stack, storage and Web Audio, without the desktop browser around them. It is
 * what Playwright itself runs for headless tests. It costs half as much CPU (issue 18, `npm test`
 * under 4 minutes on 2 cores), measured on this machine 2026-12-03: ten dashboard sign-ins, each in a
 * fresh context, 3.8 CPU-s of the browser's processes in the shell against 7.5 in `chromium`; the
 * dashboard's browser files 112 against 138 machine CPU-s, all passing on both. `CHROMIUM_PATH` runs
 * them on another build (`CHROMIUM_PATH=/usr/bin/chromium npm test` on the desktop browser).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium-headless-shell';
/**
 * Debian's desktop `chromium`, what a duty officer runs: for the tests of the browser's own policies,
 * where a headless build could answer differently: the autoplay policy that blocks sound until a
 * click (console2-browser) and a pinned certificate (companion-https).
 */
export const CHROMIUM_DESKTOP = process.env.CHROMIUM_DESKTOP_PATH ?? '/usr/bin/chromium';
/**
 * The flags of the dashboard tests' browser: no sandbox (the tests run as root in CI), and the alarm
 * sound may start without a click; the tests that check the blocked-sound path, or need other flags,
 * start a browser of their own.
 */
export const CHROMIUM_ARGS = ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'];

/** The shared browser's endpoint, or '' outside a vitest run with the global set-up (a script). */
function sharedEndpoint(): string {
  try {
    return inject('chromiumWsEndpoint') ?? '';
  } catch {
    return '';
  }
}

/**
 * A browser with CHROMIUM_ARGS. In a test run, a connection to the shared Chromium: its contexts and
 * pages are this caller's alone, and `close()` closes those and disconnects, leaving the browser to
 * the other files. Elsewhere (the screenshot scripts), a browser of its own.
 */
export async function launchChromium(): Promise<Browser> {
  const ws = sharedEndpoint();
  if (ws) {
    try {
      return await chromium.connect(ws);
    } catch (err) {
      // The shared browser is gone (it crashed): this file goes on with one of its own.
      process.stderr.write(`the shared Chromium at ${ws} did not answer (${(err as Error).message}); starting one for this file\n`);
    }
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
