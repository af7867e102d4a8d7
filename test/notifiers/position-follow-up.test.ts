/** The pure rule of the ARC's location follow-up (issue 20): when a newer fix is worth a message. */
import { describe, expect, it } from 'vitest';
import { FOLLOW_UP_AGE_MS, FOLLOW_UP_EVERY_MS, distanceM, followUpDecision } from '../../hub/notifiers/position-follow-up.js';

const given = { lat: 53.4808, lon: -2.24263, fixAt: 1_000_000 };
const later = (ms: number) => given.fixAt + ms;

describe('followUpDecision', () => {
  it('distance: 0.0009 degrees of latitude is about 100 m, 0.00003 about 3 m', () => {
    expect(distanceM(given, { lat: 53.4817, lon: -2.24263 })).toBeCloseTo(100, -1);
    expect(distanceM(given, { lat: 53.48083, lon: -2.24263 })).toBeCloseTo(3.3, 0);
  });

  it('moved 100 m after the rate limit: send; within it: not yet', () => {
    const fix = { lat: 53.4817, lon: -2.24263, fixAt: later(40_000) };
    expect(followUpDecision({ given, givenAt: given.fixAt, fix, now: later(FOLLOW_UP_EVERY_MS) })).toMatchObject({ send: true, movedM: 100 });
    expect(followUpDecision({ given, givenAt: given.fixAt, fix, now: later(FOLLOW_UP_EVERY_MS - 1) })).toMatchObject({ send: false });
  });

  it('3 m: nothing, until the ARC position is FOLLOW_UP_AGE_MS older than the fix (a restatement)', () => {
    const near = { lat: 53.48083, lon: -2.24263 };
    expect(followUpDecision({ given, givenAt: given.fixAt, fix: { ...near, fixAt: later(FOLLOW_UP_AGE_MS - 1) }, now: later(FOLLOW_UP_AGE_MS) })).toMatchObject({ send: false, why: 'moved 3 m, under 25 m' });
    expect(followUpDecision({ given, givenAt: given.fixAt, fix: { ...near, fixAt: later(FOLLOW_UP_AGE_MS) }, now: later(FOLLOW_UP_AGE_MS) })).toMatchObject({ send: true });
  });

  it('an older or equal fix never; no position before: the first fix is news', () => {
    expect(followUpDecision({ given, givenAt: 0, fix: { lat: 0, lon: 0, fixAt: given.fixAt }, now: later(600_000) })).toMatchObject({ send: false });
    expect(followUpDecision({ given: null, givenAt: 0, fix: given, now: later(60_000) })).toMatchObject({ send: true, movedM: null });
  });
});
