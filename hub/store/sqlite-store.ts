/**
 * The embedded Store: one SQLite file in WAL mode with synchronous=FULL, so a committed transaction
 * survives a SIGKILL or a power cut. Transactions are serialised through one async lock, because a
 * single connection cannot hold two open transactions at once.
 */
import { drillPairingProblem } from '../rules/drill.js';
import { AsyncLock } from './async-lock.js';
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditEntry, AlarmFilter, ChangeRecord, ClaimedWork, DueWork, DueWorkKind, Store, StoreTx, UnqueuedReads } from './store.js';
import type {
  AlarmRecord,
  ApiTokenRecord,
  SessionRecord,
  UserRecord,
  ContactRecord,
  DeviceRecord,
  NoticeRecord,
  PositionRecord,
  StoredFobEvent,
  StoredTimelineEntry,
  TimelineEntry,
  VisitRecord,
  WorkerRecord,
} from './store-types.js';
import type { CheckinState } from '../rules/checkin-engine.js';
import type { EmergencyContact } from '../admin/emergency-contacts.js';
import type { DeviceHealthState } from '../rules/device-health-engine.js';
import { MIGRATIONS, SCHEMA_VERSION } from './sqlite-schema.js';
import { rowByRow } from './heartbeat-batch.js';
import { countAlarmsSql, listAlarmsSql } from './alarm-list-sql.js';
import { unarmedWorkersSql } from './unarmed-workers-sql.js';
import { isOpenState } from '../../shared/vocabulary.js';

type Row = Record<string, unknown>;

const bool = (v: unknown): boolean => v === 1 || v === true;
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function userFromRow(r: Row): UserRecord {
  return {
    username: String(r.username),
    name: String(r.name),
    role: r.role as UserRecord['role'],
    passwordHash: String(r.password_hash),
    createdAt: Number(r.created_at),
    disabledAt: numOrNull(r.disabled_at),
    workerId: strOrNull(r.worker_id),
  };
}

function sessionFromRow(r: Row): SessionRecord {
  return { idHash: String(r.id_hash), username: String(r.username), csrf: String(r.csrf), createdAt: Number(r.created_at), expiresAt: Number(r.expires_at) };
}

function tokenFromRow(r: Row): ApiTokenRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    role: r.role as ApiTokenRecord['role'],
    tokenHash: String(r.token_hash),
    createdBy: String(r.created_by),
    createdAt: Number(r.created_at),
    revokedAt: numOrNull(r.revoked_at),
    lastUsedAt: numOrNull(r.last_used_at),
  };
}

function noticeFromRow(r: Row): NoticeRecord {
  return {
    id: String(r.id),
    alarmId: String(r.alarm_id),
    channel: String(r.channel),
    level: Number(r.level),
    event: r.event === 'closed' || r.event === 'position' ? r.event : 'alert',
    parentId: (r.parent_id as string | null) ?? null,
    via: (r.via as string | null) ?? null,
    onceKey: (r.once_key as string | null) ?? null,
    request: JSON.parse(String(r.request)),
    tried: JSON.parse(String(r.tried)) as string[],
    state: r.state as NoticeRecord['state'],
    outcome: (r.outcome as string | null) ?? null,
    ref: (r.ref as string | null) ?? null,
    attempts: Number(r.attempts),
    fallbackPos: Number(r.fallback_pos),
    firstAttemptAt: r.first_attempt_at === null ? null : Number(r.first_attempt_at),
    nextAttemptAt: r.next_attempt_at === null ? null : Number(r.next_attempt_at),
    createdAt: Number(r.created_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
  };
}

const NOTICE_COLUMNS: Record<string, string> = {
  alarmId: 'alarm_id',
  channel: 'channel',
  level: 'level',
  event: 'event',
  parentId: 'parent_id',
  via: 'via',
  onceKey: 'once_key',
  request: 'request',
  tried: 'tried',
  state: 'state',
  outcome: 'outcome',
  ref: 'ref',
  attempts: 'attempts',
  fallbackPos: 'fallback_pos',
  firstAttemptAt: 'first_attempt_at',
  nextAttemptAt: 'next_attempt_at',
  createdAt: 'created_at',
  finishedAt: 'finished_at',
};

const USER_COLUMNS: Record<string, string> = { name: 'name', role: 'role', passwordHash: 'password_hash', createdAt: 'created_at', disabledAt: 'disabled_at', workerId: 'worker_id' };
const TOKEN_COLUMNS: Record<string, string> = { revokedAt: 'revoked_at', lastUsedAt: 'last_used_at' };

function fobEventFromRow(r: Row): StoredFobEvent {
  return { deviceId: String(r.device_id), eventId: String(r.event_id), kind: String(r.kind), receivedAt: Number(r.received_at), eventAt: Number(r.event_at), payload: String(r.payload) };
}

function positionFromRow(r: Row): PositionRecord {
  return {
    deviceId: String(r.device_id),
    workerId: strOrNull(r.worker_id),
    alarmId: strOrNull(r.alarm_id),
    fixAt: Number(r.fix_at),
    receivedAt: Number(r.received_at),
    lat: Number(r.lat),
    lon: Number(r.lon),
    accuracyM: Number(r.accuracy_m),
    source: r.source as PositionRecord['source'],
  };
}

function deviceFromRow(r: Row): DeviceRecord {
  return {
    id: String(r.id),
    workerId: strOrNull(r.worker_id),
    board: strOrNull(r.board),
    secretHash: String(r.secret_hash),
    createdAt: Number(r.created_at),
    revokedAt: numOrNull(r.revoked_at),
    lastSeenAt: numOrNull(r.last_seen_at),
    battery: numOrNull(r.battery),
    online: bool(r.online),
    firmware: strOrNull(r.firmware),
  };
}

function workerFromRow(r: Row): WorkerRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    phone: strOrNull(r.phone),
    homeAddress: strOrNull(r.home_address),
    medicalNotes: strOrNull(r.medical_notes),
    car: strOrNull(r.car),
    emergencyContacts: strOrNull(r.emergency_contacts),
    buddyId: strOrNull(r.buddy_id),
    lineManagerId: strOrNull(r.line_manager_id),
    trainingDate: strOrNull(r.training_date),
    newStarter: bool(r.new_starter),
    description: strOrNull(r.description),
  };
}

