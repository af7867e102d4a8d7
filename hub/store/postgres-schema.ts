/**
 * The PostgreSQL schema (issue 19): the same tables and columns as the SQLite one (sqlite-schema.ts),
 * with the version numbering kept in step, so that version N means the same records in both stores.
 * Differences, each for a reason:
 * - times are `bigint` milliseconds (an `integer` ends in 1970 + 24 days);
 * - JSON values are `jsonb` (PostgreSQL §8.14: validated on write; keys come back in jsonb's own
 *   order, which no reader depends on);
 * - `notices.row_no` (bigserial) stands in for SQLite's rowid where insertion order breaks ties;
 * - the append-only rules of the timeline and the audit log are triggers raising an exception.
 * The version lives in `schema_version` (one row), where SQLite keeps it in PRAGMA user_version.
 * Bump POSTGRES_SCHEMA_VERSION and add a step to POSTGRES_MIGRATIONS when it changes.
 */
import type pg from 'pg';
import { parseOldText } from '../admin/emergency-contacts.js';

export const POSTGRES_SCHEMA_VERSION = 12;

/** Versions 1 to 6 of sqlite-schema.ts, as one step: no PostgreSQL database predates this store. */
const SCHEMA_V6_SQL = `
CREATE TABLE workers (
  id text PRIMARY KEY,
  name text NOT NULL,
  phone text,
  home_address text,
  medical_notes text,
  car text,
  emergency_contacts text,
  buddy_id text,
  line_manager_id text,
  training_date text,
  new_starter boolean NOT NULL DEFAULT false,
  description text
);

CREATE TABLE contacts (
  id text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL,
  email text,
  phone text
);

CREATE TABLE devices (
  id text PRIMARY KEY,
  worker_id text,
  board text,
  secret_hash text NOT NULL,
  created_at bigint NOT NULL,
  revoked_at bigint,
  last_seen_at bigint,
  battery integer,
  online boolean NOT NULL DEFAULT false,
  firmware text
);

CREATE TABLE visits (
  id text PRIMARY KEY,
  worker_id text NOT NULL,
  ref text NOT NULL,
  scheduled_start bigint NOT NULL,
  expected_end bigint NOT NULL,
  risk_category integer NOT NULL,
  rag text NOT NULL,
  checkin_interval_min integer,
  next_location text,
  second_worker_id text,
  status text NOT NULL,
  started_at bigint,
  ended_at bigint,
  unplanned boolean NOT NULL DEFAULT false,
  policy_flags jsonb NOT NULL DEFAULT '[]',
  contact_name text,
  contact_phone text
);
CREATE INDEX visits_worker ON visits (worker_id, scheduled_start);

-- Every event a fob sent, once: the primary key makes a retried event a no-op (ON CONFLICT DO NOTHING).
CREATE TABLE fob_events (
  device_id text NOT NULL,
  event_id text NOT NULL,
  kind text NOT NULL,
  received_at bigint NOT NULL,
  event_at bigint NOT NULL,
  payload text NOT NULL,
  PRIMARY KEY (device_id, event_id)
);

CREATE TABLE alarms (
  id text PRIMARY KEY,
  kind text NOT NULL,
  state text NOT NULL,
  priority integer NOT NULL,
  worker_id text,
  device_id text,
  visit_ref text,
  source_event_id text,
  reason text NOT NULL,
  raised_at bigint NOT NULL,
  acknowledged_at bigint,
  acknowledged_by text,
  closed_at bigint,
  closed_by text,
  drill boolean NOT NULL DEFAULT false,
  policy jsonb NOT NULL,
  level integer NOT NULL,
  round integer NOT NULL,
  next_step_at bigint,
  re_alert_at bigint,
  police_at bigint,
  last_sighting_at bigint,
  due_at bigint,
  stale boolean NOT NULL DEFAULT false,
  outcome text,
  worker_cancelled_at bigint
);
CREATE INDEX alarms_state ON alarms (state, raised_at);
CREATE INDEX alarms_due ON alarms (due_at) WHERE due_at IS NOT NULL;
CREATE UNIQUE INDEX alarms_source ON alarms (device_id, source_event_id) WHERE source_event_id IS NOT NULL;

-- The incident record (R19, R20): append-only, enforced by triggers.
CREATE TABLE alarm_timeline (
  seq bigserial PRIMARY KEY,
  alarm_id text NOT NULL REFERENCES alarms(id),
  at bigint NOT NULL,
  type text NOT NULL,
  actor text NOT NULL,
  detail jsonb NOT NULL
);
CREATE INDEX alarm_timeline_alarm ON alarm_timeline (alarm_id, seq);

CREATE FUNCTION lw_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the % is append-only', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER alarm_timeline_append_only BEFORE UPDATE OR DELETE ON alarm_timeline
  FOR EACH ROW EXECUTE FUNCTION lw_append_only('alarm timeline');
CREATE TRIGGER alarm_timeline_no_truncate BEFORE TRUNCATE ON alarm_timeline
  FOR EACH STATEMENT EXECUTE FUNCTION lw_append_only('alarm timeline');

CREATE TABLE worker_state (
  worker_id text PRIMARY KEY,
  state jsonb NOT NULL,
  due_at bigint
);
CREATE INDEX worker_state_due ON worker_state (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE device_health (
  device_id text PRIMARY KEY,
  state jsonb NOT NULL,
  due_at bigint
);
CREATE INDEX device_health_due ON device_health (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE pending_effects (
  id bigserial PRIMARY KEY,
  effect jsonb NOT NULL
);

CREATE TABLE audit_log (
  seq bigserial PRIMARY KEY,
  at bigint NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  subject text NOT NULL,
  detail jsonb NOT NULL
);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION lw_append_only('audit log');
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION lw_append_only('audit log');

CREATE TABLE users (
  username text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL,
  password_hash text NOT NULL,
  created_at bigint NOT NULL,
  disabled_at bigint,
  worker_id text
);

CREATE TABLE sessions (
  id_hash text PRIMARY KEY,
  username text NOT NULL REFERENCES users(username),
  csrf text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (username);

CREATE TABLE api_tokens (
  id text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  created_by text NOT NULL,
  created_at bigint NOT NULL,
  revoked_at bigint,
  last_used_at bigint
);

CREATE TABLE notices (
  id text PRIMARY KEY,
  row_no bigserial NOT NULL,
  alarm_id text NOT NULL,
  channel text NOT NULL,
  level integer NOT NULL,
  event text NOT NULL,
  parent_id text,
  via text,
  once_key text UNIQUE,
  request jsonb NOT NULL,
  tried jsonb NOT NULL,
  state text NOT NULL,
  outcome text,
  ref text,
  attempts integer NOT NULL DEFAULT 0,
  fallback_pos integer NOT NULL DEFAULT 0,
  first_attempt_at bigint,
  next_attempt_at bigint,
  created_at bigint NOT NULL,
  finished_at bigint,
  ref_order bigint
);
CREATE INDEX notices_unfinished ON notices (created_at) WHERE state <> 'done';
CREATE INDEX notices_alarm ON notices (alarm_id);
CREATE INDEX notices_parent ON notices (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX notices_ref_order ON notices (channel, ref_order) WHERE ref_order IS NOT NULL;
`;

