// A database from before the dashboard (schema version 1) gains the users, sessions and API tokens
// tables on start-up, keeping everything it had.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { SCHEMA_SQL, SCHEMA_VERSION } from '../../hub/store/sqlite-schema.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('migrates a version 1 database to the current version', async () => {
  dir = mkdtempSync(join(tmpdir(), 'lonewatch-migrate-'));
  const file = join(dir, 'lonewatch.db');
  const old = new Database(file);
  old.exec(SCHEMA_SQL);
  old.pragma('user_version = 1');
  old.prepare("INSERT INTO workers (id, name, new_starter) VALUES ('sam', 'Sam Carter', 0)").run();
  old.close();

  const store = new SqliteStore(file);
  expect(await store.read((tx) => tx.getWorker('sam'))).toMatchObject({ name: 'Sam Carter' });
  await store.transaction((tx) => tx.insertUser({ username: 'ada', name: 'Ada', role: 'admin', passwordHash: 'x', createdAt: 1, disabledAt: null, workerId: null }));
  expect(await store.read((tx) => tx.listUsers())).toHaveLength(1);
  await store.close();
  const check = new Database(file);
  expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  check.close();
});
