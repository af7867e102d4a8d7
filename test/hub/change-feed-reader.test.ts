// The change feed (issue 18) on a real SQLite file, its reader driven by a ManualClock: own commits
// are delivered at once, another process's at the next poll, a late subscriber gets what it missed
// in order, a subscriber behind the pruned part is told of the gap, and the feed stays bounded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hub/clock.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { ChangeFeedReader } from '../../hub/store/change-feed-reader.js';
import type { ChangeRecord } from '../../hub/store/store.js';

const DAY = 24 * 3600_000;
let dir: string;
let store: SqliteStore;
let clock: ManualClock;
let reader: ChangeFeedReader;
const opened: SqliteStore[] = [];

function makeReader(over: Partial<ConstructorParameters<typeof ChangeFeedReader>[0]> = {}): ChangeFeedReader {
  return new ChangeFeedReader({ store, clock, log: pino({ level: 'silent' }), pollMs: 1000, retentionMs: 7 * DAY, maxRows: 1000, ...over });
}

async function change(s: SqliteStore, alarmId: string, type = 'changed'): Promise<void> {
  await s.transaction((tx) => tx.appendChange({ at: clock.now(), topic: 'alarm', alarmId, detail: { type } }));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lonewatch-feed-'));
  store = new SqliteStore(join(dir, 'lonewatch.db'));
  opened.push(store);
  clock = new ManualClock();
});

