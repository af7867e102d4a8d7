/**
 * Clock.housekeeping (issue 18): periodic upkeep goes through the hub's clock, and a ManualClock runs
 * it at the end of an advance instead of making every period a stop for advanceHub.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../hub/clock.js';

describe('ManualClock housekeeping', () => {
  it('is not a timer: nextDueAt and pending ignore it, so advanceHub never stops for it', () => {
    const clock = new ManualClock(0);
    clock.housekeeping(() => {}, 250);
    expect(clock.nextDueAt()).toBeNull();
    expect(clock.pending()).toBe(0);
    expect(clock.housekeepingTasks()).toBe(1);
  });

  it('runs once at the end of an advance spanning many periods, with now() the target', () => {
    const clock = new ManualClock(0);
    const runs: number[] = [];
    clock.housekeeping(() => runs.push(clock.now()), 250);
    clock.advance(3_600_000);
    expect(runs).toEqual([3_600_000]);
  });

  it('waits for a whole period since its last run, across several advances', () => {
    const clock = new ManualClock(0);
    const runs: number[] = [];
    clock.housekeeping(() => runs.push(clock.now()), 250);
    clock.advance(0);
    clock.advance(100);
    clock.advance(149);
    expect(runs).toEqual([]);
    clock.advance(1);
    expect(runs).toEqual([250]);
    clock.advance(249);
    expect(runs).toEqual([250]);
    clock.advance(1);
    expect(runs).toEqual([250, 500]);
  });

  it('runs after the timers that fell due in the same advance', () => {
    const clock = new ManualClock(0);
    const order: string[] = [];
    clock.housekeeping(() => order.push(`chore@${clock.now()}`), 100);
    clock.setTimer(() => order.push(`timer@${clock.now()}`), 500);
    clock.advance(1000);
    expect(order).toEqual(['timer@500', 'chore@1000']);
  });

  it('stops when cancelled, also from inside another task of the same advance', () => {
    const clock = new ManualClock(0);
    const runs: string[] = [];
    let second = { cancel: () => {} };
    clock.housekeeping(() => {
      runs.push('first');
      second.cancel();
    }, 10);
    second = clock.housekeeping(() => runs.push('second'), 10);
    clock.advance(10);
    expect(runs).toEqual(['first']);
    expect(clock.housekeepingTasks()).toBe(1);
  });

  it('refuses a period that is not above 0 ms, on either clock', () => {
    expect(() => new ManualClock(0).housekeeping(() => {}, 0)).toThrow(/above 0 ms/);
    expect(() => systemClock.housekeeping(() => {}, Number.NaN)).toThrow(/above 0 ms/);
  });
});
