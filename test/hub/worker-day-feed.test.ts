// The workers board follows the change feed only (issue 15): a worker's day that changes is a
// `worker` change (RulesRuntime.stepWorker), and a step that changes nothing writes none, so the
// bounded feed is not filled by steps that change nothing. Real hub, real SQLite, the hub's clock.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';

let t: TestHub | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});

const workerChanges = async (hub: TestHub, after: number) =>
  (await hub.hub.store.readChanges(after, 100)).filter((c) => c.topic === 'worker').map((c) => c.detail);

describe('a worker day on the change feed', () => {
  it('a visit start, a check-in and an end of shift are each a worker change; a step that changes nothing is none', async () => {
    const hub = (t = await startTestHub());
    await hub.addWorker('sam');
    await hub.addVisit({ workerId: 'sam', ref: 'V-1', expectedEnd: hub.clock.now() + 60 * 60_000 });
    let seq = await hub.hub.store.lastChangeSeq();

    await hub.hub.runtime.workerAction('sam', { type: 'visit_start', ref: 'V-1', source: 'test' });
    expect(await workerChanges(hub, seq)).toEqual([{ workerId: 'sam', change: 'day' }]);

    seq = await hub.hub.store.lastChangeSeq();
    await hub.hub.runtime.workerAction('sam', { type: 'checkin', source: 'fob' });
    expect(await workerChanges(hub, seq)).toEqual([{ workerId: 'sam', change: 'day' }]);

    // Nothing about sam's day changed: no change on the feed.
    seq = await hub.hub.store.lastChangeSeq();
    await hub.hub.runtime.workerAction('sam', { type: 'itinerary_changed' });
    expect(await workerChanges(hub, seq)).toEqual([]);

    await hub.hub.runtime.workerAction('sam', { type: 'end_of_shift', source: 'test' });
    expect(await workerChanges(hub, seq)).toEqual([{ workerId: 'sam', change: 'day' }]);
  });
});
