// A cluster worker's heartbeat batch (issue 19, docs/cluster.md "Heartbeat cost on PostgreSQL"),
// through the hub's own ingest (FobIngest.recordHeartbeatBatch, as hub/cluster/worker.ts calls it)
// on a real SQLite file and a real PostgreSQL 15: the health rules give what they gave one device at
// a time (a deadline armed on shift, cancelled with a low-battery alarm off shift, a worn fob's
// sighting), only forward, nothing for an unknown or revoked fob; and on PostgreSQL a batch costs
// the same number of statements whatever its size (counted on the store's pool). Speed is
// `npm run bench -- --only heartbeats`, not asserted here.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { PostgresStore } from '../../hub/store/postgres-store.js';
import { countStatements } from '../helpers/pg-statement-count.js';
import { initialCheckinState } from '../../hub/rules/checkin-engine.js';

const available = requirePostgresOrSkip();
const MINUTE = 60_000;

let server: PostgresServer | null = null;
beforeAll(async () => {
  if (available) server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});


const beat = (deviceId: string, at: number, battery: number, worn = true) => ({ deviceId, payload: Buffer.from(JSON.stringify({ n: 1, b: battery, m: worn ? 1 : 0, u: 1 })), receivedAt: at });
/** The worker's pacing: every chunk in one transaction (BULK_CHUNK is the worker's; any bound will do here). */
const pace = (chunk: number) => ({ chunk, turn: async () => undefined });

const stores: [string, () => Promise<Record<string, unknown>>][] = [
  ['SQLite', async () => ({})],
  ...(available ? ([['PostgreSQL', async () => ({ store: { postgres_url: await server!.createSchema() } })]] as [string, () => Promise<Record<string, unknown>>][]) : []),
];

describe.each(stores)('a heartbeat batch on %s', (_name, storeConfig) => {
  let t: TestHub | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });

  it('R16: arms the silent-fob deadline on shift, cancels it with the low-battery alarm off shift, notes the worn fob as a sighting; only forward; nothing for an unknown or revoked fob', async () => {
    t = await startTestHub({ manualClock: true, config: await storeConfig() });
    const { hub } = t;
    await t.addDevice('fob-on', { workerId: 'sam' });
    await t.addDevice('fob-r', { workerId: 'kim' });
    await hub.store.transaction(async (tx) => {
      await tx.updateDevice('fob-r', { revokedAt: hub.clock.now() });
      await tx.putCheckinState({ ...initialCheckinState('sam'), onShift: true }, null);
    });
    const t0 = hub.clock.now();
    await hub.ingest.recordHeartbeatBatch([beat('fob-on', t0, 80), beat('fob-r', t0, 70), beat('ghost', t0, 60)], pace(50));
    // On shift: the fob is to be reported silent 20 minutes after it was last heard.
    expect(await hub.store.getWork('device', 'fob-on')).toMatchObject({ dueAt: t0 + 20 * MINUTE });
    expect(await hub.store.read((tx) => tx.getDeviceHealth('fob-on'))).toMatchObject({ battery: 80, lastSeenAt: t0 });
    // Worn: the worker's last sighting is the heartbeat.
    expect((await hub.store.read((tx) => tx.getCheckinState('sam')))?.lastSighting).toMatchObject({ at: t0, kind: 'heartbeat (fob worn)' });
    // Revoked and unknown: nothing written.
    expect(await hub.store.read((tx) => tx.getDevice('fob-r'))).toMatchObject({ lastSeenAt: null, battery: null });
    expect(await hub.store.read((tx) => tx.getDeviceHealth('fob-r'))).toBeNull();
    expect(await hub.store.read((tx) => tx.getDevice('ghost'))).toBeNull();
    expect(await hub.store.getWork('device', 'fob-r')).toBeNull();

    // Off shift, the battery low: the low-battery alert is raised and the deadline cancelled.
    await hub.store.transaction((tx) => tx.putCheckinState({ ...initialCheckinState('sam'), onShift: false }, null));
    await t.advance(MINUTE);
    const t1 = hub.clock.now();
    await hub.ingest.recordHeartbeatBatch([beat('fob-on', t1, 10)], pace(50));
    expect(await hub.store.getWork('device', 'fob-on')).toBeNull();
    const alarms = await t.alarms();
    expect(alarms.map((a) => [a.kind, a.deviceId, a.workerId])).toEqual([['low_battery', 'fob-on', 'sam']]);
    expect(await hub.store.read((tx) => tx.getDeviceHealth('fob-on'))).toMatchObject({ battery: 10, lowBatteryRaised: true, lowBatteryAlarmId: alarms[0]!.id });

    // A dead worker's batch redelivered after the newer one: older beats change nothing, rules included.
    await hub.ingest.recordHeartbeatBatch([beat('fob-on', t0 + 5, 95), beat('fob-on', t0 + 9, 96)], pace(50));
    expect(await hub.store.read((tx) => tx.getDevice('fob-on'))).toMatchObject({ lastSeenAt: t1, battery: 10 });
    expect(await hub.store.read((tx) => tx.getDeviceHealth('fob-on'))).toMatchObject({ battery: 10, lowBatteryRaised: true });
    expect(await t.alarms()).toHaveLength(1);
  });

  it('duplicates within a batch: the newest beat of each device is applied, in one pass', async () => {
    t = await startTestHub({ manualClock: true, config: await storeConfig() });
    const { hub } = t;
    await t.addDevice('fob-a', { workerId: 'sam' });
    await hub.store.transaction((tx) => tx.putCheckinState({ ...initialCheckinState('sam'), onShift: true }, null));
    const t0 = hub.clock.now();
    await hub.ingest.recordHeartbeatBatch([beat('fob-a', t0 + 200, 60), beat('fob-a', t0 + 100, 15), beat('fob-a', t0 + 150, 14)], pace(50));
    expect(await hub.store.read((tx) => tx.getDevice('fob-a'))).toMatchObject({ lastSeenAt: t0 + 200, battery: 60 });
    // The older low readings were never stepped: no low-battery alert.
    expect(await hub.store.read((tx) => tx.getDeviceHealth('fob-a'))).toMatchObject({ battery: 60, lowBatteryRaised: false });
    expect(await t.alarms()).toEqual([]);
    expect((await hub.store.read((tx) => tx.getCheckinState('sam')))?.lastSighting?.at).toBe(t0 + 200);
    expect(hub.ingest.counters.heartbeats).toBe(3);
  });
});

