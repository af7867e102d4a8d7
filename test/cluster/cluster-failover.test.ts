// Issue 19's failure test: a real cluster (`lonewatch cluster up`'s: three nats-server nodes with
// JetStream, a PostgreSQL instance, two edges and two workers, each its own process), a fleet of wire
// fobs given both edges, pressing SOS under load; kill -9 one edge, one NATS node and one worker in
// turn. After each: every SOS a fob got a PUBACK for is in the store exactly once (one stored event,
// one alarm), every SOS pressed was in the end acknowledged to its fob, fobs whose edge died are
// connected to the other one, and the dashboard (Debian's Chromium, signed in as a duty officer on
// the HTTP node) kept showing live events: its own live stream carried every alarm raised, was never
// dropped, and its open-alarm count matches the store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalCluster } from '../../hub/cluster/cluster-up.js';
import { loadConfig } from '../../hub/config/load-config.js';
import { openConfiguredStore } from '../../hub/store/open-store.js';
import type { Store } from '../../hub/store/store.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { WireFob } from '../../simulator/wire-fob.js';
import mqtt from 'mqtt';
import { connect as natsConnect } from '@nats-io/transport-node';
import { LoadFob } from '../../bench/load/load-fob.js';
import type { Browser, Page } from 'playwright-core';
import { createUser } from '../../hub/http/users.js';
import { PASSWORD, TEST_PASSWORD_COST } from '../dashboard/api-client.js';
import { launchChromium, signInPage } from '../dashboard/browser.js';

const FOBS = 16;
/** Real milliseconds between ticks of the load; each tick moves every fob's own clock as far. */
const TICK_MS = 100;

let cluster: LocalCluster;
let fobs: WireFob[] = [];
let store: Store;
let browser: Browser;
/** The duty officer's dashboard on the HTTP node, open for the whole file. */
let dashboard: Page;
/** The run's shared PostgreSQL server (or this file's own without it); null on the SQLite store. */
let pgServer: PostgresServer | null = null;
// PostgreSQL where it is installed (CI: always, .ci/run installs it); else the SQLite file, saying so.
const storeKind = requirePostgresOrSkip() ? 'postgres' : 'sqlite';
const dir = mkdtempSync(join(tmpdir(), 'lw-cluster-failover-'));

