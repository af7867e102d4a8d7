// The companion across a cluster's edges (issue 19), in Debian's Chromium against a real cluster
// (`lonewatch cluster up`'s: three nats-server nodes, the store, two edges, a worker and the HTTP
// node, each its own process). The page is served by the HTTP node, which issues the relay token
// (signed with the cluster's shared key) and the edges' WebSocket URLs; the phone relays through
// edge-1; edge-1 is killed -9; the page says the connection was lost and it is trying the next
// address, reconnects to edge-2 (which checks the token against the store), and an SOS raised on the
// phone reaches the store and is acknowledged on the phone's screen. Nothing is replaced: no fob is
// paired (the phone's own SOS button, relayed as the worker's fob).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { LocalCluster } from '../../hub/cluster/cluster-up.js';
import { loadConfig } from '../../hub/config/load-config.js';
import { openConfiguredStore } from '../../hub/store/open-store.js';
import type { Store } from '../../hub/store/store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { createUser } from '../../hub/http/users.js';

const PASSWORD = 'correct horse battery';

let cluster: LocalCluster;
let store: Store;
let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'lw-companion-failover-'));
const pageErrors: string[] = [];

beforeAll(async () => {
  // The SQLite file every node opens: the store is not what this test is about, and the machine is shared.
  cluster = await LocalCluster.start({ cli: inject('cliBundle') || undefined, dir, edges: 2, workers: 1, httpNode: true, store: 'sqlite', cluster: { ack_wait_ms: 3000, publish_timeout_ms: 2000 }, logLevel: 'warn' });
  store = await openConfiguredStore(loadConfig(cluster.configFile));
  const now = Date.now();
  await store.transaction(async (tx) => {
    await tx.upsertWorker({
      id: 'w-sam',
      name: 'Sam Carter',
      phone: '07700 900123',
      homeAddress: '1 Private Road',
      medicalNotes: null,
      car: null,
      emergencyContacts: null,
      buddyId: null,
      lineManagerId: null,
      trainingDate: '2026-01-15',
      newStarter: false,
      description: null,
    });
  });
  await addDevice(store, 'puck-sam', { workerId: 'w-sam', now });
  await createUser(store, { username: 'sam', role: 'worker', workerId: 'w-sam', password: PASSWORD, name: 'Sam Carter' }, 'test', now);
  // The run's shared Chromium (issue 18): this file needs no flags of its own.
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await store?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const pill = (page: Page) => page.textContent('#hub-state');

describe('the companion fails over between edges', () => {
  it('loses edge-1 (kill -9), says so, reconnects to edge-2, and an SOS raised there is stored and acknowledged', async () => {
    const http = cluster.node('http-1');
    const web = cluster.webUrl(http);
    const page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // The CSP must let the page reach the edges (another origin than the page's) without violations.
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
    });
    await page.goto(`${web}/companion/`);
    await page.fill('#username', 'sam');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('#day:not([hidden])');
    await expect.poll(() => pill(page), { timeout: 20_000 }).toBe('Hub: connected (hub address 1 of 2)');
    // The relay is on edge-1 (its /healthz counts it), not on the HTTP node, which has no /mqtt.
    const connected = async (id: string): Promise<number> => ((await (await fetch(`${cluster.webUrl(cluster.node(id))}/healthz`)).json()) as { connectedFobs: number }).connectedFobs;
    expect(await connected('edge-1')).toBe(1);
    expect(await connected('edge-2')).toBe(0);

    // What the pill says on the way: never "connected" before edge-2's CONNACK and SUBACK.
    const seen: string[] = [];
    const watch = setInterval(() => {
      void pill(page).then((t) => {
        if (t && seen[seen.length - 1] !== t) seen.push(t);
      }, () => undefined);
    }, 50);
    await expect.poll(() => seen.length, { timeout: 5000 }).toBeGreaterThan(0);
    await cluster.kill('edge-1');
    await expect.poll(() => pill(page), { timeout: 30_000 }).toBe('Hub: connected (hub address 2 of 2)');
    clearInterval(watch);
    const now = await pill(page);
    if (now && seen[seen.length - 1] !== now) seen.push(now);
    // Polled every 50 ms; the link waits 1 s before the next address, so the "lost" line is seen.
    const lost = seen.indexOf('Hub: connection lost, trying the next hub address (2 of 2)');
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(seen.slice(0, lost)).toEqual(['Hub: connected (hub address 1 of 2)']);
    expect(seen.slice(lost + 1)).not.toContain('Hub: connected (hub address 1 of 2)');
    expect(seen[seen.length - 1]).toBe('Hub: connected (hub address 2 of 2)');
    expect(await connected('edge-2')).toBe(1);

    await page.click('#sos');
    await page.click('#sos-yes');
    await page.waitForSelector('#alarm-screen:not([hidden])');
    // Through edge-2, JetStream and the worker: the alarm is in the store, and the worker's ack came back.
    await expect
      .poll(async () => (await store.read((tx) => tx.listAlarms({}))).filter((a) => a.deviceId === 'puck-sam').map((a) => a.kind), { timeout: 30_000 })
      .toEqual(['sos']);
    await expect.poll(() => page.textContent('#alarm-title'), { timeout: 30_000 }).toBe('Alarm sent');
    expect(await page.textContent('#alarm-status')).toMatch(/^The office system has your alarm/);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 240_000);
});
