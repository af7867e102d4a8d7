/**
 * Rows of the PostgreSQL store to records and back: pure, no I/O. node-postgres returns `bigint`
 * (and COUNT) as strings, because a JavaScript number cannot hold every int8; every time here is a
 * millisecond count well inside 2^53, so Number() is exact. `jsonb` comes back parsed.
 */
import type {
  AlarmRecord,
  ApiTokenRecord,
  ContactRecord,
  DeviceRecord,
  NoticeRecord,
  PositionRecord,
  SessionRecord,
  StoredFobEvent,
  StoredTimelineEntry,
  UserRecord,
  VisitRecord,
  WorkerRecord,
} from './store-types.js';
import type { AuditEntry, ChangeRecord, ClaimedWork, DueWork, DueWorkKind } from './store.js';
import { isOpenState } from '../../shared/vocabulary.js';

export type Row = Record<string, unknown>;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function deviceFromRow(r: Row): DeviceRecord {
  return {
    id: String(r.id),
    workerId: strOrNull(r.worker_id),
    board: strOrNull(r.board),
    secretHash: String(r.secret_hash),
    createdAt: num(r.created_at),
    revokedAt: numOrNull(r.revoked_at),
    lastSeenAt: numOrNull(r.last_seen_at),
    battery: numOrNull(r.battery),
    online: r.online === true,
    firmware: strOrNull(r.firmware),
  };
}

export function workerFromRow(r: Row): WorkerRecord {
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
    newStarter: r.new_starter === true,
    description: strOrNull(r.description),
  };
}

export function contactFromRow(r: Row): ContactRecord {
  return { id: String(r.id), name: String(r.name), role: String(r.role), email: strOrNull(r.email), phone: strOrNull(r.phone) };
}

export function visitFromRow(r: Row): VisitRecord {
  return {
    id: String(r.id),
    workerId: String(r.worker_id),
    ref: String(r.ref),
    scheduledStart: num(r.scheduled_start),
    expectedEnd: num(r.expected_end),
    riskCategory: Number(r.risk_category) === 2 ? 2 : 1,
    rag: r.rag as VisitRecord['rag'],
    checkinIntervalMin: numOrNull(r.checkin_interval_min),
    nextLocation: strOrNull(r.next_location),
    secondWorkerId: strOrNull(r.second_worker_id),
    status: r.status as VisitRecord['status'],
    startedAt: numOrNull(r.started_at),
    endedAt: numOrNull(r.ended_at),
    unplanned: r.unplanned === true,
    policyFlags: (r.policy_flags ?? []) as string[],
    contactName: strOrNull(r.contact_name),
    contactPhone: strOrNull(r.contact_phone),
  };
}

export function alarmFromRow(r: Row): AlarmRecord {
  return {
    id: String(r.id),
    kind: r.kind as AlarmRecord['kind'],
    state: r.state as AlarmRecord['state'],
    priority: num(r.priority),
    workerId: strOrNull(r.worker_id),
    deviceId: strOrNull(r.device_id),
    visitRef: strOrNull(r.visit_ref),
    sourceEventId: strOrNull(r.source_event_id),
    reason: String(r.reason),
    raisedAt: num(r.raised_at),
    acknowledgedAt: numOrNull(r.acknowledged_at),
    acknowledgedBy: strOrNull(r.acknowledged_by),
    closedAt: numOrNull(r.closed_at),
    closedBy: strOrNull(r.closed_by),
    drill: r.drill === true,
    policy: r.policy as AlarmRecord['policy'],
    level: num(r.level),
    round: num(r.round),
    nextStepAt: numOrNull(r.next_step_at),
    reAlertAt: numOrNull(r.re_alert_at),
    policeAt: numOrNull(r.police_at),
    lastSightingAt: numOrNull(r.last_sighting_at),
    stale: r.stale === true,
    outcome: strOrNull(r.outcome) as AlarmRecord['outcome'],
    workerCancelledAt: numOrNull(r.worker_cancelled_at),
  };
}