/**
 * Version 7 (issues 18 and 19; SQLite's v7 and v8): leased due work and the change feed, and the write marks behind
 * externalChangeCounter.
 * - due_work: one row per `kind:key`; `gen` comes from a sequence, so a row deleted and armed again
 *   never reuses a generation an old claim holds.
 * - changes: `seq` is a bigserial, but a sequence hands out numbers at INSERT, not at COMMIT, so a
 *   reader could see seq 11 committed before 10 and skip 10 for ever. The store inserts the changes
 *   last in the transaction under a transaction-level advisory lock, so seqs are committed in order.
 * - store_writes: one row per Store instance that has written, holding a number from
 *   store_write_seq taken by its last write transaction, so an instance can tell that another one
 *   (the CLI, another hub) has written since it last looked: the largest of the others' numbers.
 */
const SCHEMA_V7_SQL = `
CREATE SEQUENCE due_work_gen;
CREATE TABLE due_work (
  kind text NOT NULL,
  key text NOT NULL,
  due_at bigint NOT NULL,
  payload jsonb,
  attempts integer NOT NULL DEFAULT 0,
  gen bigint NOT NULL DEFAULT nextval('due_work_gen'),
  owner text,
  lease_until bigint,
  PRIMARY KEY (kind, key)
);
CREATE INDEX due_work_due ON due_work (due_at);

CREATE TABLE changes (
  seq bigserial PRIMARY KEY,
  at bigint NOT NULL,
  topic text NOT NULL,
  alarm_id text,
  detail jsonb NOT NULL
);

CREATE SEQUENCE store_write_seq;
CREATE TABLE store_writes (
  writer text PRIMARY KEY,
  n bigint NOT NULL
);
`;

/**
 * Versions 8 to 10 of sqlite-schema.ts, and what SQLite's v7 did that PostgreSQL's v7 did not, as one
 * step (PostgreSQL's v7 already made the change feed, SQLite's v8):
 * - v7, the store as the only scheduler (issue 18): each deadline kept beside its state becomes a
 *   due_work row and each effect a crash left in pending_effects an `effect` row due at once (due_at
 *   0, keyed 'p' and the id in 12 digits, in their order, as SQLite's step does), and pending_effects
 *   goes. ON CONFLICT DO NOTHING: a row the pg branch's hub already scheduled stays as it is.
 * - v9, positions (issue 20): `id` a bigserial breaking ties of fix_at, as SQLite's rowid does;
 *   lat/lon `double precision` (SQLite's REAL is an 8-byte float).
 * - v10, emergency contacts as records (issue 15 item 13); the old text is read into them by the
 *   step's `data` (parseOldText), in the same transaction.
 */
