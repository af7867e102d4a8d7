/**
 * The hub's durable state, behind an interface. Every change goes through `transaction`, whose
 * callback gets a StoreTx: one atomic unit of reads and writes, committed durably before the returned
 * promise resolves. SQLite (sqlite-store.ts) is the embedded default; a PostgreSQL implementation for a
 * cluster of hubs implements the same interface with BEGIN/COMMIT and row locks.
 */
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

export interface AlarmFilter {
  open?: boolean;
  workerId?: string;
  deviceId?: string;
  kind?: string;
  limit?: number;
  /** newest first (the default), or the dashboard's order: open first, loudest kind, newest (hub/store/alarm-list-sql.ts). */
  order?: 'newest' | 'loudest';
}

/**
 * Leased due work (issue 18): one table of everything the hub must do at a time (a rule deadline, an
 * effect committed with its change, the next attempt of an alert notice). A worker claims due rows
 * with a lease; while the lease holds nobody else gets them; a worker that dies leaves rows whose
 * lease expires to another (SQLite: one owner, a plain UPDATE; PostgreSQL: `FOR UPDATE SKIP LOCKED`,
 * issue 19). `gen` changes whenever the row is scheduled again, so completing an old claim never
 * deletes work that was moved while it was being done.
 */
export type DueWorkKind = 'alarm' | 'worker' | 'device' | 'effect' | 'notice' | 'callback' | 'periodic';

/** The kinds that are steps of an alarm, a worker, a device or a notice: what a restart's catch-up counts (periodic work is not a step). */
export const STEP_WORK_KINDS: DueWorkKind[] = ['alarm', 'worker', 'device', 'effect', 'notice', 'callback'];

export interface DueWork {
  kind: DueWorkKind;
  /** Unique within the kind: an alarm, worker or device id, an effect id, a notice id, an alarm id (callback), a job (periodic). */
  key: string;
  dueAt: number;
  /** JSON-serialisable; an effect's body, for example. Null for deadlines. */
  payload: unknown;
  /** How many times this row was claimed without being completed or rescheduled (a crashed worker's batch). */
  attempts: number;
}

export interface ClaimedWork extends DueWork {
  /** The generation claimed: complete/reschedule act only if the row is still this one. */
  gen: number;
  owner: string;
  leaseUntil: number;
}

/**
 * The change feed (issue 18): an ordered log in the store, appended in the same transaction as the
 * change, that the dashboard's live events and the alert publisher read instead of an in-process
 * EventEmitter, so that any process (a second HTTP node in a cluster, issue 19) sees every change.
 */
export interface ChangeRecord {
  /** Strictly increasing, assigned by the store at commit. */
  seq: number;
  at: number;
  /** What changed: 'alarm' (with alarmId), 'worker', 'device', 'path' (a forwarding path's state), ... */
  topic: string;
  alarmId: string | null;
  /** Small JSON detail, e.g. { type: 'notify', level: 2 }. */
  detail: Record<string, unknown>;
}

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
}

/**
 * What a Store adds for leased due work and the change feed (issue 18). The Tx halves are written
 * in the same transaction as the state they belong to; the Store halves drive the one loop
 * (hub/rules/due-work-loop.ts) and the readers. Store and StoreTx extend DueWork*; and ChangeFeed*.
 */
export interface DueWorkTx {
  /**
   * Arms or moves (a new generation, unleased, attempts 0) the work `kind:key`; with dueAt null,
   * cancels it. Scheduling a row that is leased takes it from its holder: the holder's complete and
   * reschedule then answer false and leave the new row alone.
   */
  scheduleWork(kind: DueWorkKind, key: string, dueAt: number | null, payload?: unknown): Promise<void>;
  /**
   * Writes new work already leased to `owner` until `leaseUntil` (one attempt): an effect the
   * committing process carries out itself right after the commit, so a new alarm's alert never
   * queues behind a catch-up; if that process dies first, the lease expires and the loop of whoever
   * claims it next runs it. The key must be new (an existing row is replaced, as by scheduleWork).
   */
  scheduleClaimed(kind: DueWorkKind, key: string, dueAt: number, payload: unknown, owner: string, leaseUntil: number): Promise<ClaimedWork>;
  /** Removes claimed work in the transaction that did it, if it is still the claimed generation and lease holder; false if it was moved or taken meanwhile. */
  completeWork(work: ClaimedWork): Promise<boolean>;
}

