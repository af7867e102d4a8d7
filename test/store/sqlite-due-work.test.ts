// The due-work contract on the SQLite store, and the v6 -> v7 migration: an old database's deadlines
// (kept beside their state) and the effects a crash left pending become due work, so it resumes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { SCHEMA_SQL, SCHEMA_V2_SQL, SCHEMA_V3_SQL, SCHEMA_V4_SQL, SCHEMA_V5_SQL, SCHEMA_V6_SQL, SCHEMA_VERSION } from '../../hub/store/sqlite-schema.js';
import { describeDueWorkContract } from './due-work-contract.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDb = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-due-work-'));
  dirs.push(dir);
  return join(dir, 'lonewatch.db');
};

describeDueWorkContract('SQLite (file)', async () => {
  const file = tempDb();
  return { open: async () => new SqliteStore(file), dispose: async () => undefined };
});
describeDueWorkContract('SQLite (:memory:)', async () => ({ open: async () => new SqliteStore(':memory:'), dispose: async () => undefined }));

describe('SQLite schema v6 -> current (v7 step)', () => {
  it('turns the deadlines kept beside their state and the pending effects into due work, and drops pending_effects', async () => {
    const path = tempDb();
    const old = new Database(path);
    // A version-6 database, made by the SQL that made one.
    old.exec(SCHEMA_SQL + SCHEMA_V2_SQL + SCHEMA_V3_SQL + SCHEMA_V4_SQL + SCHEMA_V5_SQL + SCHEMA_V6_SQL);
    old.pragma('user_version = 6');
    old
      .prepare(
        `INSERT INTO alarms (id, kind, state, priority, worker_id, device_id, reason, raised_at, drill, policy, level, round, next_step_at, due_at)
         VALUES (?, 'sos', 'notifying', 1, 'w1', NULL, 'old', 1000, 0, '{}', 1, 0, ?, ?)`,
      )
      .run('a-open', 5000, 5000);
    old
      .prepare(
        `INSERT INTO alarms (id, kind, state, priority, worker_id, device_id, reason, raised_at, drill, policy, level, round, next_step_at, due_at)
         VALUES ('a-closed', 'sos', 'resolved', 1, 'w1', NULL, 'old', 1000, 0, '{}', 1, 0, NULL, NULL)`,
      )
      .run();
    old.prepare('INSERT INTO worker_state (worker_id, state, due_at) VALUES (?, ?, ?)').run('w1', '{}', 7000);
    old.prepare('INSERT INTO worker_state (worker_id, state, due_at) VALUES (?, ?, NULL)').run('w2', '{}');
    old.prepare('INSERT INTO device_health (device_id, state, due_at) VALUES (?, ?, ?)').run('d1', '{}', 6000);
    old.prepare('INSERT INTO pending_effects (effect) VALUES (?)').run(JSON.stringify({ type: 'notify', alarmId: 'a-open', level: 1 }));
    old.prepare('INSERT INTO pending_effects (effect) VALUES (?)').run(JSON.stringify({ type: 'alarm_changed', alarmId: 'a-open' }));
    old.close();

    const store = new SqliteStore(path);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const tables = (store.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name);
      expect(tables).not.toContain('pending_effects');
      expect(await store.getWork('alarm', 'a-open')).toEqual({ kind: 'alarm', key: 'a-open', dueAt: 5000, payload: null, attempts: 0 });
      expect(await store.getWork('alarm', 'a-closed')).toBeNull();
      expect(await store.getWork('worker', 'w1')).toMatchObject({ dueAt: 7000 });
      expect(await store.getWork('worker', 'w2')).toBeNull();
      expect(await store.getWork('device', 'd1')).toMatchObject({ dueAt: 6000 });
      // The effects are due at once and keep their order: they run first, as the start-up re-run did.
      const effects = await store.listWork('effect', 10);
      expect(effects.map((e) => [e.dueAt, (e.payload as { type: string }).type])).toEqual([
        [0, 'notify'],
        [0, 'alarm_changed'],
      ]);
      const claimed = await store.claimDue(8000, 10, 'p1', 1000);
      expect(claimed.map((w) => `${w.kind}:${w.key}`)).toEqual(['effect:p000000000001', 'effect:p000000000002', 'alarm:a-open', 'device:d1', 'worker:w1']);
    } finally {
      await store.close();
    }
  });
});