afterEach(async () => {
  await reader?.stop();
  for (const s of opened.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the change feed in SQLite', () => {
  it('assigns seqs in commit order; a rolled-back transaction leaves no change', async () => {
    await change(store, 'a1');
    await store
      .transaction(async (tx) => {
        await tx.appendChange({ at: clock.now(), topic: 'alarm', alarmId: 'lost', detail: {} });
        throw new Error('refused');
      })
      .catch(() => undefined);
    await change(store, 'a2');
    const all = await store.readChanges(0, 10);
    expect(all.map((c) => [c.seq, c.alarmId])).toEqual([
      [1, 'a1'],
      [2, 'a2'],
    ]);
    expect(await store.lastChangeSeq()).toBe(2);
    expect(await store.firstChangeSeq()).toBe(1);
    expect(await store.readChanges(1, 10)).toHaveLength(1);
  });

  it('prunes by age and by row count, and never reuses a pruned seq', async () => {
    for (let i = 0; i < 5; i++) await change(store, `old-${i}`);
    clock.advance(8 * DAY);
    for (let i = 0; i < 5; i++) await change(store, `new-${i}`);
    expect(await store.pruneChanges(clock.now() - 7 * DAY, 1000)).toBe(5);
    expect(await store.pruneChanges(0, 3)).toBe(2);
    expect((await store.readChanges(0, 10)).map((c) => c.alarmId)).toEqual(['new-2', 'new-3', 'new-4']);
    await store.pruneChanges(clock.now() + 1, 1000);
    await change(store, 'after');
    // AUTOINCREMENT: the next seq follows the highest ever given, not the highest kept.
    expect((await store.readChanges(0, 10)).map((c) => c.seq)).toEqual([11]);
  });
});

describe('ChangeFeedReader', () => {
  it("delivers this process's commits at once, in order, without the clock moving", async () => {
    reader = makeReader();
    await reader.start();
    const got: ChangeRecord[] = [];
    reader.subscribe((c) => got.push(c));
    await change(store, 'a1', 'notify');
    await change(store, 'a2');
    await reader.idle();
    expect(got.map((c) => [c.seq, c.alarmId, c.detail.type])).toEqual([
      [1, 'a1', 'notify'],
      [2, 'a2', 'changed'],
    ]);
  });

  it("finds another process's commits at the next poll, not before", async () => {
    reader = makeReader({ pollMs: 1000 });
    await reader.start();
    const got: string[] = [];
    reader.subscribe((c) => got.push(c.alarmId!));
    // A second connection to the same file, as the CLI has: its commit does not wake this reader.
    const other = new SqliteStore(join(dir, 'lonewatch.db'));
    opened.push(other);
    await change(other, 'from-cli');
    await reader.idle();
    clock.advance(999);
    await reader.idle();
    expect(got).toEqual([]);
    clock.advance(1);
    await reader.idle();
    expect(got).toEqual(['from-cli']);
    // And the poll keeps coming round.
    await change(other, 'again');
    clock.advance(1000);
    await reader.idle();
    expect(got).toEqual(['from-cli', 'again']);
  });

  it('a subscriber from an older seq gets what it missed first, then live changes, each once', async () => {
    reader = makeReader({ batch: 2 });
    await reader.start();
    const live: number[] = [];
    reader.subscribe((c) => live.push(c.seq));
    for (let i = 1; i <= 5; i++) await change(store, `a${i}`);
    await reader.idle();
    const late: number[] = [];
    const sub = reader.subscribe((c) => late.push(c.seq), { after: 2 });
    expect(sub.from).toBe(2);
    await change(store, 'a6');
    await reader.idle();
    expect(late).toEqual([3, 4, 5, 6]);
    expect(live).toEqual([1, 2, 3, 4, 5, 6]);
    sub.unsubscribe();
    await change(store, 'a7');
    await reader.idle();
    expect(late).toEqual([3, 4, 5, 6]);
    expect(live).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('tells a subscriber behind the pruned part (or ahead of the store) of the gap, then carries on live', async () => {
    for (let i = 1; i <= 4; i++) await change(store, `a${i}`);
    await store.pruneChanges(0, 2); // keeps 3 and 4
    reader = makeReader();
    await reader.start();
    const got: number[] = [];
    let gaps = 0;
    reader.subscribe((c) => got.push(c.seq), { after: 1, onGap: () => gaps++ });
    await reader.idle();
    expect(gaps).toBe(1);
    expect(got).toEqual([]);
    await change(store, 'a5');
    await reader.idle();
    expect(got).toEqual([5]);

    // Exactly at the edge (after 2, oldest kept 3): nothing missed.
    const edge: number[] = [];
    reader.subscribe((c) => edge.push(c.seq), { after: 2, onGap: () => gaps++ });
    await reader.idle();
    expect(gaps).toBe(1);
    expect(edge).toEqual([3, 4, 5]);

    // A seq this database never gave (a browser's id from another hub's database).
    const stray: number[] = [];
    reader.subscribe((c) => stray.push(c.seq), { after: 99, onGap: () => gaps++ });
    await reader.idle();
    expect(gaps).toBe(2);
    await change(store, 'a6');
    await reader.idle();
    expect(stray).toEqual([6]);
  });

  it('prunes on its own timer, so the feed stays bounded', async () => {
    reader = makeReader({ retentionMs: DAY, maxRows: 1000, pruneEveryMs: 3600_000, pollMs: 3600_000 });
    await reader.start();
    for (let i = 0; i < 3; i++) await change(store, `a${i}`);
    clock.advance(DAY + 1);
    await change(store, 'fresh');
    expect(await store.firstChangeSeq()).toBe(1);
    clock.advance(3600_000);
    await reader.idle();
    // The prune runs in the timer's promise; its store call is queued on the store's lock.
    await store.read(async () => undefined);
    expect((await store.readChanges(0, 10)).map((c) => c.alarmId)).toEqual(['fresh']);
  });

  it('a subscriber that throws does not stop the others', async () => {
    reader = makeReader();
    await reader.start();
    const got: number[] = [];
    reader.subscribe(() => {
      throw new Error('broken stream');
    });
    reader.subscribe((c) => got.push(c.seq));
    await change(store, 'a1');
    await change(store, 'a2');
    await reader.idle();
    expect(got).toEqual([1, 2]);
  });

  // A store that tells of other processes' commits (PostgreSQL's LISTEN, here a second SQLite
  // connection standing in for the other node and a hand-driven notification): a busy cluster
  // notifies every node of every commit, and the reader reads at most once per listenGapMs for them.
  it("other processes' notifications are read at once, and a burst of them at most once per listenGapMs", async () => {
    const other = new SqliteStore(join(dir, 'lonewatch.db'));
    opened.push(other);
    let notify!: (seq: number) => void;
    const listening = Object.assign(Object.create(store) as SqliteStore, {
      listenChanges: async (onChange: (seq: number) => void) => {
        notify = onChange;
        onChange(await store.lastChangeSeq());
        return async () => undefined;
      },
    });
    let reads = 0;
    listening.readChanges = (after: number, limit: number) => {
      reads++;
      return store.readChanges(after, limit);
    };
    reader = new ChangeFeedReader({ store: listening, clock, log: pino({ level: 'silent' }), pollMs: 3600_000, retentionMs: 7 * DAY, maxRows: 1000, listenGapMs: 50, prune: false });
    await reader.start();
    expect(reader.listens).toBe(true);
    const got: string[] = [];
    reader.subscribe((c) => got.push(c.alarmId!));
    await change(other, 'n1');
    notify(1);
    await reader.idle();
    expect(got).toEqual(['n1']);
    expect(reads).toBe(1);
    // Three more commits notified 10 ms apart: nothing read until 50 ms after the last read, then one read.
    for (let i = 2; i <= 4; i++) {
      clock.advance(10);
      await change(other, `n${i}`);
      notify(i);
      await reader.idle();
    }
    expect(got).toEqual(['n1']);
    expect(reads).toBe(1);
    clock.advance(20);
    await reader.idle();
    expect(got).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(reads).toBe(2);
    // A notification of what was already read costs nothing.
    notify(4);
    clock.advance(100);
    await reader.idle();
    expect(reads).toBe(2);
  });
});