export function timelineFromRow(r: Row): StoredTimelineEntry {
  return { seq: num(r.seq), alarmId: String(r.alarm_id), at: num(r.at), type: String(r.type), actor: String(r.actor), detail: r.detail as Record<string, unknown> };
}

export function noticeFromRow(r: Row): NoticeRecord {
  return {
    id: String(r.id),
    alarmId: String(r.alarm_id),
    channel: String(r.channel),
    level: num(r.level),
    event: r.event === 'closed' || r.event === 'position' ? r.event : 'alert',
    parentId: strOrNull(r.parent_id),
    via: strOrNull(r.via),
    onceKey: strOrNull(r.once_key),
    request: r.request,
    tried: r.tried as string[],
    state: r.state as NoticeRecord['state'],
    outcome: strOrNull(r.outcome),
    ref: strOrNull(r.ref),
    attempts: num(r.attempts),
    fallbackPos: num(r.fallback_pos),
    firstAttemptAt: numOrNull(r.first_attempt_at),
    nextAttemptAt: numOrNull(r.next_attempt_at),
    createdAt: num(r.created_at),
    finishedAt: numOrNull(r.finished_at),
  };
}

export function userFromRow(r: Row): UserRecord {
  return {
    username: String(r.username),
    name: String(r.name),
    role: r.role as UserRecord['role'],
    passwordHash: String(r.password_hash),
    createdAt: num(r.created_at),
    disabledAt: numOrNull(r.disabled_at),
    workerId: strOrNull(r.worker_id),
  };
}

export function sessionFromRow(r: Row): SessionRecord {
  return { idHash: String(r.id_hash), username: String(r.username), csrf: String(r.csrf), createdAt: num(r.created_at), expiresAt: num(r.expires_at) };
}

export function tokenFromRow(r: Row): ApiTokenRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    role: r.role as ApiTokenRecord['role'],
    tokenHash: String(r.token_hash),
    createdBy: String(r.created_by),
    createdAt: num(r.created_at),
    revokedAt: numOrNull(r.revoked_at),
    lastUsedAt: numOrNull(r.last_used_at),
  };
}

export function auditFromRow(r: Row): AuditEntry {
  return { at: num(r.at), actor: String(r.actor), action: String(r.action), subject: String(r.subject), detail: r.detail as Record<string, unknown> };
}

export function workFromRow(r: Row): DueWork {
  return { kind: r.kind as DueWorkKind, key: String(r.key), dueAt: num(r.due_at), payload: r.payload ?? null, attempts: num(r.attempts) };
}

export function fobEventFromRow(r: Row): StoredFobEvent {
  return { deviceId: String(r.device_id), eventId: String(r.event_id), kind: String(r.kind), receivedAt: num(r.received_at), eventAt: num(r.event_at), payload: String(r.payload) };
}

export function positionFromRow(r: Row): PositionRecord {
  return {
    deviceId: String(r.device_id),
    workerId: strOrNull(r.worker_id),
    alarmId: strOrNull(r.alarm_id),
    fixAt: num(r.fix_at),
    receivedAt: num(r.received_at),
    lat: Number(r.lat),
    lon: Number(r.lon),
    accuracyM: Number(r.accuracy_m),
    source: r.source as PositionRecord['source'],
  };
}

export function claimedFromRow(r: Row): ClaimedWork {
  return {
    kind: r.kind as DueWorkKind,
    key: String(r.key),
    dueAt: num(r.due_at),
    payload: r.payload ?? null,
    attempts: num(r.attempts),
    gen: num(r.gen),
    owner: String(r.owner),
    leaseUntil: num(r.lease_until),
  };
}

export function changeFromRow(r: Row): ChangeRecord {
  return { seq: num(r.seq), at: num(r.at), topic: String(r.topic), alarmId: strOrNull(r.alarm_id), detail: r.detail as Record<string, unknown> };
}

/**
 * Record field -> column, for the partial updates; `json` columns are jsonb and get their value as
 * JSON text (node-postgres would send a JavaScript array as a PostgreSQL array, not as JSON).
 */
