/**
 * Visits recorded while no hub ran (`lonewatch visits import` writes the database file when no hub
 * answers its control socket) have no deadline yet: the hub's start steps each such worker once, so
 * a visit never started is still chased (issue 15 item 6; hub/rules/rules-runtime.ts `start`). The
 * start finds them in one query (Store.unarmedWorkersWithPlannedVisits) where it used to ask worker
 * by worker, which kept a cluster worker restarted on 51,100 workers from being ready for 90 s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { ManualClock } from '../../hub/clock.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { visit, worker } from '../store/store-contract.js';

let t: TestHub | null = null;
afterEach(async () => {
  await t?.stop();
  t = null;
});

describe('hub start with visits recorded while it was down', () => {
  it('arms the worker with a planned visit today, and leaves alone one without and one already armed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-start-visits-'));
    const clock = new ManualClock(Date.parse('2026-12-03T09:00:00Z'));
    // First start makes the database; then the hub is down while the visits are recorded.
    t = await startTestHub({ dataDir, clock });
    await t.stop();
    t = null;
    const now = clock.now();
    const store = new SqliteStore(join(dataDir, 'lonewatch.db'));
    await store.transaction(async (tx) => {
      for (const id of ['w-planned', 'w-idle', 'w-armed']) await tx.upsertWorker(worker(id, id));
      await tx.insertVisit(visit('v-1', 'w-planned', now + 30 * 60_000));
      await tx.insertVisit(visit('v-2', 'w-armed', now + 30 * 60_000));
      await tx.scheduleWork('worker', 'w-armed', now + 999_000);
    });
    await store.close();

    t = await startTestHub({ dataDir, clock });
    const armed = await t.hub.store.getWork('worker', 'w-planned');
    expect(armed).not.toBeNull();
    // Chased from the visit's start on, not before it is due.
    expect(armed!.dueAt).toBeGreaterThanOrEqual(now + 30 * 60_000);
    expect(await t.hub.store.getWork('worker', 'w-idle')).toBeNull();
    // Already armed: not stepped again, its deadline as it was.
    expect((await t.hub.store.getWork('worker', 'w-armed'))?.dueAt).toBe(now + 999_000);
  });
});
