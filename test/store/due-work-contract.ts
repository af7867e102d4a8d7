/**
 * The contract every Store's leased due work must keep (issue 18), whatever the database: SQLite runs
 * it in sqlite-due-work.test.ts, and a PostgreSQL store (issue 19) is held to the same suite. Times
 * are plain numbers handed in as `now`: the store never reads a clock, so nothing here sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../hub/store/store.js';

const LEASE = 1000;

export function describeDueWorkContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`${name}: leased due work (contract)`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    const schedule = (kind: 'alarm' | 'worker' | 'device' | 'effect' | 'notice', key: string, dueAt: number | null, payload?: unknown) =>
      store.transaction((tx) => tx.scheduleWork(kind, key, dueAt, payload));

    it('claims only what is due, earliest first (then kind, then key), at most the limit, and says when the next is due', async () => {
      expect(await store.nextDueAt()).toBeNull();
      await schedule('worker', 'w2', 300);
      await schedule('alarm', 'a1', 200);
      await schedule('worker', 'w1', 200);
      await schedule('effect', 'e1', 100, { type: 'notify', level: 1 });
      await schedule('device', 'd1', 900);
      expect(await store.nextDueAt()).toBe(100);
      expect(await store.countWork()).toBe(5);
      expect(await store.countWork(250)).toBe(3);
      expect(await store.countWork(250, ['alarm', 'worker', 'device'])).toBe(2);

      const first = await store.claimDue(250, 2, 'p1', LEASE);
      expect(first.map((w) => `${w.kind}:${w.key}`)).toEqual(['effect:e1', 'alarm:a1']);
      expect(first[0]).toMatchObject({ dueAt: 100, payload: { type: 'notify', level: 1 }, owner: 'p1', leaseUntil: 250 + LEASE, attempts: 1 });
      const second = await store.claimDue(250, 10, 'p1', LEASE);
      expect(second.map((w) => `${w.kind}:${w.key}`)).toEqual(['worker:w1']);
      expect(await store.claimDue(250, 10, 'p1', LEASE)).toEqual([]);
      // Unleased w2 at 300 comes before the leased rows' lease ends (1200, 1250).
      expect(await store.nextDueAt()).toBe(300);
    });

    it('a lease is exclusive until it ends; then another owner gets the work, and the first can no longer complete it', async () => {
      await schedule('alarm', 'a1', 100);
      const [mine] = await store.claimDue(100, 10, 'p1', LEASE);
      expect(await store.claimDue(100 + LEASE - 1, 10, 'p2', LEASE)).toEqual([]);
      // While leased, the earliest it could be claimed again is the lease's end.
      expect(await store.nextDueAt()).toBe(100 + LEASE);
      const [theirs] = await store.claimDue(100 + LEASE, 10, 'p2', LEASE);
      expect(theirs).toMatchObject({ kind: 'alarm', key: 'a1', owner: 'p2', attempts: 2 });
      expect(await store.complete(mine)).toBe(false);
      expect(await store.reschedule(mine, 5000)).toBe(false);
      expect(await store.getWork('alarm', 'a1')).toMatchObject({ dueAt: 100, attempts: 2 });
      expect(await store.complete(theirs)).toBe(true);
      expect(await store.getWork('alarm', 'a1')).toBeNull();
      expect(await store.nextDueAt()).toBeNull();
    });

    it('gen protection: work moved while it was claimed is neither completed nor rescheduled by the old claim', async () => {
      await schedule('worker', 'w1', 100);
      const [claim] = await store.claimDue(100, 10, 'p1', LEASE);
      // The state it belongs to changed meanwhile (a check-in moved the deadline).
      await schedule('worker', 'w1', 700);
      expect(await store.complete(claim)).toBe(false);
      expect(await store.transaction((tx) => tx.completeWork(claim))).toBe(false);
      expect(await store.reschedule(claim, 150)).toBe(false);
      expect(await store.getWork('worker', 'w1')).toEqual({ kind: 'worker', key: 'w1', dueAt: 700, payload: null, attempts: 0 });
      // The moved row is a fresh one: unleased, so it is claimable at its new time.
      expect(await store.nextDueAt()).toBe(700);
      expect((await store.claimDue(700, 10, 'p1', LEASE)).map((w) => w.key)).toEqual(['w1']);
    });

    it('completeWork inside a transaction removes the claimed row, and rolls back with it', async () => {
      await schedule('alarm', 'a1', 100);
      const [claim] = await store.claimDue(100, 10, 'p1', LEASE);
      await expect(
        store.transaction(async (tx) => {
          expect(await tx.completeWork(claim)).toBe(true);
          throw new Error('the step failed');
        }),
      ).rejects.toThrow('the step failed');
      expect(await store.getWork('alarm', 'a1')).not.toBeNull();
      expect(await store.transaction((tx) => tx.completeWork(claim))).toBe(true);
      expect(await store.getWork('alarm', 'a1')).toBeNull();
    });

    it('reschedule moves claimed work to a new time with a new payload, releases the lease and starts attempts again', async () => {
      await schedule('notice', 'n1', 100, { attempt: 1 });
      const [claim] = await store.claimDue(100, 10, 'p1', LEASE);
      expect(await store.reschedule(claim, 400, { attempt: 2 })).toBe(true);
      expect(await store.getWork('notice', 'n1')).toEqual({ kind: 'notice', key: 'n1', dueAt: 400, payload: { attempt: 2 }, attempts: 0 });
      expect(await store.claimDue(399, 10, 'p1', LEASE)).toEqual([]);
      expect(await store.nextDueAt()).toBe(400);
      const [again] = await store.claimDue(400, 10, 'p2', LEASE);
      expect(again).toMatchObject({ payload: { attempt: 2 }, owner: 'p2', attempts: 1 });
      // The first claim's generation is gone: it can do nothing more.
      expect(await store.reschedule(claim, 900)).toBe(false);
      // Without a payload the payload is kept.
      expect(await store.reschedule(again, 500)).toBe(true);
      expect(await store.getWork('notice', 'n1')).toMatchObject({ dueAt: 500, payload: { attempt: 2 } });
    });

    it('attempts count the claims that ended without a completion (a crashed owner, twice)', async () => {
      await schedule('effect', 'e1', 0, { type: 'alarm_changed', alarmId: 'a1' });
      await store.claimDue(10, 10, 'crashed-1', LEASE);
      await store.claimDue(10 + LEASE, 10, 'crashed-2', LEASE);
      const [third] = await store.claimDue(10 + 2 * LEASE, 10, 'p3', LEASE);
      expect(third.attempts).toBe(3);
      expect((await store.listWork('effect', 10)).map((w) => w.attempts)).toEqual([3]);
    });

    it('scheduleClaimed writes work already leased to its writer; another owner gets it only once the lease ends', async () => {
      const claim = await store.transaction((tx) => tx.scheduleClaimed('effect', 'e1', 100, { type: 'notify' }, 'p1', 100 + LEASE));
      expect(claim).toMatchObject({ kind: 'effect', key: 'e1', dueAt: 100, owner: 'p1', leaseUntil: 100 + LEASE, attempts: 1 });
      expect(await store.claimDue(100, 10, 'p2', LEASE)).toEqual([]);
      expect(await store.nextDueAt()).toBe(100 + LEASE);
      expect(await store.complete(claim)).toBe(true);
      expect(await store.nextDueAt()).toBeNull();

      const lost = await store.transaction((tx) => tx.scheduleClaimed('effect', 'e2', 100, { type: 'notify' }, 'p1', 100 + LEASE));
      const [taken] = await store.claimDue(100 + LEASE, 10, 'p2', LEASE);
      expect(taken).toMatchObject({ key: 'e2', payload: { type: 'notify' }, attempts: 2, owner: 'p2' });
      expect(await store.complete(lost)).toBe(false);
    });

    it('cancelling (dueAt null) removes the work; a rolled-back schedule leaves nothing', async () => {
      await schedule('device', 'd1', 100);
      await schedule('device', 'd1', null);
      expect(await store.getWork('device', 'd1')).toBeNull();
      await expect(
        store.transaction(async (tx) => {
          await tx.scheduleWork('device', 'd2', 100);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await store.countWork()).toBe(0);
      expect(await store.nextDueAt()).toBeNull();
    });
  });
}
