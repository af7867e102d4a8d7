// Issue 19 (docs/cluster.md "Heartbeat batches of two workers"): two PostgreSQL store instances (two
// cluster workers) committing heartbeat batches of disjoint devices at the same time, as the worker's
// bulk commit does (rules-runtime.ts stepHeartbeats: recordBeats, putDeviceHealths,
// scheduleWorkMany, listVisitsOf, putCheckinStates), on the real shared PostgreSQL. Counts each
// transaction's attempts (tx-timing.ts): with nothing shared between the batches, none is retried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../hub/store/postgres-store.js';
import { txTiming, type TxTiming } from '../../hub/store/tx-timing.js';
import type { TransactionOptions } from '../../hub/store/store.js';
import type { DeviceHealthState } from '../../hub/rules/device-health-engine.js';
import { initialDeviceHealth } from '../../hub/rules/device-health-engine.js';
import { initialCheckinState } from '../../hub/rules/checkin-engine.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { device, worker } from './store-contract.js';

const available = requirePostgresOrSkip();
const PER_WORKER = 300;
const BATCHES = 12;
const idsOf = (w: string) => Array.from({ length: PER_WORKER }, (_, i) => `${w}-${String(i).padStart(4, '0')}`);

describe.skipIf(!available)('PostgreSQL heartbeat batches of two workers', () => {
  let server: PostgresServer;
  const stores: PostgresStore[] = [];
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await server?.stop();
  });

  /** One batch as stepHeartbeats writes it: every device moved, its health kept, its worker sighted. */
  async function batch(store: PostgresStore, ids: string[], at: number, isolation: TransactionOptions['isolation'] = 'row_locked'): Promise<number> {
    return store.transaction(async (tx) => {
      const moved = await tx.recordBeats(ids.map((deviceId) => ({ deviceId, at, battery: 80 })));
      await tx.putDeviceHealths(moved.map((m) => ({ state: { ...(m.health ?? initialDeviceHealth(m.device.id)) }, dueAt: at + 60_000 })));
      await tx.scheduleWorkMany('device', moved.map((m) => ({ key: m.device.id, dueAt: at + 60_000 })));
      const workers = moved.map((m) => m.device.workerId!).filter(Boolean);
      await tx.listVisitsOf(workers, at - 86_400_000, at + 86_400_000);
      await tx.putCheckinStates(moved.map((m) => ({ state: m.shift ?? initialCheckinState(m.device.workerId!), dueAt: at + 120_000 })));
      await tx.scheduleWorkMany('worker', workers.map((w) => ({ key: w, dueAt: at + 120_000 })));
      return moved.length;
    }, { isolation });
  }

  async function twoStores(): Promise<[PostgresStore, PostgresStore]> {
    const url = await server.createSchema();
    const a = await PostgresStore.open(url, { poolMax: 4 });
    const b = await PostgresStore.open(url, { poolMax: 4 });
    stores.push(a, b);
    return [a, b];
  }

  async function enrol(store: PostgresStore, ids: string[]): Promise<void> {
    await store.transaction(async (tx) => {
      for (const id of ids) {
        await tx.upsertWorker(worker(`w-${id}`, `Worker ${id}`));
        await tx.insertDevice(device(id, { workerId: `w-${id}` }));
      }
    });
  }

  it('batches of disjoint devices committed at once by two instances are not retried, and each device ends at its newest beat', async () => {
    const [a, b] = await twoStores();
    const fleets = { a: idsOf('fa'), b: idsOf('fb') };
    await enrol(a, [...fleets.a, ...fleets.b]);
    // A first round so every device has its health, check-in and due rows (the steady state).
    await batch(a, fleets.a, 1_000);
    await batch(b, fleets.b, 1_000);

    const timings: TxTiming[] = [];
    const run = (s: PostgresStore, ids: string[]) =>
      txTiming.run(timings, async () => {
        let moved = 0;
        for (let i = 1; i <= BATCHES; i++) moved += await batch(s, ids, 1_000 + i * 30_000);
        return moved;
      });
    const [movedA, movedB] = await Promise.all([run(a, fleets.a), run(b, fleets.b)]);
    expect(movedA).toBe(PER_WORKER * BATCHES);
    expect(movedB).toBe(PER_WORKER * BATCHES);
    expect(timings).toHaveLength(2 * BATCHES);
    const retried = timings.filter((t) => t.attempts > 1).map((t) => t.attempts);
    expect(retried, `transactions run more than once (attempts): ${retried.join(', ')}`).toEqual([]);
    const last = await a.read((tx) => tx.getDevice('fb-0299'));
    expect(last?.lastSeenAt).toBe(1_000 + BATCHES * 30_000);
  }, 120_000);

  it('the cause: the same batches under SERIALIZABLE abort each other (relation-level predicate locks, shared rows), so they are retried', async () => {
    const [a, b] = await twoStores();
    const fleets = { a: idsOf('sa'), b: idsOf('sb') };
    await enrol(a, [...fleets.a, ...fleets.b]);
    await batch(a, fleets.a, 1_000, 'serializable');
    await batch(b, fleets.b, 1_000, 'serializable');
    const timings: TxTiming[] = [];
    let gaveUp = 0;
    const run = (s: PostgresStore, ids: string[]) =>
      txTiming.run(timings, async () => {
        for (let i = 1; i <= BATCHES; i++) await batch(s, ids, 1_000 + i * 30_000, 'serializable').catch(() => gaveUp++);
      });
    await Promise.all([run(a, fleets.a), run(b, fleets.b)]);
    const extraAttempts = timings.reduce((n, t) => n + t.attempts - 1, 0);
    expect(extraAttempts).toBeGreaterThan(0);
    expect(gaveUp).toBeLessThanOrEqual(extraAttempts);
  }, 120_000);

  it('two instances stepping the same devices at once lose no health step and leave each device at its newest beat', async () => {
    const [a, b] = await twoStores();
    const ids = idsOf('sh').slice(0, 40);
    await enrol(a, ids);
    const ROUNDS = 10;
    // Each batch reads every device's health state and writes it back with one more step counted
    // (a read-modify-write, as stepHeartbeats does): a lost update shows as fewer than 2 x ROUNDS.
    const step = (s: PostgresStore, at: number) =>
      s.transaction(async (tx) => {
        const moved = await tx.recordBeats(ids.map((deviceId) => ({ deviceId, at, battery: 70 })));
        await tx.putDeviceHealths(
          moved.map((m) => {
            const held = m.health as (DeviceHealthState & { steps?: number }) | null;
            return { state: { ...(held ?? initialDeviceHealth(m.device.id)), steps: (held?.steps ?? 0) + 1 } as DeviceHealthState, dueAt: null };
          }),
        );
        return moved.length;
      }, { isolation: 'row_locked' });
    // Both instances give every beat an increasing time, interleaved (a: odd, b: even), so every batch moves every device.
    const run = async (s: PostgresStore, parity: number) => {
      let moved = 0;
      for (let i = 0; i < ROUNDS; i++) moved += await step(s, 10_000 + (2 * i + parity) * 1_000);
      return moved;
    };
    const [movedA, movedB] = await Promise.all([run(a, 0), run(b, 1)]);
    const states = await a.read(async (tx) => Promise.all(ids.map((id) => tx.getDeviceHealth(id))));
    const devices = await a.read(async (tx) => Promise.all(ids.map((id) => tx.getDevice(id))));
    // Every step a batch took is in the stored state: none overwritten by the other instance.
    const stepsOf = states.map((s) => (s as (DeviceHealthState & { steps?: number }) | null)?.steps ?? 0);
    expect(stepsOf.reduce((x, y) => x + y, 0)).toBe(movedA + movedB);
    // Liveness only forward: the newest beat of all (b's last, odd), whichever committed last.
    for (const d of devices) expect(d?.lastSeenAt).toBe(10_000 + (2 * (ROUNDS - 1) + 1) * 1_000);
  }, 120_000);
});