beforeAll(async () => {
  // A database of this file's on the run's one server, instead of initdb and a server per cluster.
  pgServer = storeKind === 'postgres' ? await startPostgres() : null;
  const postgresUrl = pgServer ? await pgServer.createDatabase('cluster') : undefined;
  cluster = await LocalCluster.start({ cli: inject('cliBundle') || undefined, dir, edges: 2, workers: 2, httpNode: true, store: storeKind, postgresUrl, cluster: { ack_wait_ms: 3000, publish_timeout_ms: 2000 }, logLevel: 'warn' });
  store = await openConfiguredStore(loadConfig(cluster.configFile));
  await createUser(store, { username: 'dana', role: 'duty_officer', password: PASSWORD, name: 'Dana' }, 'test', Date.now(), { passwordCost: TEST_PASSWORD_COST });
  browser = await launchChromium();
  dashboard = await signInPage(browser, cluster.webUrl(cluster.node('http-1')), 'dana', { initScript: WATCH_LIVE_STREAM });
  await dashboard.waitForSelector('#live.live:not(.off)');
  const secrets: string[] = [];
  for (let i = 0; i < FOBS; i++) secrets.push((await addDevice(store, `fob-${i}`, { now: Date.now() })).secret);
  const edges = cluster.edges;
  fobs = secrets.map(
    (secret, i) =>
      new WireFob({
        deviceId: `fob-${i}`,
        secret,
        board: 'rak5010',
        hubHost: edges[0]!.host,
        hubPort: edges[0]!.port,
        // Half the fleet starts on each edge (the list rotated), and fails over to the other.
        hubs: i % 2 === 0 ? edges : [...edges].reverse(),
        battery: 90,
        clockStart: Date.now(),
      }),
  );
  await Promise.all(fobs.map((f) => f.start()));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(fobs.map((f) => f.stop().catch(() => undefined)));
  await store?.close();
  await cluster?.stop();
  await pgServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Put in the dashboard's page before its scripts: the page's own EventSource (hub/dashboard/public/
 * live-feed.js) is wrapped, so what the test reads is what the dashboard itself was sent: the alarm
 * ids on its `alarm` events, and how often its stream opened and failed.
 */
const WATCH_LIVE_STREAM = `(() => {
  const Native = window.EventSource;
  const watch = { alarmIds: [], opens: 0, errors: 0 };
  window.__liveStream = watch;
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      this.addEventListener('open', () => { watch.opens++; });
      this.addEventListener('error', () => { watch.errors++; });
      this.addEventListener('alarm', (ev) => {
        try { const d = JSON.parse(ev.data); if (d.alarmId) watch.alarmIds.push(d.alarmId); } catch (e) {}
      });
    }
  };
})();`;

interface LiveStreamWatch {
  alarmIds: string[];
  opens: number;
  errors: number;
}
const watched = (): Promise<LiveStreamWatch> => dashboard.evaluate(() => (window as unknown as { __liveStream: LiveStreamWatch }).__liveStream);

/**
 * The dashboard kept showing live events through the failure: every SOS alarm in the store came to
 * it on its live stream (the HTTP node hears other nodes' commits by LISTEN, hub/store/
 * change-feed-reader.ts; the 30 s poll of the board is not what is checked), the stream never
 * dropped (it opened once and failed never: the HTTP node, PostgreSQL and the browser were not
 * killed), it says "live", and the open-alarm badge shows the store's count.
 */
async function expectDashboardLive(): Promise<void> {
  const alarms = await store.read((tx) => tx.listAlarms({ kind: 'sos', limit: 100_000 }));
  expect(alarms.length).toBeGreaterThan(0);
  await expect
    .poll(async () => {
      const seen = new Set((await watched()).alarmIds);
      return alarms.filter((a) => !seen.has(a.id)).map((a) => a.id);
    }, { timeout: 20_000, message: 'SOS alarms in the store the dashboard was never sent live' })
    .toEqual([]);
  const w = await watched();
  expect({ opens: w.opens, errors: w.errors }).toEqual({ opens: 1, errors: 0 });
  expect(await dashboard.getAttribute('#live', 'class')).toBe('live');
  const open = await store.read((tx) => tx.listAlarms({ open: true, limit: 100_000 }));
  await expect.poll(() => dashboard.textContent('#alarm-count'), { timeout: 10_000 }).toBe(String(open.length));
}

/** Runs the fleet for ms of real time, SOS presses spread over it (about `perSecond` a second). */
async function load(ms: number, perSecond: number, during?: () => Promise<void>): Promise<void> {
  let pressed = 0;
  const started = Date.now();
  // The failure runs beside the load, as it would in service.
  const action = during?.();
  while (Date.now() - started < ms) {
    const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
    for (; pressed < due; pressed++) fobs[pressed % FOBS]!.press('loud_sos');
    await Promise.all(fobs.map((f) => f.advance(TICK_MS)));
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  await action;
}

/**
 * Keeps the fleet running (resending what is not acked) until every outbox is empty, or timeoutMs:
 * it ends when the outboxes are empty; the limit is generous for a 2-core machine running other
 * test files beside this one (issue 18), where the cluster's seven processes are slow to catch up.
 */
async function drain(timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (fobs.some((f) => f.outboxSize() > 0) && Date.now() < until) {
    await Promise.all(fobs.map((f) => f.advance(TICK_MS * 10)));
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
}

/** The checks after each failure. */
async function expectEveryPubackedSosOnce(): Promise<void> {
  // An SOS is stored and raises its alarm in one transaction (hub/ingest/fob-ingest.ts): one alarm
  // per (device, event id) is the event stored once and acted on once.
  const alarms = await store.read((tx) => tx.listAlarms({ kind: 'sos', limit: 100_000 }));
  const alarmCount = new Map<string, number>();
  for (const a of alarms) alarmCount.set(`${a.deviceId}/${a.sourceEventId}`, (alarmCount.get(`${a.deviceId}/${a.sourceEventId}`) ?? 0) + 1);
  let pubacked = 0;
  for (const f of fobs) {
    for (const id of f.pubackedEvents()) {
      if (!id.includes('-') || id.endsWith('-0')) continue; // the hello (each boot's first event)
      pubacked++;
      const key = `${f.deviceId}/${id}`;
      expect(alarmCount.get(key), `${key} was PUBACKed: alarms raised for it`).toBe(1);
    }
  }
  expect(pubacked).toBeGreaterThan(0);
  // No alarm twice for one event, PUBACKed or not.
  for (const [key, n] of alarmCount) expect(n, key).toBe(1);
  // Every SOS pressed was in the end acknowledged to its fob (nothing left in an outbox).
  for (const f of fobs) expect(f.outboxSize(), `${f.deviceId} outbox`).toBe(0);
}

async function connectedAt(id: string): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${cluster.node(id).httpPort}/healthz`);
  return ((await r.json()) as { connectedFobs: number }).connectedFobs;
}

describe('cluster under SOS load, one part killed at a time', () => {
  it('kill -9 of an edge: its fobs move to the other edge; no PUBACKed SOS lost or doubled', async () => {
    await load(1500, 10);
    expect(await connectedAt('edge-1')).toBeGreaterThan(0);
    await load(4000, 10, async () => {
      await cluster.kill('edge-1');
    });
    await drain(90_000);
    expect(await connectedAt('edge-2')).toBe(FOBS);
    await expectEveryPubackedSosOnce();
    await expectDashboardLive();
    await cluster.restart('edge-1');
  }, 180_000);

  it('kill -9 of a NATS node: edges and workers carry on through the other two', async () => {
    await load(4000, 10, async () => {
      await new Promise((r) => setTimeout(r, 1000));
      await cluster.nats.kill(0);
    });
    await drain(90_000);
    await expectEveryPubackedSosOnce();
    await expectDashboardLive();
    await cluster.nats.restart(0);
  }, 180_000);

  it('kill -9 of a worker: what it held is redelivered to the other after ack_wait, stored once', async () => {
    await load(4000, 10, async () => {
      await new Promise((r) => setTimeout(r, 1000));
      await cluster.kill('worker-1');
    });
    await drain(90_000);
    await expectEveryPubackedSosOnce();
    await expectDashboardLive();
    const handled = (await (await fetch(`http://127.0.0.1:${cluster.node('worker-2').httpPort}/healthz`)).json()) as { ok: boolean };
    expect(handled.ok).toBe(true);
  }, 180_000);
});

