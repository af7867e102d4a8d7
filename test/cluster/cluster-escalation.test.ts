// Issue 18/19: every escalation step fires exactly once in the cluster. A real cluster (three
// nats-server nodes, PostgreSQL where installed, one edge, two workers and an HTTP node, each its
// own process) and a real signed-webhook receiver in this process; an SOS under a four-level "step"
// ladder of 9 s levels on the nodes' real clocks (separate processes: there is no clock to inject).
// Every node runs the leased due-work loop on the shared store (claimDue: FOR UPDATE SKIP LOCKED on
// PostgreSQL), so the HTTP node is one more claimer. Worker-1 is killed -9 after level 0 was
// delivered, worker-2 after level 1: the rest of the ladder can only come from the survivors. At the
// end, with no escalation work left in the store, the receiver has each step's notice once: one
// idempotency key per level, and each key received once. The cluster is `cluster up --tls`'s: the
// fob reaches its edge over MQTTS, trusting the development CA the cluster made; a second test runs
// the RAK5010 bundle over the simulated BG96's SSL stack to the same edge.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalCluster } from '../../hub/cluster/cluster-up.js';
import { loadConfig } from '../../hub/config/load-config.js';
import { openConfiguredStore } from '../../hub/store/open-store.js';
import type { Store } from '../../hub/store/store.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { TestWebhookReceiver } from '../helpers/notify-receivers.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { WireFob } from '../../simulator/wire-fob.js';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedRak } from '../../firmware/sim/rak-sim.js';
import { outboxEntries } from '../../firmware/sim/outbox-files.js';
import { caFileName } from '../../firmware/flash/wire.js';
import { tlsRakStorage } from '../helpers/rak-tls-storage.js';

const SECRET = 'whsec-cluster-0123456789';
const LEVELS = 4;
/**
 * Minutes per level: 6 s, long enough that a kill lands between two steps on a busy machine (a
 * SIGKILL and its exit take well under a second; the test checks that it did land there, below).
 * Was 9 s (issue 18: the ladder is most of this file's time, waited in real time).
 */
const DELAY_MIN = 0.1;

let cluster: LocalCluster;
let store: Store;
/** The run's shared PostgreSQL server (or this file's own without it); null on the SQLite store. */
let pgServer: PostgresServer | null = null;
let webhook: TestWebhookReceiver;
let fob: WireFob;
let rak: SimulatedRak | null = null;
const storeKind = requirePostgresOrSkip() ? 'postgres' : 'sqlite';
const dir = mkdtempSync(join(tmpdir(), 'lw-cluster-escalation-'));

const ladder = Array.from(
  { length: LEVELS },
  (_, i) => `[[policies.sos.levels]]\nname = "step ${i}"\ntargets = ["duty_officer"]\nchannels = ["webhook"]\ndelay_min = ${DELAY_MIN}\n`,
).join('\n');

beforeAll(async () => {
  // A database of this file's on the run's one server, instead of initdb and a server per cluster.
  pgServer = storeKind === 'postgres' ? await startPostgres() : null;
  const postgresUrl = pgServer ? await pgServer.createDatabase('cluster') : undefined;
  webhook = await TestWebhookReceiver.start(SECRET, () => Date.now());
  writeFileSync(join(dir, 'webhook.secret'), `${SECRET}\n`);
  cluster = await LocalCluster.start({ cli: inject('cliBundle') || undefined,
    dir,
    // Two: the RAK5010 test below moves from the first to the second over TLS when the first is killed.
    edges: 2,
    workers: 2,
    httpNode: true,
    store: storeKind, postgresUrl,
    logLevel: 'warn',
    // `lonewatch cluster up --tls` (issue 19), taken here rather than in a cluster of its own: a
    // development CA signs the nodes' certificate, the edge serves MQTTS only and the workers and
    // the HTTP node HTTPS (start waits for each /readyz over HTTPS, trusting that CA).
    tls: true,
    extraToml: [
      '[notifiers.webhook]',
      `url = ${JSON.stringify(webhook.url)}`,
      `secret = ${JSON.stringify(`file:${join(dir, 'webhook.secret')}`)}`,
      'retry = { timeout_s = 5, first_retry_s = 1, give_up_after_s = 60 }',
      // [policies] replaces the default policies: every kind of alarm follows this one.
      '[alarm_policies]',
      ...['sos', 'covert_sos', 'man_down', 'missed_checkin', 'device_silent', 'low_battery'].map((k) => `${k} = "sos"`),
      '[policies.sos]',
      'mode = "step"',
      'repeat = 0',
      ladder,
    ].join('\n'),
  });
  // Alerts link to the dashboard where this cluster serves it, over https (it runs with TLS).
  expect(loadConfig(cluster.configFile).hub.public_url).toBe(cluster.webUrl(cluster.node('http-1')));
  expect(cluster.webUrl(cluster.node('http-1'))).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  store = await openConfiguredStore(loadConfig(cluster.configFile));
  const { secret } = await addDevice(store, 'fob-1', { now: Date.now() });
  const edge = cluster.edges[0]!;
  // The fob over MQTTS, trusting the development CA only.
  fob = new WireFob({ deviceId: 'fob-1', secret, board: 'rak5010', hubHost: edge.host, hubPort: edge.port, hubs: cluster.edges, tlsCa: readFileSync(cluster.tls!.caCert, 'utf8'), battery: 90, clockStart: Date.now() });
  await fob.start();
}, 180_000);