export interface ColumnMap {
  [field: string]: { column: string; json?: true };
}

export const DEVICE_COLUMNS: ColumnMap = {
  workerId: { column: 'worker_id' },
  board: { column: 'board' },
  secretHash: { column: 'secret_hash' },
  createdAt: { column: 'created_at' },
  revokedAt: { column: 'revoked_at' },
  lastSeenAt: { column: 'last_seen_at' },
  battery: { column: 'battery' },
  online: { column: 'online' },
  firmware: { column: 'firmware' },
};

export const VISIT_COLUMNS: ColumnMap = {
  workerId: { column: 'worker_id' },
  ref: { column: 'ref' },
  scheduledStart: { column: 'scheduled_start' },
  expectedEnd: { column: 'expected_end' },
  riskCategory: { column: 'risk_category' },
  rag: { column: 'rag' },
  checkinIntervalMin: { column: 'checkin_interval_min' },
  nextLocation: { column: 'next_location' },
  secondWorkerId: { column: 'second_worker_id' },
  status: { column: 'status' },
  startedAt: { column: 'started_at' },
  endedAt: { column: 'ended_at' },
  unplanned: { column: 'unplanned' },
  policyFlags: { column: 'policy_flags', json: true },
  contactName: { column: 'contact_name' },
  contactPhone: { column: 'contact_phone' },
};

export const NOTICE_COLUMNS: ColumnMap = {
  alarmId: { column: 'alarm_id' },
  channel: { column: 'channel' },
  level: { column: 'level' },
  event: { column: 'event' },
  parentId: { column: 'parent_id' },
  via: { column: 'via' },
  onceKey: { column: 'once_key' },
  request: { column: 'request', json: true },
  tried: { column: 'tried', json: true },
  state: { column: 'state' },
  outcome: { column: 'outcome' },
  ref: { column: 'ref' },
  attempts: { column: 'attempts' },
  fallbackPos: { column: 'fallback_pos' },
  firstAttemptAt: { column: 'first_attempt_at' },
  nextAttemptAt: { column: 'next_attempt_at' },
  createdAt: { column: 'created_at' },
  finishedAt: { column: 'finished_at' },
};

export const USER_COLUMNS: ColumnMap = {
  name: { column: 'name' },
  role: { column: 'role' },
  passwordHash: { column: 'password_hash' },
  createdAt: { column: 'created_at' },
  disabledAt: { column: 'disabled_at' },
  workerId: { column: 'worker_id' },
};

export const TOKEN_COLUMNS: ColumnMap = { revokedAt: { column: 'revoked_at' }, lastUsedAt: { column: 'last_used_at' } };

/**
 * `UPDATE <table> SET a = $1, b = $2::jsonb WHERE <key> = $3` for the known fields of `changes`
 * (unknown ones are ignored and a field given as undefined becomes NULL, as in the SQLite store);
 * null when nothing is to change.
 */
export function partialUpdate(table: string, keyColumn: string, key: string, changes: object, columns: ColumnMap): { sql: string; values: unknown[] } | null {
  const fields = Object.keys(changes).filter((k) => k in columns);
  if (fields.length === 0) return null;
  const values: unknown[] = [];
  const sets = fields.map((f) => {
    const c = columns[f]!;
    const v = (changes as Row)[f] ?? null;
    values.push(c.json ? JSON.stringify(v) : v);
    return `${c.column} = $${values.length}${c.json ? '::jsonb' : ''}`;
  });
  values.push(key);
  return { sql: `UPDATE ${table} SET ${sets.join(', ')} WHERE ${keyColumn} = $${values.length}`, values };
}

/** An alarm's one deadline: the earliest of its pending steps, while it is open (as the SQLite store). */
export function alarmDueAt(a: AlarmRecord): number | null {
  if (!isOpenState(a.state)) return null;
  const times = [a.nextStepAt, a.reAlertAt, a.policeAt].filter((t): t is number => t !== null);
  return times.length ? Math.min(...times) : null;
}
