/**
 * The one contract every Store's leased due work must keep (issues 18 and 19), whatever the
 * database: SQLite runs it in sqlite-due-work.test.ts, PostgreSQL in postgres-ctx.store.contract.test.ts.
 * Times are plain numbers handed in as `now`: the store never reads a clock, so nothing here sleeps.
 * Each test gets a fresh database from the fixture (store-contract.ts's MakeStore).
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '../../hub/store/store.js';
import { useStore, visit, worker, type MakeStore } from './store-contract.js';

const LEASE = 1000;

export function describeDueWorkContract<S extends Store>(name: string, makeStore: MakeStore<S>): void {
  describe(`DueWork contract: ${name}`, () => {
    const ctx = useStore(makeStore);

    const schedule = (kind: 'alarm' | 'worker' | 'device' | 'effect' | 'notice', key: string, dueAt: number | null, payload?: unknown) =>
      ctx.store.transaction((tx) => tx.scheduleWork(kind, key, dueAt, payload));

    it('claims only what is due, earliest first (then kind, then key), at most the limit, and says when the next is due', async () => {
      expect(await ctx.store.nextDueAt()).toBeNull();
      await schedule('worker', 'w2', 300);
      await schedule('alarm', 'a1', 200);
      await schedule('worker', 'w1', 200);
      await schedule('effect', 'e1', 100, { type: 'notify', level: 1 });
      await schedule('device', 'd1', 900);
      expect(await ctx.store.nextDueAt()).toBe(100);
      expect(await ctx.store.countWork()).toBe(5);
      expect(await ctx.store.countWork(250)).toBe(3);
      expect(await ctx.store.countWork(250, ['alarm', 'worker', 'device'])).toBe(2);

      const first = await ctx.store.claimDue(250, 2, 'p1', LEASE);
      expect(first.map((w) => `${w.kind}:${w.key}`)).toEqual(['effect:e1', 'alarm:a1']);
      expect(first[0]).toMatchObject({ dueAt: 100, payload: { type: 'notify', level: 1 }, owner: 'p1', leaseUntil: 250 + LEASE, attempts: 1 });
      const second = await ctx.store.claimDue(250, 10, 'p1', LEASE);
      expect(second.map((w) => `${w.kind}:${w.key}`)).toEqual(['worker:w1']);
      expect(await ctx.store.claimDue(250, 10, 'p1', LEASE)).toEqual([]);
      // Unleased w2 at 300 comes before the leased rows' lease ends (1200, 1250).
      expect(await ctx.store.nextDueAt()).toBe(300);
    });

    it('unarmed workers with planned visits: a planned visit in [from, to), no worker due work, a worker on record; in id order', async () => {
      await ctx.store.transaction(async (tx) => {
        for (const id of ['w-b', 'w-a', 'w-armed', 'w-active', 'w-early', 'w-late', 'w-two']) await tx.upsertWorker(worker(id, id));
        await tx.insertVisit(visit('v1', 'w-b', 1_000));
        await tx.insertVisit(visit('v2', 'w-a', 1_999));
        await tx.insertVisit(visit('v3', 'w-armed', 1_500));
        await tx.insertVisit(visit('v4', 'w-active', 1_500, { status: 'active', startedAt: 1_500 }));
        await tx.insertVisit(visit('v5', 'w-early', 999));
        await tx.insertVisit(visit('v6', 'w-late', 2_000));
        // Two planned visits: the worker is named once.
        await tx.insertVisit(visit('v7', 'w-two', 1_100));
        await tx.insertVisit(visit('v8', 'w-two', 1_200));
        // A visit of a worker who is not on record is not chased (the start walks the workers).
        await tx.insertVisit(visit('v9', 'w-gone', 1_500));
        await tx.scheduleWork('worker', 'w-armed', 5_000);
        // Work of another kind under the same key does not count as the worker's.
        await tx.scheduleWork('device', 'w-b', 5_000);
      });
      expect(await ctx.store.unarmedWorkersWithPlannedVisits(1_000, 2_000)).toEqual(['w-a', 'w-b', 'w-two']);
      expect(await ctx.store.unarmedWorkersWithPlannedVisits(3_000, 4_000)).toEqual([]);
    });

    it('a lease is exclusive until it ends; then another owner gets the work, and the first can no longer complete it', async () => {
      await schedule('alarm', 'a1', 100);
      const [mine] = await ctx.store.claimDue(100, 10, 'p1', LEASE);
      expect(await ctx.store.claimDue(100 + LEASE - 1, 10, 'p2', LEASE)).toEqual([]);
      // While leased, the earliest it could be claimed again is the lease's end.
      expect(await ctx.store.nextDueAt()).toBe(100 + LEASE);
      const [theirs] = await ctx.store.claimDue(100 + LEASE, 10, 'p2', LEASE);
      expect(theirs).toMatchObject({ kind: 'alarm', key: 'a1', owner: 'p2', attempts: 2 });
      expect(await ctx.store.complete(mine)).toBe(false);
      expect(await ctx.store.reschedule(mine, 5000)).toBe(false);
      expect(await ctx.store.getWork('alarm', 'a1')).toMatchObject({ dueAt: 100, attempts: 2 });
      expect(await ctx.store.complete(theirs)).toBe(true);
      expect(await ctx.store.getWork('alarm', 'a1')).toBeNull();
      expect(await ctx.store.nextDueAt()).toBeNull();
    });

    it('gen protection: work moved while it was claimed is neither completed nor rescheduled by the old claim', async () => {
      await schedule('worker', 'w1', 100);
      const [claim] = await ctx.store.claimDue(100, 10, 'p1', LEASE);
      // The state it belongs to changed meanwhile (a check-in moved the deadline).
      await schedule('worker', 'w1', 700);
      expect(await ctx.store.complete(claim)).toBe(false);
      expect(await ctx.store.transaction((tx) => tx.completeWork(claim))).toBe(false);
      expect(await ctx.store.reschedule(claim, 150)).toBe(false);
      expect(await ctx.store.getWork('worker', 'w1')).toEqual({ kind: 'worker', key: 'w1', dueAt: 700, payload: null, attempts: 0 });
      // The moved row is a fresh one: unleased, so it is claimable at its new time.
      expect(await ctx.store.nextDueAt()).toBe(700);
      expect((await ctx.store.claimDue(700, 10, 'p1', LEASE)).map((w) => w.key)).toEqual(['w1']);
    });

    it('completeWork inside a transaction removes the claimed row, and rolls back with it', async () => {
      await schedule('alarm', 'a1', 100);
      const [claim] = await ctx.store.claimDue(100, 10, 'p1', LEASE);
      await expect(
        ctx.store.transaction(async (tx) => {
          expect(await tx.completeWork(claim)).toBe(true);
          throw new Error('the step failed');
        }),
      ).rejects.toThrow('the step failed');
      expect(await ctx.store.getWork('alarm', 'a1')).not.toBeNull();
      expect(await ctx.store.transaction((tx) => tx.completeWork(claim))).toBe(true);
      expect(await ctx.store.getWork('alarm', 'a1')).toBeNull();
    });

    it('reschedule moves claimed work to a new time with a new payload, releases the lease and starts attempts again', async () => {
      await schedule('notice', 'n1', 100, { attempt: 1 });
      const [claim] = await ctx.store.claimDue(100, 10, 'p1', LEASE);
      expect(await ctx.store.reschedule(claim, 400, { attempt: 2 })).toBe(true);
      expect(await ctx.store.getWork('notice', 'n1')).toEqual({ kind: 'notice', key: 'n1', dueAt: 400, payload: { attempt: 2 }, attempts: 0 });
      expect(await ctx.store.claimDue(399, 10, 'p1', LEASE)).toEqual([]);
      expect(await ctx.store.nextDueAt()).toBe(400);
      const [again] = await ctx.store.claimDue(400, 10, 'p2', LEASE);
      expect(again).toMatchObject({ payload: { attempt: 2 }, owner: 'p2', attempts: 1 });
      // The first claim's generation is gone: it can do nothing more.
      expect(await ctx.store.reschedule(claim, 900)).toBe(false);
      // Without a payload the payload is kept.
      expect(await ctx.store.reschedule(again, 500)).toBe(true);
      expect(await ctx.store.getWork('notice', 'n1')).toMatchObject({ dueAt: 500, payload: { attempt: 2 } });
    });

    it('attempts count the claims that ended without a completion (a crashed owner, twice)', async () => {
      await schedule('effect', 'e1', 0, { type: 'alarm_changed', alarmId: 'a1' });
      await ctx.store.claimDue(10, 10, 'crashed-1', LEASE);
      await ctx.store.claimDue(10 + LEASE, 10, 'crashed-2', LEASE);
      const [third] = await ctx.store.claimDue(10 + 2 * LEASE, 10, 'p3', LEASE);
      expect(third.attempts).toBe(3);
      expect((await ctx.store.listWork('effect', 10)).map((w) => w.attempts)).toEqual([3]);
    });

    it('scheduleClaimed writes work already leased to its writer; another owner gets it only once the lease ends', async () => {
      const claim = await ctx.store.transaction((tx) => tx.scheduleClaimed('effect', 'e1', 100, { type: 'notify' }, 'p1', 100 + LEASE));
      expect(claim).toMatchObject({ kind: 'effect', key: 'e1', dueAt: 100, owner: 'p1', leaseUntil: 100 + LEASE, attempts: 1 });
      expect(await ctx.store.claimDue(100, 10, 'p2', LEASE)).toEqual([]);
      expect(await ctx.store.nextDueAt()).toBe(100 + LEASE);
      expect(await ctx.store.complete(claim)).toBe(true);
      expect(await ctx.store.nextDueAt()).toBeNull();

      const lost = await ctx.store.transaction((tx) => tx.scheduleClaimed('effect', 'e2', 100, { type: 'notify' }, 'p1', 100 + LEASE));
      const [taken] = await ctx.store.claimDue(100 + LEASE, 10, 'p2', LEASE);
      expect(taken).toMatchObject({ key: 'e2', payload: { type: 'notify' }, attempts: 2, owner: 'p2' });
      expect(await ctx.store.complete(lost)).toBe(false);
    });

    it('a deadline has no payload; scheduling again without one drops the old one; a new generation each time', async () => {
      await schedule('alarm', 'a1', 100, { stale: true });
      const [first] = await ctx.store.claimDue(100, 10, 'p1', LEASE);
      expect(first.payload).toEqual({ stale: true });
      await schedule('alarm', 'a1', 200);
      const [second] = await ctx.store.claimDue(200, 10, 'p1', LEASE);
      expect(second).toMatchObject({ payload: null, attempts: 1 });
      expect(second.gen).not.toBe(first.gen);
    });

    it('listWork: a kind\'s rows earliest due first (then key), at most the limit, leased ones too', async () => {
      await schedule('notice', 'n-b', 300);
      await schedule('notice', 'n-a', 300);
      await schedule('notice', 'n-c', 100);
      await schedule('effect', 'e1', 50);
      await ctx.store.claimDue(100, 1, 'p1', LEASE);
      expect((await ctx.store.listWork('notice', 10)).map((w) => w.key)).toEqual(['n-c', 'n-a', 'n-b']);
      expect((await ctx.store.listWork('notice', 2)).map((w) => w.key)).toEqual(['n-c', 'n-a']);
      expect((await ctx.store.listWork('effect', 10)).map((w) => [w.key, w.attempts])).toEqual([['e1', 1]]);
      expect(await ctx.store.listWork('device', 10)).toEqual([]);
      expect(await ctx.store.getWork('device', 'none')).toBeNull();
    });

    it('cancelling (dueAt null) removes the work, cancelling nothing is fine; a rolled-back schedule leaves nothing', async () => {
      await schedule('device', 'd1', 100);
      await schedule('device', 'd1', null);
      await schedule('device', 'never-there', null);
      expect(await ctx.store.getWork('device', 'd1')).toBeNull();
      await expect(
        ctx.store.transaction(async (tx) => {
          await tx.scheduleWork('device', 'd2', 100);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await ctx.store.countWork()).toBe(0);
      expect(await ctx.store.nextDueAt()).toBeNull();
    });
  });
}
