/**
 * Drives a hub on a ManualClock: runs everything now due to completion, or moves the clock forward
 * stopping at every timer on the way. Time-warped scenarios (`lonewatch sim`) and the tests use it;
 * it is not a method of the Hub (issue 18: no test-only methods in production classes), it only
 * uses the parts the hub exposes.
 */
import { ManualClock, type Clock } from '../hub/clock.js';

/** The parts of a running hub that settling waits on. */
export interface DrivableHub {
  readonly clock: Clock;
  readonly ingest: { flush(): Promise<void> };
  readonly runtime: { idle(): Promise<void> };
}

/**
 * Runs to completion everything now due: buffered heartbeats, rule processing, and (with a
 * ManualClock) deadlines that this work armed for "now". `rounds` bounds the chain of work that
 * arms more work for the same instant.
 */
export async function settleHub(hub: DrivableHub, rounds = 20): Promise<void> {
  const manual = hub.clock instanceof ManualClock ? hub.clock : null;
  for (let i = 0; i < rounds; i++) {
    await hub.ingest.flush();
    await hub.runtime.idle();
    await new Promise((r) => setImmediate(r));
    manual?.advance(0);
    await hub.runtime.idle();
  }
}

/**
 * Moves the hub's ManualClock forward by ms, stopping at every timer on the way and settling there,
 * so work happens at the time it fell due, as it would on a real clock.
 */
export async function advanceHub(hub: DrivableHub, ms: number): Promise<void> {
  if (!(hub.clock instanceof ManualClock)) throw new Error('advanceHub needs a hub started with a ManualClock (Hub.start({ clock: new ManualClock() }))');
  const clock = hub.clock;
  const target = clock.now() + ms;
  await settleHub(hub);
  for (let next = clock.nextDueAt(); next !== null && next <= target; next = clock.nextDueAt()) {
    clock.advanceTo(next);
    await settleHub(hub);
  }
  clock.advanceTo(target);
  await settleHub(hub);
}
