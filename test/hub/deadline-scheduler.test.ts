// The deadline scheduler's catch-up (issue 17 item 4): overdue keys fire in due order, each once, in
// batches that yield to the event loop, so other work (a new SOS, /healthz) runs in between.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../hub/clock.js';
import { DeadlineScheduler } from '../../hub/rules/deadline-scheduler.js';

describe('DeadlineScheduler catch-up', () => {
  it('10,000 overdue keys: due order, each once, and a macrotask queued at the start runs while most are still left', async () => {
    const clock = new ManualClock(1_000_000);
    const fired: string[] = [];
    const sched = new DeadlineScheduler(
      clock,
      async (key) => {
        fired.push(key);
        await Promise.resolve(); // asynchronous work, like the store transaction of a step
      },
      { maxPerBatch: 50, maxBatchMs: 1000, yieldTurns: 1 },
    );
    // Armed in a scrambled order, due over the past 10,000 ms; one key moved, one cancelled.
    const want: string[] = [];
    for (let i = 0; i < 10_000; i++) want.push(`worker:w${i}`);
    for (let j = 0; j < 10_000; j++) {
      const i = (j * 7919) % 10_000;
      sched.set(`worker:w${i}`, 990_000 + i);
    }
    sched.set('worker:w5', 990_000 + 9_999.5); // moved: fires after w9999
    sched.set('worker:w6', null); // cancelled: never fires
    sched.set('worker:later', 2_000_000); // not due
    want.splice(want.indexOf('worker:w5'), 1);
    want.splice(want.indexOf('worker:w6'), 1);
    want.splice(want.indexOf('worker:w9999') + 1, 0, 'worker:w5');

    let seenBetween: { fired: number; left: number } | null = null;
    setImmediate(() => {
      seenBetween = { fired: fired.length, left: sched.overdueLeft };
    });
    sched.fireDue();
    expect(sched.busy).toBe(true);
    expect(sched.overdueLeft).toBe(9_999 - 1); // 9,999 due (w6 cancelled); the first went at once
    await sched.whenDrained();

    expect(fired).toEqual(want);
    expect(new Set(fired).size).toBe(fired.length);
    expect(seenBetween).not.toBeNull();
    expect(seenBetween!.fired).toBeLessThanOrEqual(50);
    expect(seenBetween!.left).toBe(9_999 - seenBetween!.fired);
    expect(sched.overdueLeft).toBe(0);
    expect(sched.busy).toBe(false);
    // The one not due is still armed for its time.
    expect(sched.size).toBe(1);
    expect(clock.nextDueAt()).toBe(2_000_000);
    clock.advanceTo(2_000_000);
    await sched.whenDrained();
    expect(fired.at(-1)).toBe('worker:later');
  });

  it('a key that fails does not stall the rest; keys set during a drain for "now" fire in the same drain', async () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    const sched = new DeadlineScheduler(
      clock,
      (key) => {
        fired.push(key);
        if (key === 'a:2') sched.set('a:new', 0);
        if (key === 'a:1') return Promise.reject(new Error('store busy'));
        if (key === 'a:3') throw new Error('bad row');
      },
      { maxPerBatch: 2, maxBatchMs: 1000, yieldTurns: 1 },
    );
    for (let i = 1; i <= 5; i++) sched.set(`a:${i}`, -10 + i);
    sched.fireDue();
    await sched.whenDrained();
    expect(fired).toEqual(['a:1', 'a:2', 'a:3', 'a:4', 'a:5', 'a:new']);
  });

  it('stop ends a drain between keys', async () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    const sched = new DeadlineScheduler(clock, async (key) => {
      fired.push(key);
      if (fired.length === 3) sched.stop();
    });
    for (let i = 0; i < 100; i++) sched.set(`k:${i}`, -100 + i);
    sched.fireDue();
    await sched.whenDrained();
    expect(fired).toEqual(['k:0', 'k:1', 'k:2']);
  });
});