export interface ChangeFeedTx {
  /**
   * Appends to the change feed, in the transaction that makes the change: a rolled-back transaction
   * leaves no change behind, a committed one is never without its change. The seq is assigned in
   * commit order (SQLite: one writer at a time, so insertion order is commit order).
   */
  appendChange(change: Omit<ChangeRecord, 'seq'>): Promise<void>;
}

export interface DueWorkStore {
  /**
   * Leases up to `limit` rows due at or before `now` whose lease is free or expired (lease_until <=
   * now), earliest due first (then kind, then key), to `owner` until `now + leaseMs`; each claim
   * counts an attempt. SQLite: one process, so the lease is a plain UPDATE inside one write
   * transaction; PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so hubs of a cluster never claim the
   * same row (issue 19).
   */
  claimDue(now: number, limit: number, owner: string, leaseMs: number): Promise<ClaimedWork[]>;
  /** Removes claimed work if it is still the claimed generation and lease holder (false: it was moved or taken meanwhile). */
  complete(work: ClaimedWork): Promise<boolean>;
  /**
   * Moves claimed work to a new time (a retry; with the payload, if given), a new generation with
   * the lease released and attempts back to 0, if it is still the claimed generation and holder.
   */
  reschedule(work: ClaimedWork, dueAt: number, payload?: unknown): Promise<boolean>;
  /**
   * The earliest time at which claimDue could return anything: the earliest due time of unleased
   * work, or for leased work the later of its due time and its lease's end; null when there is none.
   */
  nextDueAt(): Promise<number | null>;
  /** How many rows are due at or before `dueBy` (all rows without it); leased ones too. */
  countWork(dueBy?: number, kinds?: DueWorkKind[]): Promise<number>;
  /** One row, leased or not, or null: for status screens and tests. */
  getWork(kind: DueWorkKind, key: string): Promise<DueWork | null>;
  /** Rows of a kind, earliest due first, at most `limit`: for status screens and tests. */
  listWork(kind: DueWorkKind, limit: number): Promise<DueWork[]>;
  /**
   * Ids (in id order) of the workers who have a planned visit starting in [from, to) and no
   * `worker` due work: visits recorded while no hub ran, never armed, which the start steps once
   * (rules-runtime.ts). One query, whatever the number of workers: asked worker by worker, two
   * reads each, it kept a restarted cluster worker on 51,100 workers from being ready for 90 s.
   */
  unarmedWorkersWithPlannedVisits(from: number, to: number): Promise<string[]>;
}

export interface ChangeFeedStore {
  /** Changes after `afterSeq`, oldest first, at most `limit`. */
  readChanges(afterSeq: number, limit: number): Promise<ChangeRecord[]>;
  /** The last change's seq (0 when none): where a new reader starts. */
  lastChangeSeq(): Promise<number>;
  /** The oldest change still kept (null when none): a reader behind it has missed pruned changes. */
  firstChangeSeq(): Promise<number | null>;
  /**
   * Bounds the feed (it is a log for readers that fell behind, not a history: the timeline and
   * audit are the record): deletes changes older than `before`, and beyond the newest `keepRows`.
   * Returns how many were deleted.
   */
  pruneChanges(before: number, keepRows: number): Promise<number>;
  /**
   * Calls `listener` after every commit of this process that appended a change, so readers here are
   * woken at once; other processes' commits are found by polling readChanges, and told of sooner
   * where the store has listenChanges. Returns an unsubscribe.
   */
  onAppended(listener: () => void): () => void;
  /**
   * Where the store can tell of other processes' commits (PostgreSQL's LISTEN/NOTIFY): calls
   * `onChange(seq)` after each commit by any instance on the same database, and once when listening
   * has begun; `onError` when the listening connection is lost (listen again). Returns a stop. A
   * store without it (SQLite) is polled only.
   */
  listenChanges?(onChange: (seq: number) => void, onError?: (err: Error) => void): Promise<() => Promise<void>>;
}

/** One heartbeat for StoreTx.recordBeats: the edge's (or the hub's) received time and the battery. */
export interface HeartbeatIn {
  deviceId: string;
  at: number;
  battery: number;
}