function visitFromRow(r: Row): VisitRecord {
  return {
    id: String(r.id),
    workerId: String(r.worker_id),
    ref: String(r.ref),
    scheduledStart: Number(r.scheduled_start),
    expectedEnd: Number(r.expected_end),
    riskCategory: Number(r.risk_category) === 2 ? 2 : 1,
    rag: r.rag as VisitRecord['rag'],
    checkinIntervalMin: numOrNull(r.checkin_interval_min),
    nextLocation: strOrNull(r.next_location),
    secondWorkerId: strOrNull(r.second_worker_id),
    status: r.status as VisitRecord['status'],
    startedAt: numOrNull(r.started_at),
    endedAt: numOrNull(r.ended_at),
    unplanned: bool(r.unplanned),
    policyFlags: JSON.parse(String(r.policy_flags ?? '[]')) as string[],
    contactName: strOrNull(r.contact_name),
    contactPhone: strOrNull(r.contact_phone),
  };
}

function alarmFromRow(r: Row): AlarmRecord {
  return {
    id: String(r.id),
    kind: r.kind as AlarmRecord['kind'],
    state: r.state as AlarmRecord['state'],
    priority: Number(r.priority),
    workerId: strOrNull(r.worker_id),
    deviceId: strOrNull(r.device_id),
    visitRef: strOrNull(r.visit_ref),
    sourceEventId: strOrNull(r.source_event_id),
    reason: String(r.reason),
    raisedAt: Number(r.raised_at),
    acknowledgedAt: numOrNull(r.acknowledged_at),
    acknowledgedBy: strOrNull(r.acknowledged_by),
    closedAt: numOrNull(r.closed_at),
    closedBy: strOrNull(r.closed_by),
    drill: bool(r.drill),
    policy: JSON.parse(String(r.policy)),
    level: Number(r.level),
    round: Number(r.round),
    nextStepAt: numOrNull(r.next_step_at),
    reAlertAt: numOrNull(r.re_alert_at),
    policeAt: numOrNull(r.police_at),
    lastSightingAt: numOrNull(r.last_sighting_at),
    stale: bool(r.stale),
    outcome: strOrNull(r.outcome) as AlarmRecord['outcome'],
    workerCancelledAt: numOrNull(r.worker_cancelled_at),
  };
}

const DEVICE_COLUMNS: Record<string, string> = {
  workerId: 'worker_id',
  board: 'board',
  secretHash: 'secret_hash',
  createdAt: 'created_at',
  revokedAt: 'revoked_at',
  lastSeenAt: 'last_seen_at',
  battery: 'battery',
  online: 'online',
  firmware: 'firmware',
};

const VISIT_COLUMNS: Record<string, string> = {
  workerId: 'worker_id',
  ref: 'ref',
  scheduledStart: 'scheduled_start',
  expectedEnd: 'expected_end',
  riskCategory: 'risk_category',
  rag: 'rag',
  checkinIntervalMin: 'checkin_interval_min',
  nextLocation: 'next_location',
  secondWorkerId: 'second_worker_id',
  status: 'status',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  unplanned: 'unplanned',
  policyFlags: 'policy_flags',
  contactName: 'contact_name',
  contactPhone: 'contact_phone',
};

function toSqlValue(v: unknown): unknown {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Array.isArray(v) || (v !== null && typeof v === 'object')) return JSON.stringify(v);
  return v === undefined ? null : v;
}