describe.skipIf(!available)('a heartbeat batch on PostgreSQL, counted', () => {
  let t: TestHub | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });

  it('costs the same number of statements for 20 devices as for 200, all on shift and worn', async () => {
    t = await startTestHub({ manualClock: true, config: { store: { postgres_url: await server!.createSchema() } } });
    const { hub } = t;
    const store = hub.store as PostgresStore;
    const ids = Array.from({ length: 220 }, (_, i) => `fob-${i}`);
    for (const id of ids) await t.addDevice(id, { workerId: `w-${id}` });
    await hub.store.transaction(async (tx) => {
      // Checked in just now: nothing of their day is due, so a sighting is all the check-in rules do
      // (an overdue day takes the one-worker-at-a-time path, stepWorker, by design).
      for (const id of ids) await tx.putCheckinState({ ...initialCheckinState(`w-${id}`), onShift: true, lastCheckInAt: hub.clock.now() }, null);
    });
    const counted = countStatements(store.pool);
    const at = hub.clock.now();
    // Only what the batch itself sends: the hub's own polls meanwhile are not the batch's cost.
    const measure = (batch: string[]): Promise<number> =>
      counted.during(() =>
        hub.ingest.recordHeartbeatBatch(
          batch.map((id) => beat(id, at, 80)),
          pace(batch.length),
        ),
      );
    const small = await measure(ids.slice(0, 20));
    const large = await measure(ids.slice(20));
    // Counted apart from the polls, the two are equal (16 and 16, 2026-12-03), not merely close.
    expect(small).toBeGreaterThan(0);
    expect(large).toBe(small);
    expect(large).toBeLessThan(30);
    // And every one of the 200 was stepped: its deadline armed, its sighting noted.
    expect(await hub.store.countWork(undefined, ['device'])).toBe(220);
    const sighted = await hub.store.read(async (tx) => (await Promise.all(ids.map((id) => tx.getCheckinState(`w-${id}`)))).filter((s) => s?.lastSighting?.at === at).length);
    expect(sighted).toBe(220);
  }, 60_000);
});
