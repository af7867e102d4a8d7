// The one due-work loop (issue 18) on a real SQLite store and a ManualClock: due order, each row once,
// batches that yield to the event loop (issue 17 item 4), one timer armed at the store's next due
// time, retries of failed work, and work a crashed process left claimed again once its lease ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hub/clock.js';
import { silentLogger } from '../../hub/logger.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import type { ClaimedWork, DueWorkKind } from '../../hub/store/store.js';
import { DueWorkLoop, RETRY_AFTER_MS, type BatchBudget, type DueWorkHandler } from '../../hub/rules/due-work-loop.js';

const LEASE = 10_000;
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function setup(start: number, handlersFor: (store: SqliteStore) => Partial<Record<DueWorkKind, DueWorkHandler>>, budget: BatchBudget = { maxPerBatch: 4, maxBatchMs: 1000, yieldTurns: 1 }) {
  const store = new SqliteStore(':memory:');
  stores.push(store);
  const clock = new ManualClock(start);
  const loop = new DueWorkLoop({ store, clock, log: silentLogger, owner: 'hub-a', handlers: handlersFor(store), budget, leaseMs: LEASE });
  const schedule = (kind: DueWorkKind, key: string, at: number | null, payload?: unknown) => store.transaction((tx) => tx.scheduleWork(kind, key, at, payload));
  return { store, clock, loop, schedule };
}

/** A handler that records what it got and completes it, as the runtime's do. */
function recorder(store: SqliteStore, fired: string[], extra?: (w: ClaimedWork) => Promise<void> | void): DueWorkHandler {
  return async (w) => {
    fired.push(`${w.kind}:${w.key}`);
    await extra?.(w);
    await store.complete(w);
  };
}

