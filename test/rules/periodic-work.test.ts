// Periodic pruning and the covert call-back as due work (issue 18: the store is the only scheduler):
// a periodic row runs once per period whichever of two processes on the same store claims it, and
// survives restarts shorter than its period; the call-back's row is written with its note, moved by a
// newer one, dropped by callback_done, and records callback_due once. Real SQLite, ManualClock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hub/clock.js';
import { silentLogger } from '../../hub/logger.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { DueWorkLoop } from '../../hub/rules/due-work-loop.js';
import { armPeriodic, runPeriodic, type PeriodicJob } from '../../hub/rules/periodic-work.js';
import { callbackStillPending, callbackWorkFor, pendingCallbackAt, recordCallbackDue } from '../../hub/rules/callback-due.js';
import type { StoredTimelineEntry } from '../../hub/store/store-types.js';
import { alarm } from '../store/store-contract.js';

const HOUR = 3600_000;
const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sharedFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lw-periodic-'));
  dirs.push(dir);
  return join(dir, 'lonewatch.db');
}

function open(file: string): SqliteStore {
  const s = new SqliteStore(file);
  stores.push(s);
  return s;
}

/** A process: its store handle, a loop with the periodic handler, and its job counting runs. */
function node(file: string, clock: ManualClock, owner: string, runs: string[]) {
  const store = open(file);
  const job: PeriodicJob = { key: 'positions', everyMs: HOUR, what: 'deleting old positions', run: async () => void runs.push(`${owner}@${clock.now()}`) };
  const jobs = new Map([[job.key, job]]);
  const loop = new DueWorkLoop({ store, clock, log: silentLogger, owner, handlers: { periodic: (w) => runPeriodic(store, jobs, silentLogger, () => clock.now(), w) }, pollMs: 60_000 });
  return { store, loop, jobs };
}

describe('periodic jobs as due work', () => {
  it('two processes on one store run an hourly job once an hour between them, not once each', async () => {
    const file = sharedFile();
    const clock = new ManualClock(1_000_000);
    const runs: string[] = [];
    const a = node(file, clock, 'a', runs);
    const b = node(file, clock, 'b', runs);
    // As RulesRuntime.start does: the rows first, then the loop.
    for (const n of [a, b]) {
      await armPeriodic(n.store, n.jobs.values(), clock.now());
      await n.loop.start();
    }
    await a.loop.whenDrained();
    await b.loop.whenDrained();
    for (let i = 0; i < 3 * 60; i++) {
      clock.advance(60_000);
      await a.loop.whenDrained();
      await b.loop.whenDrained();
    }
    // At the start (no row yet: due now), then at +1 h, +2 h and +3 h: four runs in all.
    expect(runs.map((r) => Number(r.split('@')[1]) - 1_000_000)).toEqual([0, HOUR, 2 * HOUR, 3 * HOUR]);
    expect(await a.store.listWork('periodic', 10)).toEqual([expect.objectContaining({ key: 'positions', dueAt: 1_000_000 + 4 * HOUR })]);
    await a.loop.stop();
    await b.loop.stop();
  });

  it('a restart finds the row where it was: restarted every 40 minutes, the job still runs hourly', async () => {
    const file = sharedFile();
    const clock = new ManualClock(5_000_000);
    const runs: string[] = [];
    for (let life = 0; life < 4; life++) {
      const n = node(file, clock, `life${life}`, runs);
      await armPeriodic(n.store, n.jobs.values(), clock.now());
      await n.loop.start();
      await n.loop.whenDrained();
      for (let m = 0; m < 40; m++) {
        clock.advance(60_000);
        await n.loop.whenDrained();
      }
      await n.loop.stop();
    }
    // 160 minutes: runs at 0, 60 and 120 minutes; a timer re-armed at each start would have run none after the first.
    expect(runs.map((r) => (Number(r.split('@')[1]) - 5_000_000) / 60_000)).toEqual([0, 60, 120]);
  });

  it('a failing job is logged and moved on by its period; a key this process has no job for is handed back in a minute', async () => {
    const store = open(':memory:');
    const clock = new ManualClock(0);
    await store.transaction((tx) => tx.scheduleWork('periodic', 'positions', 0));
    await store.transaction((tx) => tx.scheduleWork('periodic', 'notices', 0));
    const failing: PeriodicJob = { key: 'positions', everyMs: HOUR, what: 'x', run: () => Promise.reject(new Error('disk full')) };
    for (const w of await store.claimDue(0, 10, 'me', 10_000)) await runPeriodic(store, new Map([['positions', failing]]), silentLogger, () => clock.now(), w);
    expect((await store.listWork('periodic', 10)).map((w) => [w.key, w.dueAt])).toEqual([
      ['notices', 60_000],
      ['positions', HOUR],
    ]);
  });
});

const entry = (type: string, detail: Record<string, unknown> = {}, at = 0): StoredTimelineEntry => ({ at, type, actor: 'user:dana', detail }) as StoredTimelineEntry;

describe('the covert call-back as due work', () => {
  it('the timeline says which call-back is pending', () => {
    expect(pendingCallbackAt([])).toBeNull();
    expect(pendingCallbackAt([entry('callback_scheduled', { dueAt: 10 }), entry('callback_scheduled', { dueAt: 20 })])).toBe(20);
    expect(pendingCallbackAt([entry('callback_scheduled', { dueAt: 10 }), entry('callback_done')])).toBeNull();
    expect(callbackStillPending([entry('callback_scheduled', { dueAt: 10 })], 10)).toBe(true);
    expect(callbackStillPending([entry('callback_scheduled', { dueAt: 10 }), entry('callback_scheduled', { dueAt: 20 })], 10)).toBe(false);
    expect(callbackStillPending([entry('callback_scheduled', { dueAt: 10 }), { ...entry('callback_due', { dueAt: 10 }), actor: 'hub' }], 10)).toBe(false);
  });

  it('a note arms, moves or drops the row; other notes leave it', () => {
    expect(callbackWorkFor('callback_scheduled', { dueAt: 300_000 })).toEqual({ dueAt: 300_000 });
    expect(callbackWorkFor('callback_done', {})).toEqual({ dueAt: null });
    expect(callbackWorkFor('script_answer', { question: 'q1', answer: 'yes' })).toBeUndefined();
    expect(callbackWorkFor('callback_scheduled', { dueAt: 'soon' })).toBeUndefined();
  });

  it('recorded due once, in the transaction that completes the row: a second claim of the same row finds it recorded', async () => {
    const store = open(':memory:');
    await store.transaction(async (tx) => {
      await tx.insertAlarm(alarm('a1', { kind: 'covert_sos', workerId: null, deviceId: null }));
      await tx.appendTimeline('a1', [{ at: 0, type: 'callback_scheduled', actor: 'user:dana', detail: { dueAt: 300_000 } }]);
      await tx.scheduleWork('callback', 'a1', 300_000, { dueAt: 300_000 });
    });
    const [claimed] = await store.claimDue(300_000, 10, 'me', 10_000);
    expect(claimed).toMatchObject({ kind: 'callback', key: 'a1' });
    await recordCallbackDue(store, silentLogger, 300_000, claimed!);
    // A process that claimed it too (its lease had run out) and fires late records nothing more.
    await recordCallbackDue(store, silentLogger, 301_000, claimed!);
    const due = (await store.read((tx) => tx.getTimeline('a1'))).filter((e) => e.type === 'callback_due');
    expect(due).toEqual([expect.objectContaining({ actor: 'hub', at: 300_000, detail: { dueAt: 300_000 } })]);
    expect(await store.countWork()).toBe(0);
  });
});