export class SqliteStore implements Store, UnqueuedReads {
  readonly db: Database.Database;
  /**
   * A second, read-only connection to the same file for reads that must not queue behind the
   * writer's lock (a fob's CONNECT). SQLite §WAL "Concurrency": readers on other connections see the
   * last committed snapshot and do not block, nor are blocked by, the one writer. A ':memory:'
   * database is private to its connection, so it has none and reads through the lock.
   */
  private readonly reader: { db: Database.Database; getDevice: Database.Statement } | null;
  private readonly lock = new AsyncLock();
  private readonly tx: StoreTx;
  private readonly stmt: ReturnType<SqliteStore['prepare']>;
  /** This process's change-feed readers, woken after a commit that appended a change. */
  private readonly appendListeners = new Set<() => void>();
  /** Set by appendChange during the current transaction. */
  private appended = false;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // FULL: every commit is fsynced, so an acknowledged alarm survives a crash of the machine too.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.stmt = this.prepare();
    this.tx = this.makeTx();
    this.reader = path === ':memory:' ? null : this.openReader(path);
  }

  private openReader(path: string): { db: Database.Database; getDevice: Database.Statement } {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    // A WAL reader waits only while the WAL index is being rebuilt after a crash: a short bound.
    db.pragma('busy_timeout = 1000');
    return { db, getDevice: db.prepare('SELECT * FROM devices WHERE id = ?') };
  }

  async getDeviceUnqueued(id: string): Promise<DeviceRecord | null> {
    if (!this.reader) return this.read((tx) => tx.getDevice(id));
    const r = this.reader.getDevice.get(id) as Row | undefined;
    return r ? deviceFromRow(r) : null;
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new Error(`database ${this.path} has schema version ${current}, newer than this hub (${SCHEMA_VERSION}): upgrade the hub`);
    }
    // Each step runs in one transaction with its version bump: a crash mid-way leaves the old version.
    for (let version = current; version < SCHEMA_VERSION; ) {
      const step = MIGRATIONS[version];
      if (!step) throw new Error(`database ${this.path} has schema version ${version}, which this hub cannot migrate`);
      this.db.transaction(() => {
        this.db.exec(step.sql);
        step.data?.(this.db);
        this.db.pragma(`user_version = ${step.to}`);
      })();
      version = step.to;
    }
  }

  private prepare() {
    const db = this.db;
    return {
      getDevice: db.prepare('SELECT * FROM devices WHERE id = ?'),
      insertDevice: db.prepare(
        `INSERT INTO devices (id, worker_id, board, secret_hash, created_at, revoked_at, last_seen_at, battery, online, firmware)
         VALUES (@id, @workerId, @board, @secretHash, @createdAt, @revokedAt, @lastSeenAt, @battery, @online, @firmware)`,
      ),
      listDevices: db.prepare('SELECT * FROM devices ORDER BY id'),
      listWorkerDevices: db.prepare('SELECT * FROM devices WHERE worker_id = ? ORDER BY id'),
      listEmergencyContacts: db.prepare('SELECT name, relationship, phone FROM worker_emergency_contacts WHERE worker_id = ? ORDER BY position'),
      clearEmergencyContacts: db.prepare('DELETE FROM worker_emergency_contacts WHERE worker_id = ?'),
      insertEmergencyContact: db.prepare('INSERT INTO worker_emergency_contacts (worker_id, position, name, relationship, phone) VALUES (?, ?, ?, ?, ?)'),
      getWorker: db.prepare('SELECT * FROM workers WHERE id = ?'),
      upsertWorker: db.prepare(
        `INSERT INTO workers (id, name, phone, home_address, medical_notes, car, emergency_contacts, buddy_id, line_manager_id, training_date, new_starter, description)
         VALUES (@id, @name, @phone, @homeAddress, @medicalNotes, @car, @emergencyContacts, @buddyId, @lineManagerId, @trainingDate, @newStarter, @description)
         ON CONFLICT(id) DO UPDATE SET name=excluded.name, phone=excluded.phone, home_address=excluded.home_address,
           medical_notes=excluded.medical_notes, car=excluded.car, emergency_contacts=excluded.emergency_contacts,
           buddy_id=excluded.buddy_id, line_manager_id=excluded.line_manager_id, training_date=excluded.training_date,
           new_starter=excluded.new_starter, description=excluded.description`,
      ),
      listWorkers: db.prepare('SELECT * FROM workers ORDER BY name'),
      getContact: db.prepare('SELECT * FROM contacts WHERE id = ?'),
      upsertContact: db.prepare(
        `INSERT INTO contacts (id, name, role, email, phone) VALUES (@id, @name, @role, @email, @phone)
         ON CONFLICT(id) DO UPDATE SET name=excluded.name, role=excluded.role, email=excluded.email, phone=excluded.phone`,
      ),
      listContacts: db.prepare('SELECT * FROM contacts ORDER BY role, name'),
      insertVisit: db.prepare(
        `INSERT INTO visits (id, worker_id, ref, scheduled_start, expected_end, risk_category, rag, checkin_interval_min, next_location,
           second_worker_id, status, started_at, ended_at, unplanned, policy_flags, contact_name, contact_phone)
         VALUES (@id, @workerId, @ref, @scheduledStart, @expectedEnd, @riskCategory, @rag, @checkinIntervalMin, @nextLocation,
           @secondWorkerId, @status, @startedAt, @endedAt, @unplanned, @policyFlags, @contactName, @contactPhone)`,
      ),
      getVisit: db.prepare('SELECT * FROM visits WHERE id = ?'),
      listVisits: db.prepare('SELECT * FROM visits WHERE worker_id = ? AND scheduled_start >= ? AND scheduled_start < ? ORDER BY scheduled_start'),
      insertFobEvent: db.prepare(
        `INSERT OR IGNORE INTO fob_events (device_id, event_id, kind, received_at, event_at, payload)
         VALUES (@deviceId, @eventId, @kind, @receivedAt, @eventAt, @payload)`,
      ),
      countFobEvents: db.prepare('SELECT COUNT(*) AS n FROM fob_events WHERE device_id = ?'),
      listFobEvents: db.prepare(
        `SELECT device_id, event_id, kind, received_at, event_at, payload FROM fob_events
         WHERE device_id = ? AND kind = ? AND received_at >= ? ORDER BY received_at, event_id`,
      ),
      insertAlarm: db.prepare(
        `INSERT INTO alarms (id, kind, state, priority, worker_id, device_id, visit_ref, source_event_id, reason, raised_at,
           acknowledged_at, acknowledged_by, closed_at, closed_by, drill, policy, level, round, next_step_at, re_alert_at, police_at,
           last_sighting_at, due_at, stale, outcome, worker_cancelled_at)
         VALUES (@id, @kind, @state, @priority, @workerId, @deviceId, @visitRef, @sourceEventId, @reason, @raisedAt,
           @acknowledgedAt, @acknowledgedBy, @closedAt, @closedBy, @drill, @policy, @level, @round, @nextStepAt, @reAlertAt, @policeAt,
           @lastSightingAt, @dueAt, @stale, @outcome, @workerCancelledAt)`,
      ),
      updateAlarm: db.prepare(
        `UPDATE alarms SET state=@state, priority=@priority, visit_ref=@visitRef, acknowledged_at=@acknowledgedAt,
           acknowledged_by=@acknowledgedBy, closed_at=@closedAt, closed_by=@closedBy, level=@level, round=@round,
           next_step_at=@nextStepAt, re_alert_at=@reAlertAt, police_at=@policeAt, last_sighting_at=@lastSightingAt, due_at=@dueAt,
           outcome=@outcome, worker_cancelled_at=@workerCancelledAt
         WHERE id=@id`,
      ),
      getAlarm: db.prepare('SELECT * FROM alarms WHERE id = ?'),
      findAlarmBySource: db.prepare('SELECT * FROM alarms WHERE device_id = ? AND source_event_id = ?'),
      appendTimeline: db.prepare('INSERT INTO alarm_timeline (alarm_id, at, type, actor, detail) VALUES (?, ?, ?, ?, ?)'),
      getTimeline: db.prepare('SELECT * FROM alarm_timeline WHERE alarm_id = ? ORDER BY seq'),
      getCheckin: db.prepare('SELECT state FROM worker_state WHERE worker_id = ?'),
      putCheckin: db.prepare(
        `INSERT INTO worker_state (worker_id, state, due_at) VALUES (?, ?, ?)
         ON CONFLICT(worker_id) DO UPDATE SET state=excluded.state, due_at=excluded.due_at`,
      ),
      getHealth: db.prepare('SELECT state FROM device_health WHERE device_id = ?'),
      putHealth: db.prepare(
        `INSERT INTO device_health (device_id, state, due_at) VALUES (?, ?, ?)
         ON CONFLICT(device_id) DO UPDATE SET state=excluded.state, due_at=excluded.due_at`,
      ),
      // Due work (schema v7). A new or moved row is a new generation, unleased, with no attempts.
      scheduleWork: db.prepare(
        `INSERT INTO due_work (kind, key, due_at, payload, gen, owner, lease_until, attempts) VALUES (@kind, @key, @dueAt, @payload, 1, @owner, @leaseUntil, @attempts)
         ON CONFLICT(kind, key) DO UPDATE SET due_at=excluded.due_at, payload=excluded.payload, gen=due_work.gen + 1,
           owner=excluded.owner, lease_until=excluded.lease_until, attempts=excluded.attempts
         RETURNING gen`,
      ),
      cancelWork: db.prepare('DELETE FROM due_work WHERE kind = ? AND key = ?'),
      completeWork: db.prepare('DELETE FROM due_work WHERE kind = @kind AND key = @key AND gen = @gen AND owner = @owner'),
      rescheduleWork: db.prepare(
        `UPDATE due_work SET due_at = @dueAt, payload = CASE WHEN @keep = 1 THEN payload ELSE @payload END, gen = gen + 1,
           owner = NULL, lease_until = NULL, attempts = 0
         WHERE kind = @kind AND key = @key AND gen = @gen AND owner = @owner`,
      ),
      // Walks due_work_due in due order and stops at `limit`: a claim costs the batch, not the table.
      dueToClaim: db.prepare(
        `SELECT kind, key FROM due_work WHERE due_at <= @now AND (lease_until IS NULL OR lease_until <= @now)
         ORDER BY due_at, kind, key LIMIT @limit`,
      ),
      lease: db.prepare(
        `UPDATE due_work SET owner = @owner, lease_until = @leaseUntil, attempts = attempts + 1 WHERE kind = @kind AND key = @key
         RETURNING kind, key, due_at, payload, gen, owner, lease_until, attempts`,
      ),
      nextUnleased: db.prepare('SELECT MIN(due_at) AS at FROM due_work WHERE lease_until IS NULL'),
      nextLeased: db.prepare('SELECT MIN(MAX(due_at, lease_until)) AS at FROM due_work WHERE lease_until IS NOT NULL'),
      countWork: db.prepare('SELECT COUNT(*) AS n FROM due_work WHERE due_at <= ?'),
      getWork: db.prepare('SELECT * FROM due_work WHERE kind = ? AND key = ?'),
      unarmedWorkersWithPlannedVisits: db.prepare(unarmedWorkersSql(() => '?')),
      listWork: db.prepare('SELECT * FROM due_work WHERE kind = ? ORDER BY due_at, key LIMIT ?'),
      appendAudit: db.prepare('INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)'),
      listAudit: db.prepare('SELECT * FROM audit_log ORDER BY seq DESC LIMIT ?'),
      appendChange: db.prepare('INSERT INTO changes (at, topic, alarm_id, detail) VALUES (?, ?, ?, ?)'),
      readChanges: db.prepare('SELECT * FROM changes WHERE seq > ? ORDER BY seq LIMIT ?'),
      // The highest seq ever given (AUTOINCREMENT keeps it in sqlite_sequence), not the highest
      // kept: a feed pruned empty still knows where it is, so an older cursor is seen as behind it.
      lastChangeSeq: db.prepare("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0) AS seq"),
      firstChangeSeq: db.prepare('SELECT MIN(seq) AS seq FROM changes'),
      // Rows older than the retention, and rows beyond the newest `keepRows` (by seq).
      pruneChanges: db.prepare('DELETE FROM changes WHERE at < ? OR seq <= (SELECT COALESCE(MAX(seq), 0) FROM changes) - ?'),
      getUser: db.prepare('SELECT * FROM users WHERE username = ?'),
      insertUser: db.prepare(
        `INSERT INTO users (username, name, role, password_hash, created_at, disabled_at, worker_id)
         VALUES (@username, @name, @role, @passwordHash, @createdAt, @disabledAt, @workerId)`,
      ),
      listUsers: db.prepare('SELECT * FROM users ORDER BY username'),
      insertSession: db.prepare(
        `INSERT INTO sessions (id_hash, username, csrf, created_at, expires_at) VALUES (@idHash, @username, @csrf, @createdAt, @expiresAt)`,
      ),
      getSession: db.prepare('SELECT * FROM sessions WHERE id_hash = ?'),
      deleteSession: db.prepare('DELETE FROM sessions WHERE id_hash = ?'),
      deleteExpiredSessions: db.prepare('DELETE FROM sessions WHERE expires_at < ?'),
      deleteUserSessions: db.prepare('DELETE FROM sessions WHERE username = ?'),
      countUserSessions: db.prepare('SELECT COUNT(*) AS n FROM sessions WHERE username = ? AND expires_at >= ?'),
      insertApiToken: db.prepare(
        `INSERT INTO api_tokens (id, name, role, token_hash, created_by, created_at, revoked_at, last_used_at)
         VALUES (@id, @name, @role, @tokenHash, @createdBy, @createdAt, @revokedAt, @lastUsedAt)`,
      ),
      getApiTokenByHash: db.prepare('SELECT * FROM api_tokens WHERE token_hash = ?'),
      listApiTokens: db.prepare('SELECT * FROM api_tokens ORDER BY created_at'),
      insertNotice: db.prepare(
        `INSERT OR IGNORE INTO notices (id, alarm_id, channel, level, event, parent_id, via, once_key, request, tried, state, outcome, ref,
           attempts, fallback_pos, first_attempt_at, next_attempt_at, created_at, finished_at)
         VALUES (@id, @alarmId, @channel, @level, @event, @parentId, @via, @onceKey, @request, @tried, @state, @outcome, @ref,
           @attempts, @fallbackPos, @firstAttemptAt, @nextAttemptAt, @createdAt, @finishedAt)`,
      ),
      getNotice: db.prepare('SELECT * FROM notices WHERE id = ?'),
      findNoticeByRef: db.prepare('SELECT * FROM notices WHERE channel = ? AND ref = ? ORDER BY created_at DESC, rowid DESC LIMIT 1'),
      getNoticeByOnceKey: db.prepare('SELECT * FROM notices WHERE once_key = ?'),
      listNotices: db.prepare('SELECT * FROM notices WHERE alarm_id = ? ORDER BY created_at, rowid'),
      listNoticeChildren: db.prepare('SELECT * FROM notices WHERE parent_id = ? ORDER BY rowid'),
      assignNoticeRef: db.prepare('UPDATE notices SET ref = ?, ref_order = (SELECT COALESCE(MAX(ref_order), 0) + 1 FROM notices) WHERE id = ?'),
      lastNoticeRef: db.prepare(
        `SELECT ref FROM notices WHERE channel = ? AND ref IS NOT NULL AND (ref_order IS NOT NULL OR state = 'done')
         ORDER BY ref_order IS NULL, ref_order DESC, finished_at DESC, rowid DESC LIMIT 1`,
      ),
      unfinishedNotices: db.prepare("SELECT * FROM notices WHERE state <> 'done' ORDER BY created_at, rowid"),
      // Keeps, per channel, the row lastNoticeRef reads (same conditions and order).
      pruneNotices: db.prepare(
        `DELETE FROM notices WHERE state = 'done'
           AND alarm_id IN (SELECT id FROM alarms WHERE closed_at IS NOT NULL AND closed_at < ?)
           AND id NOT IN (SELECT keep FROM (
             SELECT (SELECT x.id FROM notices x WHERE x.channel = c.channel AND x.ref IS NOT NULL AND (x.ref_order IS NOT NULL OR x.state = 'done')
                     ORDER BY x.ref_order IS NULL, x.ref_order DESC, x.finished_at DESC, x.rowid DESC LIMIT 1) AS keep
             FROM (SELECT DISTINCT channel FROM notices) c) WHERE keep IS NOT NULL)`,
      ),
      insertPosition: db.prepare(
        `INSERT INTO positions (device_id, worker_id, alarm_id, fix_at, received_at, lat, lon, accuracy_m, source)
         VALUES (@deviceId, @workerId, @alarmId, @fixAt, @receivedAt, @lat, @lon, @accuracyM, @source)`,
      ),
      latestPosition: db.prepare('SELECT * FROM positions WHERE device_id = ? ORDER BY fix_at DESC, id DESC LIMIT 1'),
      listPositions: db.prepare('SELECT * FROM positions WHERE device_id = ? AND fix_at >= ? AND fix_at <= ? ORDER BY fix_at, id LIMIT ?'),
      positionBefore: db.prepare(
        "SELECT * FROM positions WHERE device_id = ? AND fix_at < ? AND (alarm_id IS NULL OR alarm_id <> ?) ORDER BY fix_at DESC, id DESC LIMIT 1",
      ),
      listAlarmPositions: db.prepare('SELECT * FROM positions WHERE alarm_id = ? ORDER BY fix_at, id LIMIT ?'),
      prunePositions: db.prepare('DELETE FROM positions WHERE alarm_id IS NULL AND received_at < ?'),
      // Only forward: a heartbeat older than the one stored (the cluster's bulk lane redelivering a dead
      // worker's batch after newer ones were written, docs/cluster.md) changes nothing.
      heartbeat: db.prepare('UPDATE devices SET last_seen_at = @at, battery = @battery WHERE id = @id AND (last_seen_at IS NULL OR last_seen_at <= @at)'),
    };
  }

  private makeTx(): StoreTx {
    const s = () => this.stmt;
    const db = this.db;
    const alarmParams = (a: AlarmRecord) => ({
      ...a,
      drill: a.drill ? 1 : 0,
      stale: a.stale ? 1 : 0,
      policy: JSON.stringify(a.policy),
      dueAt: dueOf(a),
    });
    const single: Omit<StoreTx, keyof ReturnType<typeof rowByRow>> = {
      getDevice: async (id) => {
        const r = s().getDevice.get(id) as Row | undefined;
        return r ? deviceFromRow(r) : null;
      },
      insertDevice: async (d) => {
        // The last line of defence under the CLI and the API (issue 16): a drill fob of a real worker.
        const drill = drillPairingProblem(d.id, d.workerId);
        if (drill) throw new Error(drill);
        s().insertDevice.run({ ...d, online: d.online ? 1 : 0 });
      },
      updateDevice: async (id, changes) => {
        if (changes.workerId !== undefined) {
          const drill = drillPairingProblem(id, changes.workerId);
          if (drill) throw new Error(drill);
        }
        const sets = Object.keys(changes).filter((k) => k in DEVICE_COLUMNS);
        if (sets.length === 0) return;
        const sql = `UPDATE devices SET ${sets.map((k) => `${DEVICE_COLUMNS[k]} = ?`).join(', ')} WHERE id = ?`;
        db.prepare(sql).run(...sets.map((k) => toSqlValue((changes as Row)[k])), id);
      },
      listDevices: async () => (s().listDevices.all() as Row[]).map(deviceFromRow),
      listWorkerDevices: async (workerId) => (s().listWorkerDevices.all(workerId) as Row[]).map(deviceFromRow),
      advancePresence: async (id, at) => db.prepare('UPDATE devices SET presence_at = ? WHERE id = ? AND (presence_at IS NULL OR presence_at < ?)').run(at, id, at).changes === 1,
      getWorker: async (id) => {
        const r = s().getWorker.get(id) as Row | undefined;
        return r ? workerFromRow(r) : null;
      },
      upsertWorker: async (w) => {
        s().upsertWorker.run({ ...w, newStarter: w.newStarter ? 1 : 0 });
      },
      listWorkers: async () => (s().listWorkers.all() as Row[]).map(workerFromRow),
      listEmergencyContacts: async (workerId) => s().listEmergencyContacts.all(workerId) as EmergencyContact[],
      setEmergencyContacts: async (workerId, contacts) => {
        s().clearEmergencyContacts.run(workerId);
        contacts.forEach((c, i) => s().insertEmergencyContact.run(workerId, i, c.name, c.relationship, c.phone));
      },
      getContact: async (id) => {
        const r = s().getContact.get(id) as ContactRecord | undefined;
        return r ?? null;
      },
      upsertContact: async (c) => {
        s().upsertContact.run(c);
      },
      listContacts: async () => s().listContacts.all() as ContactRecord[],
      insertVisit: async (v) => {
        s().insertVisit.run({ ...v, unplanned: v.unplanned ? 1 : 0, policyFlags: JSON.stringify(v.policyFlags) });
      },
      updateVisit: async (id, changes) => {
        const sets = Object.keys(changes).filter((k) => k in VISIT_COLUMNS);
        if (sets.length === 0) return;
        const sql = `UPDATE visits SET ${sets.map((k) => `${VISIT_COLUMNS[k]} = ?`).join(', ')} WHERE id = ?`;
        db.prepare(sql).run(...sets.map((k) => toSqlValue((changes as Row)[k])), id);
      },
      getVisit: async (id) => {
        const r = s().getVisit.get(id) as Row | undefined;
        return r ? visitFromRow(r) : null;
      },
      listVisits: async (workerId, from, to) => (s().listVisits.all(workerId, from, to) as Row[]).map(visitFromRow),
      insertFobEvent: async (e: StoredFobEvent) => s().insertFobEvent.run(e).changes === 1,
      countFobEvents: async (deviceId) => Number((s().countFobEvents.get(deviceId) as Row).n),
      listFobEvents: async (deviceId, kind, since) => (s().listFobEvents.all(deviceId, kind, since) as Row[]).map(fobEventFromRow),
      insertAlarm: async (a) => {
        s().insertAlarm.run(alarmParams(a));
      },
      updateAlarm: async (a) => {
        s().updateAlarm.run(alarmParams(a));
      },
      getAlarm: async (id) => {
        const r = s().getAlarm.get(id) as Row | undefined;
        return r ? alarmFromRow(r) : null;
      },
      findAlarmBySource: async (deviceId, eventId) => {
        const r = s().findAlarmBySource.get(deviceId, eventId) as Row | undefined;
        return r ? alarmFromRow(r) : null;
      },
      listAlarms: async (f: AlarmFilter) => {
        const { sql, args } = listAlarmsSql(f, () => '?');
        return (db.prepare(sql).all(...args) as Row[]).map(alarmFromRow);
      },
      countAlarms: async (f: AlarmFilter) => {
        const { sql, args } = countAlarmsSql(f, () => '?');
        return Number((db.prepare(sql).get(...args) as { n: number }).n);
      },
      appendTimeline: async (alarmId, entries: TimelineEntry[]) => {
        for (const e of entries) s().appendTimeline.run(alarmId, e.at, e.type, e.actor, JSON.stringify(e.detail));
      },
      getTimeline: async (alarmId) =>
        (s().getTimeline.all(alarmId) as Row[]).map(
          (r): StoredTimelineEntry => ({
            seq: Number(r.seq),
            alarmId: String(r.alarm_id),
            at: Number(r.at),
            type: String(r.type),
            actor: String(r.actor),
            detail: JSON.parse(String(r.detail)),
          }),
        ),
      getCheckinState: async (workerId) => {
        const r = s().getCheckin.get(workerId) as Row | undefined;
        return r ? (JSON.parse(String(r.state)) as CheckinState) : null;
      },
      putCheckinState: async (state, dueAt) => {
        s().putCheckin.run(state.workerId, JSON.stringify(state), dueAt);
      },
      getDeviceHealth: async (deviceId) => {
        const r = s().getHealth.get(deviceId) as Row | undefined;
        return r ? (JSON.parse(String(r.state)) as DeviceHealthState) : null;
      },
      putDeviceHealth: async (state, dueAt) => {
        s().putHealth.run(state.deviceId, JSON.stringify(state), dueAt);
      },
      scheduleWork: async (kind, key, dueAt, payload) => {
        if (dueAt === null) {
          s().cancelWork.run(kind, key);
          return;
        }
        s().scheduleWork.get({ kind, key, dueAt, payload: payloadText(payload), owner: null, leaseUntil: null, attempts: 0 });
      },
      scheduleClaimed: async (kind, key, dueAt, payload, owner, leaseUntil) => {
        const r = s().scheduleWork.get({ kind, key, dueAt, payload: payloadText(payload), owner, leaseUntil, attempts: 1 }) as Row;
        return { kind, key, dueAt, payload: payload ?? null, attempts: 1, gen: Number(r.gen), owner, leaseUntil };
      },
      completeWork: async (work) => s().completeWork.run(workIdentity(work)).changes > 0,
      appendAudit: async (e: AuditEntry) => {
        s().appendAudit.run(e.at, e.actor, e.action, e.subject, JSON.stringify(e.detail));
      },
      appendChange: async (c) => {
        s().appendChange.run(c.at, c.topic, c.alarmId, JSON.stringify(c.detail));
        this.appended = true;
      },
      getUser: async (username) => {
        const r = s().getUser.get(username) as Row | undefined;
        return r ? userFromRow(r) : null;
      },
      insertUser: async (u) => {
        s().insertUser.run(u);
      },
      updateUser: async (username, changes) => {
        const sets = Object.keys(changes).filter((k) => k in USER_COLUMNS);
        if (sets.length === 0) return;
        const sql = `UPDATE users SET ${sets.map((k) => `${USER_COLUMNS[k]} = ?`).join(', ')} WHERE username = ?`;
        db.prepare(sql).run(...sets.map((k) => toSqlValue((changes as Row)[k])), username);
      },
      listUsers: async () => (s().listUsers.all() as Row[]).map(userFromRow),
      insertSession: async (session) => {
        s().insertSession.run(session);
      },
      getSession: async (idHash) => {
        const r = s().getSession.get(idHash) as Row | undefined;
        return r ? sessionFromRow(r) : null;
      },
      deleteSession: async (idHash) => {
        s().deleteSession.run(idHash);
      },
      deleteExpiredSessions: async (now) => s().deleteExpiredSessions.run(now).changes,
      deleteUserSessions: async (username) => s().deleteUserSessions.run(username).changes,
      countUserSessions: async (username, now) => Number((s().countUserSessions.get(username, now) as Row).n),
      insertApiToken: async (t) => {
        s().insertApiToken.run(t);
      },
      getApiTokenByHash: async (tokenHash) => {
        const r = s().getApiTokenByHash.get(tokenHash) as Row | undefined;
        return r ? tokenFromRow(r) : null;
      },
      updateApiToken: async (id, changes) => {
        const sets = Object.keys(changes).filter((k) => k in TOKEN_COLUMNS);
        if (sets.length === 0) return;
        const sql = `UPDATE api_tokens SET ${sets.map((k) => `${TOKEN_COLUMNS[k]} = ?`).join(', ')} WHERE id = ?`;
        db.prepare(sql).run(...sets.map((k) => toSqlValue((changes as Row)[k])), id);
      },
      listApiTokens: async () => (s().listApiTokens.all() as Row[]).map(tokenFromRow),
      insertNotice: async (n) =>
        s().insertNotice.run({ ...n, request: JSON.stringify(n.request), tried: JSON.stringify(n.tried) }).changes > 0,
      updateNotice: async (id, changes) => {
        const sets = Object.keys(changes).filter((k) => k in NOTICE_COLUMNS);
        if (sets.length === 0) return;
        const sql = `UPDATE notices SET ${sets.map((k) => `${NOTICE_COLUMNS[k]} = ?`).join(', ')} WHERE id = ?`;
        db.prepare(sql).run(...sets.map((k) => toSqlValue((changes as Row)[k])), id);
      },
      getNotice: async (id) => {
        const r = s().getNotice.get(id) as Row | undefined;
        return r ? noticeFromRow(r) : null;
      },
      getNoticeByOnceKey: async (key) => {
        const r = s().getNoticeByOnceKey.get(key) as Row | undefined;
        return r ? noticeFromRow(r) : null;
      },
      listNotices: async (alarmId) => (s().listNotices.all(alarmId) as Row[]).map(noticeFromRow),
      listNoticeChildren: async (parentId) => (s().listNoticeChildren.all(parentId) as Row[]).map(noticeFromRow),
      assignNoticeRef: async (id, ref) => {
        s().assignNoticeRef.run(ref, id);
      },
      findNoticeByRef: async (channel, ref) => {
        const r = s().findNoticeByRef.get(channel, ref) as Row | undefined;
        return r ? noticeFromRow(r) : null;
      },
      lastNoticeRef: async (channel) => {
        const r = s().lastNoticeRef.get(channel) as Row | undefined;
        return r ? String(r.ref) : null;
      },
      insertPosition: async (p) => {
        s().insertPosition.run(p);
      },
      latestPosition: async (deviceId) => {
        const r = s().latestPosition.get(deviceId) as Row | undefined;
        return r ? positionFromRow(r) : null;
      },
      listPositions: async (deviceId, from, to, limit) => (s().listPositions.all(deviceId, from, to, limit) as Row[]).map(positionFromRow),
      positionBefore: async (deviceId, before, exceptAlarmId) => {
        const r = s().positionBefore.get(deviceId, before, exceptAlarmId ?? '') as Row | undefined;
        return r ? positionFromRow(r) : null;
      },
      listAlarmPositions: async (alarmId, limit) => (s().listAlarmPositions.all(alarmId, limit) as Row[]).map(positionFromRow),
      prunePositions: async (before) => s().prunePositions.run(before).changes,
    };
    // The heartbeat batch (issue 19): row by row here, each statement a call in this process.
    return { ...single, ...rowByRow(single) };
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      this.appended = false;
      try {
        const result = await fn(this.tx);
        this.db.exec('COMMIT');
        this.tellAppended();
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        this.appended = false;
        throw err;
      }
    });
  }

  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    // Reads share the lock so they never observe half of a transaction on this connection.
    return this.lock.run(async () => {
      this.appended = false;
      try {
        return await fn(this.tx);
      } finally {
        // A change appended outside `transaction` committed on its own (autocommit).
        this.tellAppended();
      }
    });
  }

  /** Wakes this process's readers after the lock is released (they read the feed through it). */
  private tellAppended(): void {
    if (!this.appended) return;
    this.appended = false;
    for (const l of this.appendListeners) queueMicrotask(l);
  }

  onAppended(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  readChanges(afterSeq: number, limit: number): Promise<ChangeRecord[]> {
    return this.lock.run(async () =>
      (this.stmt.readChanges.all(afterSeq, limit) as Row[]).map((r) => ({
        seq: Number(r.seq),
        at: Number(r.at),
        topic: String(r.topic),
        alarmId: strOrNull(r.alarm_id),
        detail: JSON.parse(String(r.detail)) as Record<string, unknown>,
      })),
    );
  }

  lastChangeSeq(): Promise<number> {
    return this.lock.run(async () => Number((this.stmt.lastChangeSeq.get() as Row).seq));
  }

  firstChangeSeq(): Promise<number | null> {
    return this.lock.run(async () => numOrNull((this.stmt.firstChangeSeq.get() as Row).seq));
  }

  pruneChanges(before: number, keepRows: number): Promise<number> {
    return this.lock.run(async () => this.stmt.pruneChanges.run(before, keepRows).changes);
  }

  // ------------------------------------------------------------------------------------------
  // Leased due work (issue 18). This store has one connection in one process, and every write holds
  // the lock and runs in one IMMEDIATE transaction: a claim is a SELECT of the due rows and a plain
  // UPDATE of their lease, and nothing can claim between the two. (The PostgreSQL store does the
  // same with SELECT ... FOR UPDATE SKIP LOCKED, so that several hubs may claim at once.)

  claimDue(now: number, limit: number, owner: string, leaseMs: number): Promise<ClaimedWork[]> {
    return this.lock.run(async () =>
      this.withoutFsync(() =>
        this.db.transaction(() => {
          const due = this.stmt.dueToClaim.all({ now, limit }) as Row[];
          return due.map((r) => claimedFromRow(this.stmt.lease.get({ owner, leaseUntil: now + leaseMs, kind: r.kind, key: r.key }) as Row));
        }).immediate(),
      ),
    );
  }

  complete(work: ClaimedWork): Promise<boolean> {
    return this.lock.run(async () => this.withoutFsync(() => this.stmt.completeWork.run(workIdentity(work)).changes > 0));
  }

  /**
   * A claim and a completion are committed without their own fsync (WAL with synchronous NORMAL:
   * safe from a process crash, kill -9 included, and made durable by the next FULL commit). Lost to
   * a power cut, a claim only leaves its rows unleased (claimable at once, as an expired lease
   * would) and a completion only means the work is done again after the restart, which due work
   * allows (an effect re-run makes the same notice ids). Each fsync here would be one more commit
   * that a new SOS queues behind during a catch-up (issue 17 item 4), one per row and per batch.
   */
  private withoutFsync<T>(fn: () => T): T {
    this.db.pragma('synchronous = NORMAL');
    try {
      return fn();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  reschedule(work: ClaimedWork, dueAt: number, payload?: unknown): Promise<boolean> {
    return this.lock.run(async () => this.stmt.rescheduleWork.run({ ...workIdentity(work), dueAt, keep: payload === undefined ? 1 : 0, payload: payloadText(payload) }).changes > 0);
  }

  nextDueAt(): Promise<number | null> {
    return this.lock.run(async () => {
      const times = [this.stmt.nextUnleased.get() as Row, this.stmt.nextLeased.get() as Row].map((r) => r.at).filter((t) => t !== null && t !== undefined).map(Number);
      return times.length ? Math.min(...times) : null;
    });
  }

  countWork(dueBy?: number, kinds?: DueWorkKind[]): Promise<number> {
    return this.lock.run(async () => {
      if (!kinds) return Number((this.stmt.countWork.get(dueBy ?? Number.MAX_SAFE_INTEGER) as Row).n);
      const marks = kinds.map(() => '?').join(', ');
      const r = this.db.prepare(`SELECT COUNT(*) AS n FROM due_work WHERE due_at <= ? AND kind IN (${marks})`).get(dueBy ?? Number.MAX_SAFE_INTEGER, ...kinds) as Row;
      return Number(r.n);
    });
  }

  getWork(kind: DueWorkKind, key: string): Promise<DueWork | null> {
    return this.lock.run(async () => {
      const r = this.stmt.getWork.get(kind, key) as Row | undefined;
      return r ? workFromRow(r) : null;
    });
  }

  unarmedWorkersWithPlannedVisits(from: number, to: number): Promise<string[]> {
    return this.lock.run(async () => (this.stmt.unarmedWorkersWithPlannedVisits.all(from, to) as Row[]).map((r) => String(r.id)));
  }

  listWork(kind: DueWorkKind, limit: number): Promise<DueWork[]> {
    return this.lock.run(async () => (this.stmt.listWork.all(kind, limit) as Row[]).map(workFromRow));
  }

  unfinishedNotices(): Promise<NoticeRecord[]> {
    return this.lock.run(async () => (this.stmt.unfinishedNotices.all() as Row[]).map(noticeFromRow));
  }

  pruneNotices(closedBefore: number): Promise<number> {
    return this.lock.run(async () => this.stmt.pruneNotices.run(closedBefore).changes);
  }

  recordHeartbeats(beats: { deviceId: string; at: number; battery: number }[]): Promise<void> {
    return this.lock.run(async () => {
      const run = this.db.transaction(() => {
        for (const b of beats) this.stmt.heartbeat.run({ at: b.at, battery: b.battery, id: b.deviceId });
      });
      run();
    });
  }

  async externalChangeCounter(): Promise<number> {
    // SQLite §PRAGMA data_version: unchanged by this connection's own commits, changed by any other
    // connection's (another process on the same file). A query of the page cache, no table read.
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    return (this.stmt.listAudit.all(limit) as Row[]).map((r) => ({
      at: Number(r.at),
      actor: String(r.actor),
      action: String(r.action),
      subject: String(r.subject),
      detail: JSON.parse(String(r.detail)),
    }));
  }

  async close(): Promise<void> {
    await this.lock.run(async () => {
      if (this.reader?.db.open) this.reader.db.close();
      if (this.db.open) this.db.close();
    });
  }
}

function payloadText(payload: unknown): string | null {
  return payload === undefined || payload === null ? null : JSON.stringify(payload);
}

function workIdentity(w: ClaimedWork): { kind: string; key: string; gen: number; owner: string } {
  return { kind: w.kind, key: w.key, gen: w.gen, owner: w.owner };
}

function workFromRow(r: Row): DueWork {
  return { kind: String(r.kind) as DueWorkKind, key: String(r.key), dueAt: Number(r.due_at), payload: r.payload === null ? null : JSON.parse(String(r.payload)), attempts: Number(r.attempts) };
}

function claimedFromRow(r: Row): ClaimedWork {
  return { ...workFromRow(r), gen: Number(r.gen), owner: String(r.owner), leaseUntil: Number(r.lease_until) };
}

/** An alarm's one deadline: the earliest of its pending steps, while it is open. */
function dueOf(a: AlarmRecord): number | null {
  if (!isOpenState(a.state)) return null;
  const times = [a.nextStepAt, a.reAlertAt, a.policeAt].filter((t): t is number => t !== null);
  return times.length ? Math.min(...times) : null;
}