/** What recordBeats answers for a device the batch moved forward. */
export interface BeatContext {
  /** The device as stored after the beat. */
  device: DeviceRecord;
  /** The beat applied (the device's newest in the batch). */
  beat: HeartbeatIn;
  health: DeviceHealthState | null;
  /** The device's worker's check-in state (its shift), null without a worker or a stored state. */
  shift: CheckinState | null;
}

export interface StoreTx extends ChangeFeedTx, DueWorkTx {
  // devices
  getDevice(id: string): Promise<DeviceRecord | null>;
  insertDevice(device: DeviceRecord): Promise<void>;
  updateDevice(id: string, changes: Partial<Omit<DeviceRecord, 'id'>>): Promise<void>;
  listDevices(): Promise<DeviceRecord[]>;
  /**
   * The devices assigned to one worker, revoked ones included, by id: what a worker's own step
   * needs (a missed check-in's alarm, a prompt to the worker's fobs, a worker's last position)
   * without reading the whole fleet into the hub (at 50,000 devices, every row of the table).
   */
  listWorkerDevices(workerId: string): Promise<DeviceRecord[]>;
  /**
   * Takes `at` (the edge's received time of a presence, "online" or "offline") as the device's last
   * applied presence if it is newer than the one stored (schema v11 `presence_at`), and answers
   * true; false, changing nothing, when the stored one is as new or newer (a presence handled out of
   * order: docs/cluster.md "Alarms ahead of bulk traffic") or the device is unknown.
   */
  advancePresence(id: string, at: number): Promise<boolean>;
  // people
  getWorker(id: string): Promise<WorkerRecord | null>;
  upsertWorker(worker: WorkerRecord): Promise<void>;
  /** The worker's emergency contacts as records, in the admin's order (schema v10, issue 15 item 13). */
  listEmergencyContacts(workerId: string): Promise<EmergencyContact[]>;
  /** Replaces the worker's emergency contacts with these, in this order. */
  setEmergencyContacts(workerId: string, contacts: EmergencyContact[]): Promise<void>;
  listWorkers(): Promise<WorkerRecord[]>;
  getContact(id: string): Promise<ContactRecord | null>;
  upsertContact(contact: ContactRecord): Promise<void>;
  listContacts(): Promise<ContactRecord[]>;
  // itinerary
  insertVisit(visit: VisitRecord): Promise<void>;
  updateVisit(id: string, changes: Partial<Omit<VisitRecord, 'id'>>): Promise<void>;
  getVisit(id: string): Promise<VisitRecord | null>;
  /** Visits of a worker whose scheduled start lies in [from, to). */
  listVisits(workerId: string, from: number, to: number): Promise<VisitRecord[]>;
  // fob events: the unique key (deviceId, eventId) makes a retried event a no-op
  /** false when the event was already stored (a retry). */
  insertFobEvent(event: StoredFobEvent): Promise<boolean>;
  countFobEvents(deviceId: string): Promise<number>;
  /**
   * A device's stored events of one kind received at or after `since`, oldest first (by received
   * time). The ingest looks here for a cancel that reached the hub before the alarm it names.
   */
  listFobEvents(deviceId: string, kind: string, since: number): Promise<StoredFobEvent[]>;
  // alarms and their append-only timeline (R19, R20)
  insertAlarm(alarm: AlarmRecord): Promise<void>;
  updateAlarm(alarm: AlarmRecord): Promise<void>;
  getAlarm(id: string): Promise<AlarmRecord | null>;
  findAlarmBySource(deviceId: string, eventId: string): Promise<AlarmRecord | null>;
  listAlarms(filter: AlarmFilter): Promise<AlarmRecord[]>;
  /** How many alarms the filter matches (its limit and order ignored): the board's "N active" beside the ones it lists. */
  countAlarms(filter: AlarmFilter): Promise<number>;
  appendTimeline(alarmId: string, entries: TimelineEntry[]): Promise<void>;
  getTimeline(alarmId: string): Promise<StoredTimelineEntry[]>;
  // rule engine state; `dueAt` is kept beside the state as a record, the schedule is due work (scheduleWork)
  getCheckinState(workerId: string): Promise<CheckinState | null>;
  putCheckinState(state: CheckinState, dueAt: number | null): Promise<void>;
  getDeviceHealth(deviceId: string): Promise<DeviceHealthState | null>;
  putDeviceHealth(state: DeviceHealthState, dueAt: number | null): Promise<void>;
  // A batch of heartbeats in one transaction (issue 19, docs/cluster.md "Heartbeat cost on
  // PostgreSQL"): a bounded number of statements per batch, whatever its size, instead of a few per
  // device. SQLite runs them row by row in-process (no round trips); PostgreSQL as one statement each.
  /**
   * Records the batch's heartbeats on their devices and reads what the health rules need. Keeps each
   * device's newest beat of the batch (`at`, then the later in the list on a tie); a beat moves its
   * device's `lastSeenAt`/`battery` only forward (a stored `lastSeenAt` later than `at`: nothing
   * changes, and the device is not answered), and a device that is unknown or revoked changes nothing
   * and is not answered. Answers, in device id order, each device the batch moved (as now stored),
   * with the beat applied, its health state (null: none yet) and its worker's check-in state (null:
   * no worker, or none yet).
   */
  recordBeats(beats: readonly HeartbeatIn[]): Promise<BeatContext[]>;
  /** putDeviceHealth for many devices (one statement on PostgreSQL). */
  putDeviceHealths(rows: readonly { state: DeviceHealthState; dueAt: number | null }[]): Promise<void>;
  /** putCheckinState for many workers (one statement on PostgreSQL). */
  putCheckinStates(rows: readonly { state: CheckinState; dueAt: number | null }[]): Promise<void>;
  /** scheduleWork (no payload) for many keys of one kind: dueAt arms or moves each, null cancels it. */
  scheduleWorkMany(kind: DueWorkKind, rows: readonly { key: string; dueAt: number | null }[]): Promise<void>;
  /** listVisits for many workers at once, ordered by worker id, then scheduled start. */
  listVisitsOf(workerIds: readonly string[], from: number, to: number): Promise<VisitRecord[]>;
  // alert forwarding notices (issue 7), durable so a restart resumes the ones being retried
  /** false when a notice with this id, or this onceKey, is already stored. */
  insertNotice(notice: NoticeRecord): Promise<boolean>;
  updateNotice(id: string, changes: Partial<Omit<NoticeRecord, 'id'>>): Promise<void>;
  getNotice(id: string): Promise<NoticeRecord | null>;
  getNoticeByOnceKey(onceKey: string): Promise<NoticeRecord | null>;
  listNotices(alarmId: string): Promise<NoticeRecord[]>;
  listNoticeChildren(parentId: string): Promise<NoticeRecord[]>;
  /** Keeps the reference given to a notice before its first send (the DC-09 sequence number), in the order given. */
  assignNoticeRef(id: string, ref: string): Promise<void>;
  /**
   * The reference last given out on a channel (the ARC's sequence number), finished notice or not;
   * for notices from before references were kept in order, the last one delivered. Null when none.
   */
  lastNoticeRef(channel: string): Promise<string | null>;
  /** The latest notice on a channel sent with this far-end reference (an SMS message reference or gateway id). */
  findNoticeByRef(channel: string, ref: string): Promise<NoticeRecord | null>;
  // positions (issue 20): private to the worker (R22)
  insertPosition(position: PositionRecord): Promise<void>;
  /** The device's fix with the latest fix time, or null. */
  latestPosition(deviceId: string): Promise<PositionRecord | null>;
  /** The device's fixes with fixAt in [from, to], oldest first, at most `limit`. */
  listPositions(deviceId: string, from: number, to: number, limit: number): Promise<PositionRecord[]>;
  /** The device's latest fix before `before` that is not one of `exceptAlarmId`'s (the last known place before an alarm). */
  positionBefore(deviceId: string, before: number, exceptAlarmId: string | null): Promise<PositionRecord | null>;
  /** The alarm's own fixes (came with it or arrived while it was open), oldest first, at most `limit`. */
  listAlarmPositions(alarmId: string, limit: number): Promise<PositionRecord[]>;
  /**
   * Deletes fixes received before `before` that belong to no alarm (an alarm's positions are part of
   * its record, R19/R20, and stay). Returns how many.
   */
  prunePositions(before: number): Promise<number>;
  // audit of views of private details (R22) and admin actions
  appendAudit(entry: AuditEntry): Promise<void>;
  // dashboard users, sessions and API tokens (issue 6)
  getUser(username: string): Promise<UserRecord | null>;
  insertUser(user: UserRecord): Promise<void>;
  updateUser(username: string, changes: Partial<Omit<UserRecord, 'username'>>): Promise<void>;
  listUsers(): Promise<UserRecord[]>;
  insertSession(session: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | null>;
  deleteSession(idHash: string): Promise<void>;
  /** Removes sessions that expired before `now`; returns how many. */
  deleteExpiredSessions(now: number): Promise<number>;
  /** Signs a user out everywhere (a lost phone, a leaver); returns how many sessions ended. */
  deleteUserSessions(username: string): Promise<number>;
  countUserSessions(username: string, now: number): Promise<number>;
  insertApiToken(token: ApiTokenRecord): Promise<void>;
  getApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | null>;
  updateApiToken(id: string, changes: Partial<Pick<ApiTokenRecord, 'revokedAt' | 'lastUsedAt'>>): Promise<void>;
  listApiTokens(): Promise<ApiTokenRecord[]>;
}

/**
 * Reads that never queue behind write transactions (issue 17 bug): a fob's CONNECT is answered from
 * the last committed state even while a catch-up or a heartbeat burst holds the writer. Optional: a
 * Store without it is read through `read`, behind its writes.
 */
export interface UnqueuedReads {
  /** The device as last committed, without waiting for pending write transactions. */
  getDeviceUnqueued(id: string): Promise<DeviceRecord | null>;
}

/**
 * A fingerprint of the device roster: what DeviceWatch acts on (each device's id, worker and
 * revocation), and nothing else (not liveness, battery or online). Optional: a Store without it has
 * the devices re-read on every external change. On PostgreSQL every other node's commit (each
 * heartbeat batch) is an external change, and re-reading 50,000 devices in every node every 2 s was
 * a large share of the cluster's CPU (issue 19, docs/cluster.md "Where an SOS's time goes").
 */
export interface DeviceRosterDigest {
  /** Changes when a device is added, removed, revoked or given to another worker. */
  deviceRosterDigest(): Promise<string>;
}

/**
 * How a write transaction isolates itself from other Store instances on the same database (issue 19,
 * docs/cluster.md "Heartbeat batches of two workers"). SQLite has one writer and ignores it.
 */
export interface TransactionOptions {
  /**
   * `serializable` (the default): PostgreSQL SERIALIZABLE, what SQLite's single writer gives.
   * `row_locked`: PostgreSQL READ COMMITTED, for a transaction whose reads that matter are all row
   * locks it takes itself (the heartbeat batch: StoreTx.recordBeats locks each moved device, its
   * health row and its worker's check-in row, in key order), so two such transactions on disjoint
   * rows never abort each other over predicate locks on shared pages or whole tables.
   */
  isolation?: 'serializable' | 'row_locked';
}

export interface Store extends ChangeFeedStore, DueWorkStore {
  transaction<T>(fn: (tx: StoreTx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Read-only access outside a write transaction (consistent snapshot per call). */
  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** Notices not yet delivered or given up, oldest first, for resuming them at start-up. */
  unfinishedNotices(): Promise<NoticeRecord[]>;
  /**
   * Deletes finished notices of alarms closed before `closedBefore`, except, per channel, the one
   * `lastNoticeRef` answers with (the next DC-09 sequence number follows it). Returns how many.
   */
  pruneNotices(closedBefore: number): Promise<number>;
  /** Batched device liveness updates (heartbeats): one transaction for many devices. */
  recordHeartbeats(beats: { deviceId: string; at: number; battery: number }[]): Promise<void>;
  listAudit(limit: number): Promise<AuditEntry[]>;
  /**
   * A number that changes whenever another process (the `lonewatch` CLI, which opens the database
   * file directly) has committed a change since the last call; the hub's own writes leave it alone.
   * Cheap enough to poll every few seconds (SQLite: PRAGMA data_version).
   */
  externalChangeCounter(): Promise<number>;
  close(): Promise<void>;
}
