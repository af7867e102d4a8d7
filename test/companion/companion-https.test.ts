/**
 * HTTPS and wss from the hub itself (issue 17) in Debian's Chromium: the dashboard and the companion
 * over https://, the companion's MQTT link over wss://. Chromium is told to trust the hub's test
 * certificate by its public key (--ignore-certificate-errors-spki-list, the pin of that one key: any
 * other certificate is still verified and refused), as a real deployment's CA would be trusted.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type vm from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { addWorkerAccount, PageFob, PASSWORD, puckScript, startCompanionHub } from './companion-harness.js';
import { CHROMIUM_DESKTOP, signInPage } from '../dashboard/browser.js';
import { createUser } from '../../hub/http/users.js';
import { TEST_PASSWORD_COST } from '../dashboard/api-client.js';
import { makeTestPki, type TestPki } from '../helpers/test-certs.js';
import type { TestHub } from '../helpers/hub-harness.js';

let pki: TestPki;
let browser: Browser;
let script: vm.Script;
const cleanup: (() => Promise<unknown> | void)[] = [];

/** base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what Chromium's SPKI pin list takes. */
function spkiPin(certPem: string): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

beforeAll(async () => {
  pki = makeTestPki();
  // Debian's desktop Chromium, not the headless build the page tests use (test/helpers/chromium.ts):
  // trusting a pinned certificate is the browser's own check.
  browser = await chromium.launch({ executablePath: CHROMIUM_DESKTOP, headless: true, args: ['--no-sandbox', `--ignore-certificate-errors-spki-list=${spkiPin(pki.read(pki.server.cert))}`] });
  script = await puckScript();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  pki?.cleanup();
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

async function httpsHub(pair = pki.server): Promise<TestHub> {
  const t = await startCompanionHub({ config: { hub: { public_url: 'https://127.0.0.1:8443' }, tls: { cert_file: pair.cert, key_file: pair.key, mqtts_port: 0 } } });
  cleanup.push(() => t.stop());
  return t;
}

describe('the hub over HTTPS in Chromium', () => {
  it('the companion signs in over https and relays the fob over wss: a covert gesture is an alarm at the hub and on the dashboard', async () => {
    const t = await httpsHub();
    expect(t.httpUrl).toMatch(/^https:/);
    await addWorkerAccount(t, 'sam', 'w-sam', 'Sam Carter');
    await t.addDevice('puck-sam', { workerId: 'w-sam' });
    const context = await browser.newContext();
    cleanup.push(() => context.close());
    const page = await context.newPage();
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const fob = new PageFob(script, 'puck-sam');
    cleanup.push(() => fob.stop());
    await fob.attach(page);

    await page.goto(`${t.httpUrl}/companion/`);
    await page.fill('#username', 'sam');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('#day:not([hidden])');
    await expect.poll(() => page.textContent('#hub-state'), { timeout: 10_000 }).toBe('Hub: connected');
    expect(sockets).toEqual([`wss://127.0.0.1:${t.hub.httpPort}/mqtt`]);
    await page.click('#pair');
    await expect.poll(() => page.textContent('#fob-state'), { timeout: 10_000 }).toBe('Fob: Puck.js a1b2');
    await expect.poll(() => fob.outboxLength(), { timeout: 10_000 }).toBe(0);

    // The duty officer's dashboard, over https too.
    await createUser(t.hub.store, { username: 'dana', role: 'duty_officer', password: PASSWORD, name: 'Dana', workerId: null }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
    const dashboard = await signInPage(browser, t.httpUrl, 'dana');
    cleanup.push(() => dashboard.context().close());

    fob.gesture('covert_sos');
    await expect.poll(async () => (await t.alarms()).map((a) => [a.kind, a.deviceId]), { timeout: 10_000 }).toEqual([['covert_sos', 'puck-sam']]);
    const card = await dashboard.waitForSelector('#open-alarms [data-kind="covert_sos"]', { timeout: 10_000 });
    expect(await card.textContent()).toContain('Sam Carter');
    await expect.poll(() => fob.outboxLength(), { timeout: 10_000 }).toBe(0);
  }, 120_000);

  it('a certificate Chromium has no reason to trust is refused by the browser', async () => {
    const t = await httpsHub(pki.serverRenewed);
    const context = await browser.newContext();
    cleanup.push(() => context.close());
    const page = await context.newPage();
    const err = await page.goto(`${t.httpUrl}/`).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/net::ERR_CERT_AUTHORITY_INVALID/);
  });
});