afterAll(async () => {
  rak?.stop();
  await fob?.stop().catch(() => undefined);
  await store?.close();
  await cluster?.stop();
  await pgServer?.stop();
  await webhook?.close();
  // LW_KEEP_CLUSTER_DIR=1 keeps the nodes' logs for reading after a failure.
  if (!process.env.LW_KEEP_CLUSTER_DIR) rmSync(dir, { recursive: true, force: true });
  else console.log(`cluster folder kept: ${dir}`);
});

/** Polls `check` every 200 ms until it answers true, or fails saying what was awaited. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await fob.advance(200);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const alerts = (alarmId: string) => webhook.received.filter((r) => r.verified && r.json.type === 'lonewatch.alert' && (r.json.alarm as { id: string }).id === alarmId);
const levelOf = (r: { json: Record<string, unknown> }) => (r.json.alarm as { level: number }).level;

describe(`cluster escalation on leased due work (${storeKind})`, () => {
  it('kill -9 of both workers mid-ladder: every escalation step reaches the receiver once, one idempotency key per step', async () => {
    fob.press('loud_sos');
    const [sos] = fob.outboxIds().slice(-1);
    await until('the SOS to be acknowledged to the fob', () => fob.outboxSize() === 0);
    // Over MQTTS with the development CA: PUBACKed, then acknowledged (its outbox is empty).
    expect(fob.pubackedEvents()).toContain(sos);
    expect(fob.ackedEvents()).toContain(sos);
    const [alarm] = await store.read((tx) => tx.listAlarms({ kind: 'sos', limit: 10 }));
    expect(alarm).toBeDefined();
    expect(alarm!.sourceEventId).toBe(sos);
    const id = alarm!.id;
    const delivered = async (level: number) =>
      alerts(id).some((r) => levelOf(r) === level) && (await store.read((tx) => tx.listNotices(id))).every((n) => n.state === 'done');

    // Between steps: level 0 delivered and recorded done, level 1 not due for DELAY_MIN.
    await until('level 0 at the receiver', () => delivered(0));
    await cluster.kill('worker-1');
    // The kill landed mid-ladder: the next step was not yet at the receiver when the worker was gone.
    expect(alerts(id).map(levelOf)).toEqual([0]);
    await until('level 1 at the receiver', () => delivered(1));
    await cluster.kill('worker-2');
    expect([...new Set(alerts(id).map(levelOf))].sort()).toEqual([0, 1]);

    // The ladder's end: the alarm exhausted and nothing of it left to do in the store, so no
    // later duplicate can come (a killed worker's leases would have expired and been re-run by now).
    await until(
      'the ladder to be exhausted with no escalation work left',
      async () =>
        (await store.read((tx) => tx.getAlarm(id)))?.state === 'exhausted' &&
        (await store.countWork(undefined, ['alarm', 'effect', 'notice'])) === 0 &&
        (await store.read((tx) => tx.listNotices(id))).every((n) => n.state === 'done'),
      90_000,
    );

    // The steps, as the alarm's record has them: each level climbed, then the exhaustion notice
    // to the senior targets (hub/rules/escalation-engine.ts notifySenior), each recorded once.
    const steps = (await store.read((tx) => tx.getTimeline(id))).filter((e) => e.type === 'notify').map((e) => e.detail as { level: number; reason: string; dueAt: number });
    expect(steps.map((st) => `${st.level}:${st.reason}`)).toEqual([...Array.from({ length: LEVELS }, (_, i) => `${i}:${i === 0 ? 'raised' : 'escalated'}`), `${LEVELS - 1}:exhausted`]);

    const got = alerts(id);
    const timesByKey = new Map<string, number>();
    for (const r of got) {
      const key = String(r.headers['idempotency-key']);
      timesByKey.set(key, (timesByKey.get(key) ?? 0) + 1);
    }
    // One notice per step at the receiver, every level there...
    expect(timesByKey.size).toBe(steps.length);
    expect([...new Set(got.map(levelOf))].sort()).toEqual(Array.from({ length: LEVELS }, (_, i) => i));
    // ...each received once: no step was fired twice by two claimers, nor again after a kill.
    for (const [key, n] of timesByKey) expect(n, `notice ${key} received`).toBe(1);
    expect(webhook.received.filter((r) => !r.verified)).toEqual([]);
    // The store's record agrees: one webhook notice per step, each delivered.
    const notices = (await store.read((tx) => tx.listNotices(id))).filter((n) => n.channel === 'webhook' && n.event === 'alert');
    expect(notices).toHaveLength(steps.length);
    expect(notices.every((n) => n.state === 'done')).toBe(true);
  }, 240_000);

  it("the RAK5010 bundle over the BG96's own SSL stack to the cluster's TLS edge: the pinned development CA, an SOS stored and acknowledged", async () => {
    // Issue 19: the firmware's TLS (AT+QSSLOPEN, the CA uploaded with AT+QFUPL from the lw.ca the
    // flashing tool writes) had been run against the single hub only (rak-tls.test.ts), not an
    // edge. The simulated BG96 terminates real TLS and checks the edge's certificate against the CA
    // the fob uploaded to it. The test above killed both workers: one is started again for the
    // events to be committed.
    await cluster.restart('worker-1');
    const b = await cachedFirmwareBuild('rak5010');
    expect(b.problems).toEqual([]);
    const ca = readFileSync(cluster.tls!.caCert, 'utf8');
    const edge = cluster.edges[0]!;
    const { secret } = await addDevice(store, 'rak-edge', { now: Date.now() });
    // "localhost": a name in the nodes' certificate (LOOPBACK_SERVER_EXT); the simulated network takes it to loopback.
    const second = cluster.edges[1]!;
    rak = new SimulatedRak(SimulatedBoard.compile(b.code, 'rak5010.js'), tlsRakStorage({ id: 'rak-edge', pw: secret, port: edge.port, ports: [edge.port, second.port], ca }));
    rak.modem.redirect('127.0.0.1');
    rak.boot();
    const r = rak;
    const said = async (kind: string): Promise<boolean> => (await store.read((tx) => tx.listAlarms({ kind, limit: 20 }))).some((a) => a.deviceId === 'rak-edge');
    // The hello is acknowledged over the TLS link: the outbox empties.
    for (let t = 0; t < 60_000 && outboxEntries(r.storage).length > 0; t += 500) await r.run(500, 50);
    expect(outboxEntries(r.storage)).toEqual([]);
    expect(r.modem.commands).toEqual(expect.arrayContaining([`AT+QSSLCFG="cacert",1,"${caFileName(ca)}"`, `AT+QSSLOPEN=1,1,0,"localhost",${edge.port},1`]));
    expect(r.modem.commands.filter((c) => c.startsWith('AT+QIOPEN'))).toEqual([]);
    expect(r.modem.sslFailures).toEqual([]);

    await r.gesture('H');
    let stored = false;
    for (let t = 0; t < 60_000 && !stored; t += 500) {
      await r.run(500, 50);
      stored = await said('sos');
    }
    expect(stored).toBe(true);
    // The worker's application ack came back through the edge: the SOS left the fob's outbox.
    for (let t = 0; t < 60_000 && outboxEntries(r.storage).length > 0; t += 500) await r.run(500, 50);
    expect(outboxEntries(r.storage)).toEqual([]);

    // Its edge is killed (-9): the dropped TLS session moves on to the second edge (docs/cluster.md
    // "Fob failover"), over the BG96's SSL stack again, trusting the same uploaded CA, and an SOS
    // pressed meanwhile is acknowledged through it.
    const opens = (): string[] => r.modem.commands.filter((c) => c.startsWith('AT+QSSLOPEN'));
    const before = opens().length;
    await cluster.kill(cluster.nodes.find((n) => n.role === 'edge')!.id);
    await r.gesture('H');
    for (let t = 0; t < 60_000 && outboxEntries(r.storage).length > 0; t += 500) await r.run(500, 50);
    expect(outboxEntries(r.storage)).toEqual([]);
    expect(opens().slice(before)).toEqual([`AT+QSSLOPEN=1,1,0,"localhost",${second.port},1`]);
    expect(r.modem.commands.filter((c) => c.startsWith('AT+QIOPEN'))).toEqual([]);
    expect(r.modem.sslFailures).toEqual([]);
    expect(r.modem.refused).toEqual([]);
    expect(r.board.errors).toEqual([]);
  }, 180_000);
});

