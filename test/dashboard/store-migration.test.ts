// A database from before the dashboard (schema version 1) gains the users, sessions and API tokens
// tables on start-up, keeping everything it had.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { SCHEMA_SQL, SCHEMA_V2_SQL, SCHEMA_V3_SQL, SCHEMA_V4_SQL, SCHEMA_V5_SQL, SCHEMA_V6_SQL, SCHEMA_VERSION } from '../../hub/store/sqlite-schema.js';
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
  // Version 12: one worker's devices by index (Store.listWorkerDevices), used by the query itself.
  expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'devices'").all()).toContainEqual({ name: 'devices_worker' });
  expect(JSON.stringify(check.prepare("EXPLAIN QUERY PLAN SELECT * FROM devices WHERE worker_id = ? ORDER BY id").all('sam'))).toContain('devices_worker');
  check.close();
});

it('migrates a version 4 database: workers gain a description, visits a contact, alarms an outcome and the worker-cancel time (issue 15)', async () => {
  dir = mkdtempSync(join(tmpdir(), 'lonewatch-migrate-'));
  const file = join(dir, 'lonewatch.db');
  const old = new Database(file);
  old.exec(SCHEMA_SQL + SCHEMA_V2_SQL + SCHEMA_V3_SQL + SCHEMA_V4_SQL);
  old.pragma('user_version = 4');
  old.prepare("INSERT INTO workers (id, name, new_starter, medical_notes) VALUES ('sam', 'Sam Carter', 0, 'asthma')").run();
  old.prepare("INSERT INTO visits (id, worker_id, ref, scheduled_start, expected_end, risk_category, rag, status) VALUES ('v1', 'sam', 'V-1', 1, 2, 1, 'green', 'planned')").run();
  old.close();

  const store = new SqliteStore(file);
  expect(await store.read((tx) => tx.getWorker('sam'))).toMatchObject({ medicalNotes: 'asthma', description: null });
  expect(await store.read((tx) => tx.getVisit('v1'))).toMatchObject({ ref: 'V-1', contactName: null, contactPhone: null });
  await store.transaction((tx) => tx.updateVisit('v1', { contactName: 'Mrs Jones', contactPhone: '01632 960333' }));
  expect(await store.read((tx) => tx.getVisit('v1'))).toMatchObject({ contactName: 'Mrs Jones', contactPhone: '01632 960333' });
  await store.close();
  const check = new Database(file);
  expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  expect((check.prepare('PRAGMA table_info(alarms)').all() as { name: string }[]).map((c) => c.name)).toEqual(expect.arrayContaining(['outcome', 'worker_cancelled_at']));
  check.close();
});

it('migrates a version 6 database to 10: each worker\'s emergency-contacts text becomes records, and the text is kept (issue 15 item 13)', async () => {
  dir = mkdtempSync(join(tmpdir(), 'lonewatch-migrate-'));
  const file = join(dir, 'lonewatch.db');
  const old = new Database(file);
  old.exec(SCHEMA_SQL + SCHEMA_V2_SQL + SCHEMA_V3_SQL + SCHEMA_V4_SQL + SCHEMA_V5_SQL + SCHEMA_V6_SQL);
  old.pragma('user_version = 6');
  const text = 'Ravi Khan (brother): 07700 900002\nPartner 07700 900456\nask at the corner shop';
  old.prepare("INSERT INTO workers (id, name, new_starter, emergency_contacts) VALUES ('ali', 'Ali Khan', 0, ?)").run(text);
  old.prepare("INSERT INTO workers (id, name, new_starter, emergency_contacts) VALUES ('bo', 'Bo Lind', 0, NULL)").run();
  old.close();

  const store = new SqliteStore(file);
  expect(await store.read((tx) => tx.listEmergencyContacts('ali'))).toEqual([
    { name: 'Ravi Khan', relationship: 'brother', phone: '07700 900002' },
    { name: 'Partner', relationship: null, phone: '07700 900456' },
    // A line with no number keeps all its words as the name: nothing is dropped.
    { name: 'ask at the corner shop', relationship: null, phone: null },
  ]);
  expect(await store.read((tx) => tx.listEmergencyContacts('bo'))).toEqual([]);
  // The old text stays, to be read beside the records until an admin clears it.
  expect((await store.read((tx) => tx.getWorker('ali')))!.emergencyContacts).toBe(text);
  await store.close();
  const check = new Database(file);
  expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  check.close();
});
