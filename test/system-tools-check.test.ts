// `npm test` without Debian's chromium, its headless build or socat stops at once with the one apt-get line to run
// (issue 15 item 9), instead of failing browser and pseudo-terminal tests one by one.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const script = new URL('./helpers/check-system-tools.mjs', import.meta.url).pathname;

it('names the missing packages and the one apt-get line, and exits 1', async () => {
  const err = await run(process.execPath, [script], { env: { PATH: '/nonexistent', CHROMIUM_PATH: '/nonexistent/chromium-headless-shell', CHROMIUM_DESKTOP_PATH: '/nonexistent/chromium' } }).then(
    () => null,
    (e: { code: number; stderr: string }) => e,
  );
  expect(err?.code).toBe(1);
  expect(err?.stderr).toContain('no chromium at /nonexistent/chromium (set CHROMIUM_DESKTOP_PATH');
  expect(err?.stderr).toContain('no chromium-headless-shell at /nonexistent/chromium-headless-shell');
  expect(err?.stderr).toContain('no socat on PATH');
  expect(err?.stderr).toContain('no nats-server on PATH');
  expect(err?.stderr).toContain('sudo apt-get install -y --no-install-recommends chromium chromium-headless-shell socat nats-server');
});

it('passes quietly on a machine that has both', async () => {
  const ok = await run(process.execPath, [script], { env: process.env });
  expect(ok.stderr).toBe('');
});