// Issue 19, the edge-kill window of the cluster bench (bench/results/cluster-2026-12-01T23-17-39.json:
// 53 SOS PUBACKed, 52 acknowledged): the bench's fob (bench/load/load-fob.ts) against the same
// cluster. The loss is made to happen every time rather than once in 53: the workers are stopped
// (SIGSTOP) while the SOS is PUBACKed by its edge, that edge is stopped while a worker commits and
// sends the application ack on core NATS (at most once: it reaches the stopped edge's socket and is
// lost with it at the kill -9). The fob must send the SOS again on the other edge, as the firmware
// does, and the worker must acknowledge the copy without a second alarm.
describe('an SOS PUBACKed by an edge that dies before the application ack reaches the fob', () => {
  it('is sent again by the fob on the other edge and acknowledged within 5 s of the kill, stored once', async () => {
    const deviceId = 'load-fob-0';
    const { secret } = await addDevice(store, deviceId, { now: Date.now() });
    // Both edges up (an earlier case may have killed one and left it restarted).
    await cluster.restart('edge-1');
    await cluster.restart('edge-2');
    const [first, second] = cluster.edges;
    const client = await mqtt.connectAsync({
      host: first!.host,
      port: first!.port,
      servers: cluster.edges.map((e) => ({ host: e.host, port: e.port })),
      clientId: deviceId,
      username: deviceId,
      password: secret,
      protocolVersion: 4,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
    });
    client.on('error', () => undefined);
    await client.subscribeAsync(`lw/${deviceId}/cmd`, { qos: 1 });
    let pubacked = false;
    const acked: string[] = [];
    const fob = new LoadFob(deviceId, client, () => (pubacked = true), (id) => acked.push(id));
    const edgeId = cluster.nodes.find((n) => n.role === 'edge' && n.mqttPort === first!.port)!.id;
    const workers = cluster.nodes.filter((n) => n.role === 'worker' && n.proc);
    // Sees the worker's application ack go out on core NATS, as every edge does.
    const nc = await natsConnect({ servers: cluster.nats.urls, user: cluster.nats.user, pass: cluster.nats.password });
    const ackSeen = new Promise<void>((resolve) => {
      const sub = nc.subscribe(`lw.cmd.${deviceId}`, { max: 1, callback: () => resolve() });
      void sub;
    });
    await nc.flush();
    try {
      for (const w of workers) w.proc!.kill('SIGSTOP');
      fob.raise('load-1');
      await until(() => pubacked, 10_000, 'the SOS PUBACKed by the first edge');
      cluster.node(edgeId).proc!.kill('SIGSTOP');
      for (const w of workers) w.proc!.kill('SIGCONT');
      await ackSeen;
      const killedAt = performance.now();
      await cluster.kill(edgeId);
      await until(() => acked.length > 0, 5_000, 'the application ack after the kill');
      expect(performance.now() - killedAt).toBeLessThan(5_000);
      expect(acked).toEqual(['load-1']);
      expect(fob.resends).toBeGreaterThanOrEqual(1);
      expect(fob.waiting()).toBe(0);
      // Reached through the other edge.
      expect(await connectedAt(cluster.nodes.find((n) => n.role === 'edge' && n.mqttPort === second!.port)!.id)).toBeGreaterThan(0);
      const alarms = await store.read((tx) => tx.listAlarms({ kind: 'sos', limit: 100_000 }));
      expect(alarms.filter((a) => a.deviceId === deviceId && a.sourceEventId === 'load-1')).toHaveLength(1);
    } finally {
      for (const w of workers) w.proc?.kill('SIGCONT');
      fob.stop();
      await client.endAsync(true);
      await nc.close();
      // The file's last case: the killed edge is left down (afterAll stops the cluster).
    }
  }, 60_000);
});

async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