const SCHEMA_V10_SQL = `
INSERT INTO due_work (kind, key, due_at) SELECT 'alarm', id, due_at FROM alarms WHERE due_at IS NOT NULL ON CONFLICT DO NOTHING;
INSERT INTO due_work (kind, key, due_at) SELECT 'worker', worker_id, due_at FROM worker_state WHERE due_at IS NOT NULL ON CONFLICT DO NOTHING;
INSERT INTO due_work (kind, key, due_at) SELECT 'device', device_id, due_at FROM device_health WHERE due_at IS NOT NULL ON CONFLICT DO NOTHING;
INSERT INTO due_work (kind, key, due_at, payload)
  SELECT 'effect', 'p' || lpad(id::text, 12, '0'), 0, effect FROM pending_effects ORDER BY id ON CONFLICT DO NOTHING;
DROP TABLE pending_effects;

CREATE TABLE positions (
  id bigserial PRIMARY KEY,
  device_id text NOT NULL,
  worker_id text,
  alarm_id text,
  fix_at bigint NOT NULL,
  received_at bigint NOT NULL,
  lat double precision NOT NULL,
  lon double precision NOT NULL,
  accuracy_m integer NOT NULL,
  source text NOT NULL
);
CREATE INDEX positions_device ON positions (device_id, fix_at);
CREATE INDEX positions_alarm ON positions (alarm_id, fix_at) WHERE alarm_id IS NOT NULL;
CREATE INDEX positions_received ON positions (received_at) WHERE alarm_id IS NULL;

CREATE TABLE worker_emergency_contacts (
  worker_id text NOT NULL REFERENCES workers(id) ON DELETE CASCADE,
  position integer NOT NULL,
  name text NOT NULL,
  relationship text,
  phone text,
  PRIMARY KEY (worker_id, position)
);
`;

/** Version 11 (issue 19): `devices.presence_at`, as sqlite-schema.ts's SCHEMA_V11_SQL says. */
const SCHEMA_V11_SQL = `
ALTER TABLE devices ADD COLUMN presence_at bigint;
`;

/** Version 12: one worker's devices found by index (Store.listWorkerDevices), as sqlite-schema.ts's. */
const SCHEMA_V12_SQL = `
CREATE INDEX IF NOT EXISTS devices_worker ON devices (worker_id);
`;

/** Version 10's data step: each worker's old emergency-contacts text read into records (as sqlite-schema.ts's). */
async function migrateEmergencyContactsV10(client: pg.PoolClient): Promise<void> {
  const r = await client.query<{ id: string; emergency_contacts: string }>(
    "SELECT id, emergency_contacts FROM workers WHERE emergency_contacts IS NOT NULL AND btrim(emergency_contacts) <> ''",
  );
  for (const row of r.rows) {
    const contacts = parseOldText(row.emergency_contacts);
    for (const [i, c] of contacts.entries()) {
      await client.query('INSERT INTO worker_emergency_contacts (worker_id, position, name, relationship, phone) VALUES ($1, $2, $3, $4, $5)', [row.id, i, c.name, c.relationship, c.phone]);
    }
  }
}

export interface PostgresMigration {
  to: number;
  sql: string;
  /** Runs after `sql` in the same transaction: data a SQL statement cannot move by itself. */
  data?: (client: pg.PoolClient) => Promise<void>;
}

/**
 * Steps by starting version: a new database gets everything at once; an existing one only what it
 * lacks. A database of the pg branch is at 7 (or 6 before its change feed); nothing was ever at 8 or 9.
 */
export const POSTGRES_MIGRATIONS: Record<number, PostgresMigration> = {
  0: { to: 12, sql: SCHEMA_V6_SQL + SCHEMA_V7_SQL + SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  6: { to: 12, sql: SCHEMA_V7_SQL + SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  7: { to: 12, sql: SCHEMA_V10_SQL + SCHEMA_V11_SQL + SCHEMA_V12_SQL, data: migrateEmergencyContactsV10 },
  10: { to: 12, sql: SCHEMA_V11_SQL + SCHEMA_V12_SQL },
  11: { to: 12, sql: SCHEMA_V12_SQL },
};

/** The SQL that made a version-7 database (for the migration test: a database of the pg branch). */
export const POSTGRES_V7_SQL = SCHEMA_V6_SQL + SCHEMA_V7_SQL;