describe('DueWorkLoop', () => {
  it('pollMs: a row another process armed on the shared store is found by the next poll, and done once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lw-due-poll-'));
    try {
      const file = join(dir, 'lonewatch.db');
      const mine = new SqliteStore(file);
      const theirs = new SqliteStore(file);
      stores.push(mine, theirs);
      const clock = new ManualClock(10_000);
      const fired: string[] = [];
      const polling = new DueWorkLoop({ store: mine, clock, log: silentLogger, owner: 'node-a', handlers: { alarm: recorder(mine, fired) }, leaseMs: LEASE, pollMs: 1000 });
      const deaf = new DueWorkLoop({ store: mine, clock, log: silentLogger, owner: 'node-b', handlers: { alarm: recorder(mine, fired) }, leaseMs: LEASE });
      await polling.start();
      await deaf.start();
      await polling.whenDrained();
      await deaf.whenDrained();
      // Nothing due: only the polling loop has a timer, at its poll.
      expect(clock.nextDueAt()).toBe(11_000);
      // Another process (a worker that then dies) arms a step at 12,500: neither loop is told.
      await theirs.transaction((tx) => tx.scheduleWork('alarm', 'a1', 12_500));
      clock.advanceTo(11_000);
      await polling.whenDrained();
      // The poll read the store: the next wake-up is the earlier of the next poll (12,000) and the step.
      expect(clock.nextDueAt()).toBe(12_000);
      clock.advanceTo(12_000);
      await polling.whenDrained();
      expect(clock.nextDueAt()).toBe(12_500);
      clock.advanceTo(12_500);
      await polling.whenDrained();
      expect(fired).toEqual(['alarm:a1']);
      expect(await mine.countWork()).toBe(0);
      await polling.stop();
      await deaf.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('10,000 overdue rows: due order, each once, and a macrotask queued at the start runs while most are still left', async () => {
    const fired: string[] = [];
    const s = setup(1_000_000, (store) => ({ worker: async (w) => recorder(store, fired)(w) }), { maxPerBatch: 50, maxBatchMs: 1000, yieldTurns: 1 });
    const store = s.store;
    // Written in a scrambled order, due over the past 10,000 ms, as a hub that was down leaves them.
    const put = store.db.prepare(`INSERT INTO due_work (kind, key, due_at) VALUES ('worker', ?, ?)`);
    store.db.transaction(() => {
      for (let j = 0; j < 10_000; j++) {
        const i = (j * 7919) % 10_000;
        put.run(`w${String(i).padStart(5, '0')}`, 990_000 + i);
      }
    })();
    await s.schedule('worker', 'w00005', 990_000 + 9_999.5); // moved: runs after w09999
    await s.schedule('worker', 'w00006', null); // cancelled: never runs
    await s.schedule('worker', 'later', 2_000_000); // not due
    const want = Array.from({ length: 10_000 }, (_, i) => `worker:w${String(i).padStart(5, '0')}`).filter((k) => k !== 'worker:w00005' && k !== 'worker:w00006');
    want.push('worker:w00005');

    let seenBetween: { fired: number; left: number } | null = null;
    setImmediate(() => {
      seenBetween = { fired: fired.length, left: s.loop.overdueLeft };
    });
    expect(await s.loop.start()).toBe(9_999);
    expect(s.loop.busy).toBe(true);
    await s.loop.whenDrained();

    expect(fired).toEqual(want);
    expect(seenBetween).not.toBeNull();
    expect(seenBetween!.fired).toBeLessThanOrEqual(50);
    expect(seenBetween!.left).toBe(9_999 - seenBetween!.fired);
    expect(s.loop.overdueLeft).toBe(0);
    expect(s.loop.busy).toBe(false);
    // The one not due is the only row left, and the one timer is armed for it.
    expect(await store.countWork()).toBe(1);
    expect(s.clock.nextDueAt()).toBe(2_000_000);
    s.clock.advanceTo(2_000_000);
    await s.loop.whenDrained();
    expect(fired.at(-1)).toBe('worker:later');
    expect(await store.countWork()).toBe(0);
  });

  // What the loop does with each kind of outcome of a handler, one row of the table each.
  const outcomes: { name: string; handler: (store: SqliteStore) => DueWorkHandler; left: { dueAt: number; attempts: number } | null }[] = [
    { name: 'completed: the row is gone', handler: (store) => async (w) => void (await store.complete(w)), left: null },
    { name: 'completed in the transaction of its work: the row is gone', handler: (store) => async (w) => void (await store.transaction((tx) => tx.completeWork(w))), left: null },
    { name: 'rejected: retried 5 s later, a new generation', handler: () => () => Promise.reject(new Error('store busy')), left: { dueAt: 100 + RETRY_AFTER_MS, attempts: 0 } },
    {
      name: 'thrown synchronously: retried 5 s later',
      handler: () => () => {
        throw new Error('bad row');
      },
      left: { dueAt: 100 + RETRY_AFTER_MS, attempts: 0 },
    },
    { name: 'moved by its own step (a new deadline): the moved row stays', handler: (store) => async (w) => void (await store.transaction(async (tx) => { await tx.scheduleWork(w.kind, w.key, 900); await tx.completeWork(w); })), left: { dueAt: 900, attempts: 0 } },
    { name: 'rescheduled by the handler (a notice retry)', handler: (store) => async (w) => void (await store.reschedule(w, 700)), left: { dueAt: 700, attempts: 0 } },
  ];
  it.each(outcomes)('a handler that $name', async ({ handler, left }) => {
    const s = setup(100, (store) => ({ alarm: (w) => handler(store)(w) }));
    const store = s.store;
    await s.schedule('alarm', 'a1', 100);
    await s.loop.start();
    await s.loop.whenDrained();
    const row = await store.getWork('alarm', 'a1');
    expect(row ? { dueAt: row.dueAt, attempts: row.attempts } : null).toEqual(left);
    // The timer is armed at what is left (or nothing).
    expect(s.clock.nextDueAt()).toBe(left ? left.dueAt : null);
  });

  it('a failing row does not stall the rest; rows scheduled during a drain for "now" run in the same drain; a retry runs at its time', async () => {
    const fired: string[] = [];
    const s = setup(0, (store) => ({
      alarm: async (w) => {
        fired.push(w.key);
        if (w.key === 'a2') await store.transaction((tx) => tx.scheduleWork('alarm', 'new', 0));
        if (w.key === 'a1' && w.dueAt < 0) throw new Error('store busy');
        await store.complete(w);
      },
    }));
    const store = s.store;
    for (let i = 1; i <= 5; i++) await s.schedule('alarm', `a${i}`, -10 + i);
    await s.loop.start();
    await s.loop.whenDrained();
    expect(fired).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'new']);
    expect(await store.getWork('alarm', 'a1')).toMatchObject({ dueAt: RETRY_AFTER_MS });
    s.clock.advanceTo(RETRY_AFTER_MS);
    await s.loop.whenDrained();
    expect(fired.at(-1)).toBe('a1');
    expect(await store.countWork()).toBe(0);
  });

  it('dispatches by kind; a kind this hub has no handler for is kept and retried, never dropped', async () => {
    const fired: string[] = [];
    const s = setup(50, (store) => ({ alarm: (w) => recorder(store, fired)(w), effect: (w) => recorder(store, fired)(w) }));
    const store = s.store;
    await s.schedule('effect', 'e1', 0, { type: 'alarm_changed', alarmId: 'a1' });
    await s.schedule('notice', 'n1', 10);
    await s.schedule('alarm', 'a1', 20);
    await s.loop.start();
    await s.loop.whenDrained();
    expect(fired).toEqual(['effect:e1', 'alarm:a1']);
    expect(await store.getWork('notice', 'n1')).toMatchObject({ dueAt: 50 + RETRY_AFTER_MS });
  });

  it('wake brings the timer forward for work this process just scheduled, and never pushes it back', async () => {
    const fired: string[] = [];
    const s = setup(0, (store) => ({ worker: (w) => recorder(store, fired)(w) }));
    await s.schedule('worker', 'late', 60_000);
    await s.loop.start();
    await s.loop.whenDrained();
    expect(s.clock.nextDueAt()).toBe(60_000);
    await s.schedule('worker', 'soon', 1_000);
    s.loop.wake(1_000);
    expect(s.clock.nextDueAt()).toBe(1_000);
    s.loop.wake(30_000);
    expect(s.clock.nextDueAt()).toBe(1_000);
    s.clock.advanceTo(1_000);
    await s.loop.whenDrained();
    expect(fired).toEqual(['worker:soon']);
    // Back to sleep until the next row, read from the store.
    expect(s.clock.nextDueAt()).toBe(60_000);
  });

  it('work a crashed process held is claimed again once its lease ends, as another attempt', async () => {
    const fired: string[] = [];
    const s = setup(1_000, (store) => ({ effect: (w) => recorder(store, fired, () => void fired.push(`attempts ${w.attempts}`))(w) }));
    const store = s.store;
    // The process that committed this effect leased it to itself and died before completing it.
    await store.transaction((tx) => tx.scheduleClaimed('effect', 'e1', 1_000, { type: 'notify' }, 'hub-dead', 1_000 + LEASE));
    await s.loop.start();
    await s.loop.whenDrained();
    expect(fired).toEqual([]);
    expect(s.clock.nextDueAt()).toBe(1_000 + LEASE);
    s.clock.advanceTo(1_000 + LEASE);
    await s.loop.whenDrained();
    expect(fired).toEqual(['effect:e1', 'attempts 2']);
    expect(await store.countWork()).toBe(0);
  });

  it('the time budget ends a batch; the rows it claimed and did not reach wait for the next batch, still leased to it', async () => {
    const fired: string[] = [];
    const leasedToOthers: number[] = [];
    // maxBatchMs 0: one row per batch, whatever the claim brought.
    const s = setup(0, (store) => ({ device: (w) => recorder(store, fired)(w) }), { maxPerBatch: 8, maxBatchMs: 0, yieldTurns: 1 });
    const store = s.store;
    for (let i = 0; i < 5; i++) await s.schedule('device', `d${i}`, -5 + i);
    setImmediate(async () => leasedToOthers.push((await store.claimDue(0, 10, 'hub-b', LEASE)).length));
    await s.loop.start();
    await s.loop.whenDrained();
    expect(fired).toEqual(['device:d0', 'device:d1', 'device:d2', 'device:d3', 'device:d4']);
    // Another claimer in between got nothing: the batch's rows were leased.
    expect(leasedToOthers).toEqual([0]);
  });

  it('stop ends a drain between rows and gives the claimed rows it did not reach back, due at their own time', async () => {
    const fired: string[] = [];
    const s = setup(0, (store) => ({
      alarm: async (w) => {
        fired.push(w.key);
        await store.complete(w);
        if (fired.length === 3) void s.loop.stop();
      },
    }));
    const store = s.store;
    for (let i = 0; i < 10; i++) await s.schedule('alarm', `k${i}`, -100 + i);
    await s.loop.start();
    await s.loop.whenDrained();
    await s.loop.stop();
    expect(fired).toEqual(['k0', 'k1', 'k2']);
    expect(await store.countWork()).toBe(7);
    // Not leased: a new loop has them at once, in order.
    const next = await store.claimDue(0, 10, 'hub-b', LEASE);
    expect(next.map((w) => [w.key, w.dueAt])).toEqual(Array.from({ length: 7 }, (_, i) => [`k${i + 3}`, -97 + i]));
  });
});
