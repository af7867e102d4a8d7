/** The SQLite schema. Bump SCHEMA_VERSION and add a step to MIGRATIONS when it changes. */
import type Database from 'better-sqlite3';
import { parseOldText } from '../admin/emergency-contacts.js';
export const SCHEMA_VERSION = 12;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS workers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  phone TEXT,
  home_address TEXT,
  medical_notes TEXT,
  car TEXT,
  emergency_contacts TEXT,
  buddy_id TEXT,
  line_manager_id TEXT,
  training_date TEXT,
  new_starter INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS contacts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  email TEXT,
  phone TEXT
);

CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY,
  worker_id TEXT,
  board TEXT,
  secret_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  last_seen_at INTEGER,
  battery INTEGER,
  online INTEGER NOT NULL DEFAULT 0,
  firmware TEXT
);

CREATE TABLE IF NOT EXISTS visits (
  id TEXT PRIMARY KEY,
  worker_id TEXT NOT NULL,
  ref TEXT NOT NULL,
  scheduled_start INTEGER NOT NULL,
  expected_end INTEGER NOT NULL,
  risk_category INTEGER NOT NULL,
  rag TEXT NOT NULL,
  checkin_interval_min INTEGER,
  next_location TEXT,
  second_worker_id TEXT,
  status TEXT NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  unplanned INTEGER NOT NULL DEFAULT 0,
  policy_flags TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS visits_worker ON visits (worker_id, scheduled_start);

-- Every event a fob sent, once: the primary key makes a retried event a no-op.
CREATE TABLE IF NOT EXISTS fob_events (
  device_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  event_at INTEGER NOT NULL,
  payload TEXT NOT NULL,
  PRIMARY KEY (device_id, event_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS alarms (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  priority INTEGER NOT NULL,
  worker_id TEXT,
  device_id TEXT,
  visit_ref TEXT,
  source_event_id TEXT,
  reason TEXT NOT NULL,
  raised_at INTEGER NOT NULL,
  acknowledged_at INTEGER,
  acknowledged_by TEXT,
  closed_at INTEGER,
  closed_by TEXT,
  drill INTEGER NOT NULL DEFAULT 0,
  policy TEXT NOT NULL,
  level INTEGER NOT NULL,
  round INTEGER NOT NULL,
  next_step_at INTEGER,
  re_alert_at INTEGER,
  police_at INTEGER,
  last_sighting_at INTEGER,
  due_at INTEGER
);
CREATE INDEX IF NOT EXISTS alarms_state ON alarms (state, raised_at);
CREATE INDEX IF NOT EXISTS alarms_due ON alarms (due_at) WHERE due_at IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS alarms_source ON alarms (device_id, source_event_id) WHERE source_event_id IS NOT NULL;

-- The incident record (R19, R20): append-only, enforced by triggers.
CREATE TABLE IF NOT EXISTS alarm_timeline (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  alarm_id TEXT NOT NULL REFERENCES alarms(id),
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  actor TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_timeline_alarm ON alarm_timeline (alarm_id, seq);
CREATE TRIGGER IF NOT EXISTS alarm_timeline_no_update BEFORE UPDATE ON alarm_timeline
  BEGIN SELECT RAISE(ABORT, 'the alarm timeline is append-only'); END;
CREATE TRIGGER IF NOT EXISTS alarm_timeline_no_delete BEFORE DELETE ON alarm_timeline
  BEGIN SELECT RAISE(ABORT, 'the alarm timeline is append-only'); END;

CREATE TABLE IF NOT EXISTS worker_state (
  worker_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  due_at INTEGER
);
CREATE INDEX IF NOT EXISTS worker_state_due ON worker_state (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS device_health (
  device_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  due_at INTEGER
);
CREATE INDEX IF NOT EXISTS device_health_due ON device_health (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS pending_effects (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  effect TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`;

/**
 * Version 2: the dashboard's people. Dashboard users (passwords scrypt-hashed), their sessions (only a
 * hash of the cookie value is stored) and API tokens for integrations (also hashed).
 */
export const SCHEMA_V2_SQL = `
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  disabled_at INTEGER,
  worker_id TEXT
);

CREATE TABLE IF NOT EXISTS sessions (
  id_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL REFERENCES users(username),
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username);

CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  last_used_at INTEGER
);
`;

/**
 * Version 3: alert forwarding notices (issue 7), written before the first send and finished when
 * delivered or given up, so a restart resumes the ones being retried; `once_key` makes "the ARC is
 * told once per alarm" (and the close events) hold across restarts.
 */
export const SCHEMA_V3_SQL = `
CREATE TABLE IF NOT EXISTS notices (
  id TEXT PRIMARY KEY,
  alarm_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  level INTEGER NOT NULL,
  event TEXT NOT NULL,
  parent_id TEXT,
  via TEXT,
  once_key TEXT UNIQUE,
  request TEXT NOT NULL,
  tried TEXT NOT NULL,
  state TEXT NOT NULL,
  outcome TEXT,
  ref TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  fallback_pos INTEGER NOT NULL DEFAULT 0,
  first_attempt_at INTEGER,
  next_attempt_at INTEGER,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS notices_unfinished ON notices (created_at) WHERE state <> 'done';
CREATE INDEX IF NOT EXISTS notices_alarm ON notices (alarm_id);
CREATE INDEX IF NOT EXISTS notices_parent ON notices (parent_id) WHERE parent_id IS NOT NULL;
`;

/**
 * Version 4: the order in which notice references (DC-09 sequence numbers) were given out, so the
 * number kept with a notice before its first send is reused on every retransmission, after a restart
 * too, and the next number carries on from the last one given (not the last one acknowledged).
 */
export const SCHEMA_V4_SQL = `
ALTER TABLE notices ADD COLUMN ref_order INTEGER;
CREATE INDEX IF NOT EXISTS notices_ref_order ON notices (channel, ref_order) WHERE ref_order IS NOT NULL;
`;

/**
 * v5 (issue 17, item 8): an alarm raised from an event older than 7 days (its `ag`) is marked stale,
 * so the duty officer sees that it happened long before it arrived.
 */
export const SCHEMA_V5_SQL = `
ALTER TABLE alarms ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
`;

/**
 * Version 6: the duty officer's console (issue 15). A description of the worker for the police
 * hand-over (private, R22); a contact (name and phone) at the visit address, who is a rung of the
 * R13 ladder; how an alarm was closed (the outcome the officer chose) and when the worker cancelled
 * an SOS from the fob (kept open until an officer has called back, issue 15 item 11).
 */
export const SCHEMA_V6_SQL = `
ALTER TABLE workers ADD COLUMN description TEXT;
ALTER TABLE visits ADD COLUMN contact_name TEXT;
ALTER TABLE visits ADD COLUMN contact_phone TEXT;
ALTER TABLE alarms ADD COLUMN outcome TEXT;
ALTER TABLE alarms ADD COLUMN worker_cancelled_at INTEGER;
`;

/**
 * Version 7 (issue 18): the store is the only scheduler. One table of due work: a rule deadline
 * (`alarm`, `worker`, `device`, keyed by its id), an effect committed with its change (`effect`), the
 * next attempt of an alert notice (`notice`). `gen` grows each time a row is scheduled again, so an old
 * claim never completes work that was moved while it was being done; `owner` and `lease_until` are the
 * lease of the process doing it (a crashed process's lease expires and the work goes to whoever claims
 * it next); `attempts` counts claims that ended without a completion or a reschedule.
 *
 * An old database resumes: each deadline kept beside its state (`due_at` of alarms, worker_state,
 * device_health) becomes a due_work row, and each effect a crash left in pending_effects becomes an
 * `effect` row due at once (due_at 0, so it runs before anything else, as the start-up re-run did).
 * The state tables keep their `due_at` column as a record of when the state expects its next step;
 * the schedule is due_work.
 */
export const SCHEMA_V7_SQL = `
CREATE TABLE IF NOT EXISTS due_work (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  payload TEXT,
  gen INTEGER NOT NULL DEFAULT 1,
  owner TEXT,
  lease_until INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS due_work_due ON due_work (due_at);
CREATE INDEX IF NOT EXISTS due_work_leased ON due_work (lease_until) WHERE lease_until IS NOT NULL;
INSERT OR IGNORE INTO due_work (kind, key, due_at) SELECT 'alarm', id, due_at FROM alarms WHERE due_at IS NOT NULL;
INSERT OR IGNORE INTO due_work (kind, key, due_at) SELECT 'worker', worker_id, due_at FROM worker_state WHERE due_at IS NOT NULL;
INSERT OR IGNORE INTO due_work (kind, key, due_at) SELECT 'device', device_id, due_at FROM device_health WHERE due_at IS NOT NULL;
INSERT OR IGNORE INTO due_work (kind, key, due_at, payload) SELECT 'effect', printf('p%012d', id), 0, effect FROM pending_effects;
DROP TABLE IF EXISTS pending_effects;
`;

/**
 * Version 8 (issue 18): the change feed, an ordered log appended in the transaction that makes each
 * change (hub/store/store.ts ChangeFeedTx). The dashboard's live events and the hub's device watch
 * read it, in this process and in any other on the same file. AUTOINCREMENT, not a plain rowid: a
 * seq is never reused after the newest rows are pruned, so a reader's cursor (an SSE Last-Event-ID)
 * never points at a different change than the one it saw. SQLite takes one writer at a time
 * (BEGIN IMMEDIATE), so seq order is commit order. `at` is indexed for the retention prune.
 */
export const SCHEMA_V8_SQL = `
CREATE TABLE IF NOT EXISTS changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  topic TEXT NOT NULL,
  alarm_id TEXT,
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS changes_at ON changes (at);
`;

/**
 * Version 9: positions (issue 20). One row per fix a fob or its phone sent, on `ps` or as `l` of an
 * event: dated `fix_at = received_at - fa` (the fob has no clock to trust, like events). `alarm_id`
 * is set for a fix that arrived while an alarm of its device was open (or came with the alarm event):
 * those are part of the incident record and retention never removes them (prunePositions).
 */
export const SCHEMA_V9_SQL = `
CREATE TABLE IF NOT EXISTS positions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,
  worker_id TEXT,
  alarm_id TEXT,
  fix_at INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  lat REAL NOT NULL,
  lon REAL NOT NULL,
  accuracy_m INTEGER NOT NULL,
  source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS positions_device ON positions (device_id, fix_at);
CREATE INDEX IF NOT EXISTS positions_alarm ON positions (alarm_id, fix_at) WHERE alarm_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS positions_received ON positions (received_at) WHERE alarm_id IS NULL;
`;

/**
 * Version 10 (issue 15 item 13): emergency contacts as records (name, relationship, phone), in their
 * own table in the order the admin gave them. The old free-text column `workers.emergency_contacts`
 * stays: it is shown beside the records as the old text until an admin clears it. Its lines are
 * read into records by the step's `data` (parseOldText), in the same transaction.
 */
export const SCHEMA_V10_SQL = `
CREATE TABLE IF NOT EXISTS worker_emergency_contacts (
  worker_id TEXT NOT NULL REFERENCES workers(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  relationship TEXT,
  phone TEXT,
  PRIMARY KEY (worker_id, position)
);
`;

/**
 * Version 11 (issue 19): `devices.presence_at`, the edge's received time of the last presence
 * ("online"/"offline") the store applied to the device (StoreTx.advancePresence). The cluster's
 * bulk lane hands presence out of order (a dead worker's batch comes again after newer ones); a
 * presence no newer than this one is stale and changes nothing. NULL: none applied yet.
 */
export const SCHEMA_V11_SQL = `
ALTER TABLE devices ADD COLUMN presence_at INTEGER;
`;

/**
 * Version 12: one worker's devices found by index (Store.listWorkerDevices: a missed check-in's
 * alarm, a prompt to the worker's fobs), not by reading every device.
 */
export const SCHEMA_V12_SQL = `
CREATE INDEX IF NOT EXISTS devices_worker ON devices (worker_id);
`;

/** Version 10's data step: each worker's old emergency-contacts text read into records. */
function migrateEmergencyContactsV10(db: Database.Database): void {
  const insert = db.prepare('INSERT INTO worker_emergency_contacts (worker_id, position, name, relationship, phone) VALUES (?, ?, ?, ?, ?)');
  const rows = db.prepare("SELECT id, emergency_contacts FROM workers WHERE emergency_contacts IS NOT NULL AND trim(emergency_contacts) <> ''").all() as { id: string; emergency_contacts: string }[];
  for (const r of rows) parseOldText(r.emergency_contacts).forEach((c, i) => insert.run(r.id, i, c.name, c.relationship, c.phone));
}

export interface Migration {
  to: number;
  sql: string;
  /** Runs after `sql` in the same transaction: data a SQL statement cannot move by itself. */
  data?: (db: Database.Database) => void;
}

/** Steps by starting version: a new database gets everything at once; an existing one only what it lacks. */
export const MIGRATIONS: Record<number, Migration> = {
  0: { to: 12, sql: SCHEMA_SQL + SCHEMA_V2_SQL + SCHEMA_V3_SQL + SCHEMA_V4_SQL + SCHEMA_V5_SQL + SCHEMA_V6_SQL + SCHEMA_V7_SQL + SCHEMA_V8_SQL + SCHEMA_V9_SQL + SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  1: { to: 12, sql: SCHEMA_V2_SQL + SCHEMA_V3_SQL + SCHEMA_V4_SQL + SCHEMA_V5_SQL + SCHEMA_V6_SQL + SCHEMA_V7_SQL + SCHEMA_V8_SQL + SCHEMA_V9_SQL + SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  2: { to: 12, sql: SCHEMA_V3_SQL + SCHEMA_V4_SQL + SCHEMA_V5_SQL + SCHEMA_V6_SQL + SCHEMA_V7_SQL + SCHEMA_V8_SQL + SCHEMA_V9_SQL + SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  3: { to: 12, sql: SCHEMA_V4_SQL + SCHEMA_V5_SQL + SCHEMA_V6_SQL + SCHEMA_V7_SQL + SCHEMA_V8_SQL + SCHEMA_V9_SQL + SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  4: { to: 12, sql: SCHEMA_V5_SQL + SCHEMA_V6_SQL + SCHEMA_V7_SQL + SCHEMA_V8_SQL + SCHEMA_V9_SQL + SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  5: { to: 12, sql: SCHEMA_V6_SQL + SCHEMA_V7_SQL + SCHEMA_V8_SQL + SCHEMA_V9_SQL + SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  6: { to: 12, sql: SCHEMA_V7_SQL + SCHEMA_V8_SQL + SCHEMA_V9_SQL + SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  7: { to: 12, sql: SCHEMA_V8_SQL + SCHEMA_V9_SQL + SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  10: { to: 12, sql: SCHEMA_V11_SQL + SCHEMA_V12_SQL },
  11: { to: 12, sql: SCHEMA_V12_SQL },
};
