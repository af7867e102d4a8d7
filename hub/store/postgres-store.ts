/**
 * The Store on PostgreSQL (issue 19), for a cluster of hubs sharing one database; the embedded
 * single process keeps SQLite (sqlite-store.ts). Same interface, same semantics, held to the same
 * contract suite (test/store/store-contract.ts):
 *
 * - `transaction` runs BEGIN ISOLATION LEVEL SERIALIZABLE ... COMMIT on one pooled connection. Within
 *   one Store instance transactions run one at a time (as on SQLite), but for those asked for ahead
 *   (tx-timing.ts `txAhead`: the cluster worker's ordered lane, its SOS), which run one at a time
 *   among themselves on a writer of their own, beside the others; against other processes, and
 *   between those two writers, SERIALIZABLE gives what SQLite's single writer gives (no lost
 *   update, no write skew), and a transaction that PostgreSQL aborts for that (SQLSTATE 40001
 *   serialization_failure, 40P01 deadlock_detected; PostgreSQL §13.2.3 "applications using this level
 *   must be prepared to retry transactions due to serialization failures") is run again from the
 *   start, at most MAX_ATTEMPTS times. The callback may therefore run more than once: it must not do
 *   anything outside the StoreTx that cannot be repeated.
 * - `read` is a REPEATABLE READ READ ONLY transaction: one snapshot for the whole callback.
 * - Leased due work: `claimDue` is one `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)`
 *   statement, so two claimers never take the same row and neither waits for the other.
 * - The change feed: `appendChange` holds the changes until the transaction's end, then inserts them
 *   under a transaction-level advisory lock just before COMMIT and sends `NOTIFY lw_changes`, which
 *   PostgreSQL delivers only if and when the transaction commits (§NOTIFY). Holding the lock from the
 *   insert to the commit makes seqs commit in order (a reader never skips a seq that commits late).
 */
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { drillPairingProblem } from '../rules/drill.js';
import type { Logger } from '../logger.js';
import { txAhead, txTiming, type TxTiming, type WriteStats } from './tx-timing.js';
import { AsyncLock } from './async-lock.js';
import type {
  AuditEntry,
  AlarmFilter,
  BeatContext,
  ChangeFeedStore,
  ChangeFeedTx,
  ChangeRecord,
  ClaimedWork,
  DueWork,
  DueWorkKind,
  DueWorkStore,
  DueWorkTx,
  Store,
  StoreTx,
  TransactionOptions,
  UnqueuedReads,
  DeviceRosterDigest,
} from './store.js';
import type { AlarmRecord, DeviceRecord, NoticeRecord } from './store-types.js';
import type { EmergencyContact } from '../admin/emergency-contacts.js';
import type { CheckinState } from '../rules/checkin-engine.js';
import type { DeviceHealthState } from '../rules/device-health-engine.js';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from './postgres-schema.js';
import { newestBeats } from './heartbeat-batch.js';
import { describePostgresUrl, isRetryable, PostgresStoreError, StoreConflictError } from './postgres-errors.js';
import { countAlarmsSql, listAlarmsSql } from './alarm-list-sql.js';
import { unarmedWorkersSql } from './unarmed-workers-sql.js';

export { describePostgresUrl, PostgresStoreError, StoreConflictError };
import {
  alarmDueAt,
  alarmFromRow,
  auditFromRow,
  changeFromRow,
  claimedFromRow,
  contactFromRow,
  deviceFromRow,
  noticeFromRow,
  partialUpdate,
  positionFromRow,
  sessionFromRow,
  timelineFromRow,
  tokenFromRow,
  userFromRow,
  visitFromRow,
  workerFromRow,
  workFromRow,
  DEVICE_COLUMNS,
  NOTICE_COLUMNS,
  TOKEN_COLUMNS,
  USER_COLUMNS,
  VISIT_COLUMNS,
  fobEventFromRow,
  type Row,
} from './postgres-rows.js';

/** The channel other nodes LISTEN on to hear of new changes; the payload is the last seq committed. */
export const CHANGE_CHANNEL = 'lw_changes';
/** Advisory lock keys (pg_advisory_*): any 64-bit number this schema owns. 0x4c57 is "LW". */
const MIGRATION_LOCK = 0x4c57_0001;
const CHANGE_LOCK = 0x4c57_0002;
const MAX_ATTEMPTS = 10;

export type PgTx = StoreTx & DueWorkTx & ChangeFeedTx;

/** The store_writes row of an instance's ahead writer. */
const aheadWriter = (writerId: string): string => `${writerId}/ahead`;

/**
 * The pooled connection with its query() counted into `timing.statements` (tx-timing.ts); every
 * other property is the connection's own (prototype), and query runs on the connection itself.
 */
function countingQueries(client: pg.PoolClient, timing: TxTiming): pg.PoolClient {
  const wrapper = Object.create(client) as pg.PoolClient;
  const query = ((...args: Parameters<pg.PoolClient['query']>) => {
    timing.statements++;
    return (client.query as (...a: unknown[]) => unknown)(...args);
  }) as pg.PoolClient['query'];
  Object.defineProperty(wrapper, 'query', { value: query });
  return wrapper;
}

type Q = pg.PoolClient | pg.Pool;

const WRITE_METHOD = /^(insert|update|upsert|put|add|append|delete|assign|schedule|complete|record)/;

export interface PostgresStoreOptions {
  /** Most pooled connections (default 10): one for the write transaction, the rest for reads and claims. */
  poolMax?: number;
  /** A name for this instance in store_writes (default a random id); its ahead writer's row is `<writerId>/ahead`. */
  writerId?: string;
  /** Where lost connections are said (default: nowhere). */
  log?: Logger;
}

export class PostgresStore implements Store, DueWorkStore, ChangeFeedStore, UnqueuedReads, DeviceRosterDigest {
  private readonly lock = new AsyncLock();
  /**
   * The second writer: transactions asked for ahead (txAhead, the cluster worker's ordered lane) run
   * one at a time under this lock, beside the one holding `lock` (a heartbeat batch, a due-work
   * step), not after it. Inside one worker an SOS waited p50 10 ms, p99 66-101 ms for the one
   * writer at 50,000 fobs (docs/cluster.md "Where an SOS's time goes"). The two are two connections,
   * as two workers' transactions are: PostgreSQL keeps them apart as it keeps the workers apart
   * (SERIALIZABLE, row locks; one that loses is run again). Each has its own store_writes row, so
   * they never update the same row of their own.
   */
  private readonly aheadLock = new AsyncLock();
  /** What the write transactions cost (tx-timing.ts WriteStats; the cluster worker's /timings). */
  readonly writeStats: WriteStats = { transactions: 0, waitMs: 0, busyMs: 0, untimedTransactions: 0, untimedBusyMs: 0 };
  private closed = false;
  /** This process's change-feed readers, woken after each commit that appended a change (ChangeFeedStore.onAppended). */
  private readonly appendListeners = new Set<() => void>();

  private constructor(
    readonly pool: pg.Pool,
    readonly where: string,
    private readonly writerId: string,
  ) {}

  /** Connects, creates or migrates the schema, and returns the store; throws PostgresStoreError saying what to fix. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const where = describePostgresUrl(url);
    const pool = new pg.Pool({ connectionString: url, max: opts.poolMax ?? 10 });
    // An idle pooled connection that the server drops (a restart) must not crash the hub: it is
    // said, and the next query gets a new connection (or its own error, with what to do).
    const log = opts.log?.child({ component: 'store' });
    pool.on('error', (err) => log?.warn({ err, postgres: where }, 'a PostgreSQL connection of the pool was lost; the next transaction opens a new one'));
    const store = new PostgresStore(pool, where, opts.writerId ?? randomUUID());
    try {
      await store.migrate();
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof PostgresStoreError) throw err;
      throw new PostgresStoreError(`cannot open the PostgreSQL store at ${where} (store.postgres_url): ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      // Two hubs starting together: one migrates, the other waits and then finds it done.
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)');
        const r = await client.query<{ version: number }>('SELECT version FROM schema_version');
        const current = r.rows.length ? Number(r.rows[0]!.version) : 0;
        if (current > POSTGRES_SCHEMA_VERSION) {
          throw new PostgresStoreError(`database ${this.where} has schema version ${current}, newer than this hub (${POSTGRES_SCHEMA_VERSION}): upgrade the hub`);
        }
        // Each step runs in one transaction with its version bump: a crash mid-way leaves the old version.
        for (let version = current; version < POSTGRES_SCHEMA_VERSION; ) {
          const step = POSTGRES_MIGRATIONS[version];
          if (!step) throw new PostgresStoreError(`database ${this.where} has schema version ${version}, which this hub cannot migrate`);
          await client.query('BEGIN');
          try {
            await client.query(step.sql);
            await step.data?.(client);
            await client.query('DELETE FROM schema_version');
            await client.query('INSERT INTO schema_version (version) VALUES ($1)', [step.to]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
          version = step.to;
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }

  /** The schema version in the database (for tests and `lonewatch` diagnostics). */
  async schemaVersion(): Promise<number> {
    const r = await this.pool.query<{ version: number }>('SELECT version FROM schema_version');
    return r.rows.length ? Number(r.rows[0]!.version) : 0;
  }

  transaction<T>(fn: (tx: PgTx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    // Timed in detail only when the caller asked (hub/store/tx-timing.ts: the cluster worker's lanes).
    const timings = txTiming.getStore();
    const queued = performance.now();
    const ahead = txAhead.getStore() === true;
    return (ahead ? this.aheadLock : this.lock).run(() => {
      const waitMs = performance.now() - queued;
      const t: TxTiming | null = timings ? { waitMs, runMs: 0, commitMs: 0, attempts: 0, statements: 0 } : null;
      if (t) timings!.push(t);
      const started = performance.now();
      return this.runTransaction(fn, t, options.isolation ?? 'serializable', ahead ? aheadWriter(this.writerId) : this.writerId).finally(() => {
        const runMs = performance.now() - started;
        if (t) t.runMs = runMs;
        this.writeStats.transactions++;
        this.writeStats.waitMs += waitMs;
        this.writeStats.busyMs += runMs;
        if (!t) {
          this.writeStats.untimedTransactions++;
          this.writeStats.untimedBusyMs += runMs;
        }
      });
    });
  }

  private async runTransaction<T>(fn: (tx: PgTx) => Promise<T>, timing: TxTiming | null, isolation: NonNullable<TransactionOptions['isolation']>, writer: string): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const pooled = await this.connect();
      // Counting statements wraps the connection's query(); only when timed.
      const client = timing ? countingQueries(pooled, timing) : pooled;
      if (timing) timing.attempts = attempt;
      const changes: Omit<ChangeRecord, 'seq'>[] = [];
      const state = { wrote: false };
      try {
        // row_locked (the heartbeat batch, TransactionOptions): READ COMMITTED, because two workers'
        // batches of disjoint devices aborted each other under SERIALIZABLE (docs/cluster.md
        // "Heartbeat batches of two workers": the statements' sequential scans took relation-level
        // predicate locks, PostgreSQL §13.2.3, and every batch upserts store_writes and due_work). What
        // the batch must not lose is kept by row locks instead: recordBeats' UPDATE re-checks the
        // forward-only condition on the newest row version after waiting (§13.2.1), and it locks each
        // moved device's health row and its worker's check-in row before reading them, so a health
        // engine is stepped from the state last committed, once per change.
        await client.query(isolation === 'row_locked' ? 'BEGIN ISOLATION LEVEL READ COMMITTED' : 'BEGIN ISOLATION LEVEL SERIALIZABLE');
        const result = await fn(this.makeTx(client, changes, state, false));
        if (changes.length > 0) await this.insertChanges(client, changes);
        if (state.wrote || changes.length > 0) {
          await client.query(
            `INSERT INTO store_writes (writer, n) VALUES ($1, nextval('store_write_seq'))
             ON CONFLICT (writer) DO UPDATE SET n = excluded.n`,
            [writer],
          );
        }
        const committing = performance.now();
        await client.query('COMMIT');
        if (timing) timing.commitMs = performance.now() - committing;
        pooled.release();
        if (changes.length > 0) for (const l of this.appendListeners) queueMicrotask(l);
        return result;
      } catch (err) {
        const rolledBack = await client.query('ROLLBACK').then(
          () => true,
          () => false,
        );
        // A connection that cannot even roll back is broken: the pool drops it instead of reusing it.
        pooled.release(rolledBack ? undefined : (err as Error));
        if (isRetryable(err)) {
          if (attempt >= MAX_ATTEMPTS) throw new StoreConflictError(attempt, err);
          // A short random pause so two conflicting hubs do not collide again in step.
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
          continue;
        }
        throw err;
      }
    }
  }

  async read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await fn(this.makeTx(client, [], { wrote: false }, true));
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      client.release(rolledBack ? undefined : (err as Error));
      throw err;
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    if (this.closed) throw new PostgresStoreError('the PostgreSQL store is closed');
    try {
      return await this.pool.connect();
    } catch (err) {
      throw new PostgresStoreError(`cannot reach PostgreSQL at ${this.where} (store.postgres_url): ${(err as Error).message}`, { cause: err });
    }
  }

  /** Seqs are taken under the lock, which is held to COMMIT: seq order is commit order. */
  private async insertChanges(client: pg.PoolClient, changes: Omit<ChangeRecord, 'seq'>[]): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock($1)', [CHANGE_LOCK]);
    // The rows and the NOTIFY of the last seq in one statement (one round trip fewer in every
    // transaction that writes a change; the NOTIFY is still delivered only at COMMIT, §NOTIFY). A
    // data-modifying WITH runs once, whether or not its rows are read (§7.8.4).
    await client.query(
      `WITH ins AS (
         INSERT INTO changes (at, topic, alarm_id, detail)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[])
         RETURNING seq
       )
       SELECT pg_notify($5, (SELECT max(seq) FROM ins)::text)`,
      [changes.map((c) => c.at), changes.map((c) => c.topic), changes.map((c) => c.alarmId), changes.map((c) => JSON.stringify(c.detail ?? {})), CHANGE_CHANNEL],
    );
  }

  private makeTx(client: pg.PoolClient, changes: Omit<ChangeRecord, 'seq'>[], state: { wrote: boolean }, readOnly: boolean): PgTx {
    const q = async (sql: string, values: unknown[] = []): Promise<Row[]> => (await client.query(sql, values)).rows as Row[];
    const one = async (sql: string, values: unknown[] = []): Promise<Row | null> => (await q(sql, values))[0] ?? null;
    const exec = async (sql: string, values: unknown[] = []): Promise<number> => (await client.query(sql, values)).rowCount ?? 0;
    /**
     * The same row read twice in a row (an SOS reads its device twice, and its worker's check-in
     * state twice, once for the ingest and once for the rules): the second is answered from the
     * first, one round trip fewer each. Any other call on this transaction moves `generation` on
     * and so forgets it, a write in between above all; a read that another call overtook while it
     * was out is not kept. Each caller gets its own copy.
     */
    let generation = 0;
    let memo: { key: string; generation: number; value: unknown } | null = null;
    const readAgain = async <T>(key: string, read: () => Promise<T>): Promise<T> => {
      if (memo && memo.key === key && memo.generation === generation) return structuredClone(memo.value) as T;
      const at = generation;
      const value = await read();
      if (generation === at) memo = { key, generation: at, value: structuredClone(value) };
      return value;
    };
    /**
     * Engine states (device_health, worker_state) of the given keys, locked FOR UPDATE in key order
     * (recordBeats: why), a missing row first made holding JSON null. Table and column are ours.
     */
    const lockStates = async (table: 'device_health' | 'worker_state', idColumn: 'device_id' | 'worker_id', keys: string[]): Promise<Map<string, unknown>> => {
      const out = new Map<string, unknown>();
      if (keys.length === 0) return out;
      const sorted = [...new Set(keys)].sort();
      await exec(`INSERT INTO ${table} (${idColumn}, state, due_at) SELECT k, 'null'::jsonb, NULL FROM unnest($1::text[]) AS u(k) ORDER BY k COLLATE "C" ON CONFLICT DO NOTHING`, [sorted]);
      const rows = await q(`SELECT ${idColumn} AS k, state FROM ${table} WHERE ${idColumn} = ANY($1::text[]) ORDER BY ${idColumn} COLLATE "C" FOR UPDATE`, [sorted]);
      for (const r of rows) out.set(r.k as string, r.state);
      return out;
    };
    /** An engine state table (device_health, worker_state) upserted in one statement; table and column are ours, never input. */
    const putStates = async <R extends { state: object; dueAt: number | null }>(table: 'device_health' | 'worker_state', idColumn: 'device_id' | 'worker_id', rows: R[], idOf: (r: R) => string): Promise<void> => {
      if (rows.length === 0) return;
      await exec(
        `INSERT INTO ${table} (${idColumn}, state, due_at) SELECT * FROM unnest($1::text[], $2::jsonb[], $3::bigint[])
         ON CONFLICT (${idColumn}) DO UPDATE SET state=excluded.state, due_at=excluded.due_at`,
        [rows.map(idOf), rows.map((r) => JSON.stringify(r.state)), rows.map((r) => r.dueAt)],
      );
    };
    const alarmValues = (a: AlarmRecord) => [
      a.id, a.kind, a.state, a.priority, a.workerId, a.deviceId, a.visitRef, a.sourceEventId, a.reason, a.raisedAt,
      a.acknowledgedAt, a.acknowledgedBy, a.closedAt, a.closedBy, a.drill, JSON.stringify(a.policy), a.level, a.round,
      a.nextStepAt, a.reAlertAt, a.policeAt, a.lastSightingAt, alarmDueAt(a), a.stale === true, a.outcome ?? null, a.workerCancelledAt ?? null,
    ];
    const tx: PgTx = {
      getDevice: async (id) =>
        readAgain(`device ${id}`, async () => {
          const r = await one('SELECT * FROM devices WHERE id = $1', [id]);
          return r ? deviceFromRow(r) : null;
        }),
      insertDevice: async (d) => {
        // The last line of defence under the CLI and the API (issue 16): a drill fob of a real worker.
        const drill = drillPairingProblem(d.id, d.workerId);
        if (drill) throw new Error(drill);
        await exec(
          `INSERT INTO devices (id, worker_id, board, secret_hash, created_at, revoked_at, last_seen_at, battery, online, firmware)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [d.id, d.workerId, d.board, d.secretHash, d.createdAt, d.revokedAt, d.lastSeenAt, d.battery, d.online, d.firmware],
        );
      },
      updateDevice: async (id, changes) => {
        if (changes.workerId !== undefined) {
          const drill = drillPairingProblem(id, changes.workerId);
          if (drill) throw new Error(drill);
        }
        const u = partialUpdate('devices', 'id', id, changes, DEVICE_COLUMNS);
        if (u) await exec(u.sql, u.values);
      },
      listDevices: async () => (await q('SELECT * FROM devices ORDER BY id COLLATE "C"')).map(deviceFromRow),
      listWorkerDevices: async (workerId) => (await q('SELECT * FROM devices WHERE worker_id = $1 ORDER BY id COLLATE "C"', [workerId])).map(deviceFromRow),
      advancePresence: async (id, at) => (await exec('UPDATE devices SET presence_at = $2 WHERE id = $1 AND (presence_at IS NULL OR presence_at < $2)', [id, at])) === 1,
      getWorker: async (id) => {
        const r = await one('SELECT * FROM workers WHERE id = $1', [id]);
        return r ? workerFromRow(r) : null;
      },
      upsertWorker: async (w) => {
        await exec(
          `INSERT INTO workers (id, name, phone, home_address, medical_notes, car, emergency_contacts, buddy_id, line_manager_id, training_date, new_starter, description)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (id) DO UPDATE SET name=excluded.name, phone=excluded.phone, home_address=excluded.home_address,
             medical_notes=excluded.medical_notes, car=excluded.car, emergency_contacts=excluded.emergency_contacts,
             buddy_id=excluded.buddy_id, line_manager_id=excluded.line_manager_id, training_date=excluded.training_date,
             new_starter=excluded.new_starter, description=excluded.description`,
          [w.id, w.name, w.phone, w.homeAddress, w.medicalNotes, w.car, w.emergencyContacts, w.buddyId, w.lineManagerId, w.trainingDate, w.newStarter, w.description ?? null],
        );
      },
      listEmergencyContacts: async (workerId) =>
        (await q('SELECT name, relationship, phone FROM worker_emergency_contacts WHERE worker_id = $1 ORDER BY position', [workerId])).map(
          (r): EmergencyContact => ({ name: String(r.name), relationship: (r.relationship as string | null) ?? null, phone: (r.phone as string | null) ?? null }),
        ),
      setEmergencyContacts: async (workerId, contacts) => {
        await exec('DELETE FROM worker_emergency_contacts WHERE worker_id = $1', [workerId]);
        if (contacts.length === 0) return;
        // One statement; WITH ORDINALITY numbers them in the order given (position from 0, as SQLite's).
        await exec(
          `INSERT INTO worker_emergency_contacts (worker_id, position, name, relationship, phone)
           SELECT $1::text, c.n - 1, c.name, c.relationship, c.phone
           FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS c(name, relationship, phone, n)`,
          [workerId, contacts.map((c) => c.name), contacts.map((c) => c.relationship), contacts.map((c) => c.phone)],
        );
      },
      // COLLATE "C": byte order, as SQLite's BINARY collation sorts, whatever the database's locale.
      listWorkers: async () => (await q('SELECT * FROM workers ORDER BY name COLLATE "C"')).map(workerFromRow),
      getContact: async (id) => {
        const r = await one('SELECT * FROM contacts WHERE id = $1', [id]);
        return r ? contactFromRow(r) : null;
      },
      upsertContact: async (c) => {
        await exec(
          `INSERT INTO contacts (id, name, role, email, phone) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET name=excluded.name, role=excluded.role, email=excluded.email, phone=excluded.phone`,
          [c.id, c.name, c.role, c.email, c.phone],
        );
      },
      listContacts: async () => (await q('SELECT * FROM contacts ORDER BY role COLLATE "C", name COLLATE "C"')).map(contactFromRow),
      insertVisit: async (v) => {
        await exec(
          `INSERT INTO visits (id, worker_id, ref, scheduled_start, expected_end, risk_category, rag, checkin_interval_min, next_location,
             second_worker_id, status, started_at, ended_at, unplanned, policy_flags, contact_name, contact_phone)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16, $17)`,
          [v.id, v.workerId, v.ref, v.scheduledStart, v.expectedEnd, v.riskCategory, v.rag, v.checkinIntervalMin, v.nextLocation,
            v.secondWorkerId, v.status, v.startedAt, v.endedAt, v.unplanned, JSON.stringify(v.policyFlags), v.contactName ?? null, v.contactPhone ?? null],
        );
      },
      updateVisit: async (id, changes) => {
        const u = partialUpdate('visits', 'id', id, changes, VISIT_COLUMNS);
        if (u) await exec(u.sql, u.values);
      },
      getVisit: async (id) => {
        const r = await one('SELECT * FROM visits WHERE id = $1', [id]);
        return r ? visitFromRow(r) : null;
      },
      listVisits: async (workerId, from, to) =>
        (await q('SELECT * FROM visits WHERE worker_id = $1 AND scheduled_start >= $2 AND scheduled_start < $3 ORDER BY scheduled_start', [workerId, from, to])).map(visitFromRow),
      insertFobEvent: async (e) =>
        (await exec(
          `INSERT INTO fob_events (device_id, event_id, kind, received_at, event_at, payload) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (device_id, event_id) DO NOTHING`,
          [e.deviceId, e.eventId, e.kind, e.receivedAt, e.eventAt, e.payload],
        )) === 1,
      countFobEvents: async (deviceId) => Number((await one('SELECT COUNT(*) AS n FROM fob_events WHERE device_id = $1', [deviceId]))!.n),
      listFobEvents: async (deviceId, kind, since) =>
        (
          await q(
            `SELECT device_id, event_id, kind, received_at, event_at, payload FROM fob_events
             WHERE device_id = $1 AND kind = $2 AND received_at >= $3 ORDER BY received_at, event_id`,
            [deviceId, kind, since],
          )
        ).map(fobEventFromRow),
      insertAlarm: async (a) => {
        await exec(
          `INSERT INTO alarms (id, kind, state, priority, worker_id, device_id, visit_ref, source_event_id, reason, raised_at,
             acknowledged_at, acknowledged_by, closed_at, closed_by, drill, policy, level, round, next_step_at, re_alert_at, police_at,
             last_sighting_at, due_at, stale, outcome, worker_cancelled_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::jsonb, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)`,
          alarmValues(a),
        );
      },
      updateAlarm: async (a) => {
        // The same columns the SQLite store updates: kind, worker, device, source, reason, raised_at,
        // drill, policy and stale are fixed when the alarm is raised.
        const v = alarmValues(a);
        await exec(
          `UPDATE alarms SET state=$2, priority=$3, visit_ref=$4, acknowledged_at=$5, acknowledged_by=$6, closed_at=$7, closed_by=$8,
             level=$9, round=$10, next_step_at=$11, re_alert_at=$12, police_at=$13, last_sighting_at=$14, due_at=$15,
             outcome=$16, worker_cancelled_at=$17
           WHERE id=$1`,
          [v[0], v[2], v[3], v[6], v[10], v[11], v[12], v[13], v[16], v[17], v[18], v[19], v[20], v[21], v[22], v[24], v[25]],
        );
      },
      getAlarm: async (id) => {
        const r = await one('SELECT * FROM alarms WHERE id = $1', [id]);
        return r ? alarmFromRow(r) : null;
      },
      findAlarmBySource: async (deviceId, eventId) => {
        const r = await one('SELECT * FROM alarms WHERE device_id = $1 AND source_event_id = $2', [deviceId, eventId]);
        return r ? alarmFromRow(r) : null;
      },
      listAlarms: async (f: AlarmFilter) => {
        const { sql, args } = listAlarmsSql(f, (n) => `$${n}`);
        return (await q(sql, args)).map(alarmFromRow);
      },
      countAlarms: async (f: AlarmFilter) => {
        const { sql, args } = countAlarmsSql(f, (n) => `$${n}`);
        // COUNT(*) is a bigint, which node-postgres hands over as a string.
        return Number((await one(sql, args))!.n);
      },
      appendTimeline: async (alarmId, entries) => {
        if (entries.length === 0) return;
        // One statement; WITH ORDINALITY keeps the entries' order in their seqs.
        await exec(
          `INSERT INTO alarm_timeline (alarm_id, at, type, actor, detail)
           SELECT $1::text, e.at, e.type, e.actor, e.detail
           FROM unnest($2::bigint[], $3::text[], $4::text[], $5::jsonb[]) WITH ORDINALITY AS e(at, type, actor, detail, n) ORDER BY e.n`,
          [alarmId, entries.map((e) => e.at), entries.map((e) => e.type), entries.map((e) => e.actor), entries.map((e) => JSON.stringify(e.detail))],
        );
      },
      getTimeline: async (alarmId) => (await q('SELECT * FROM alarm_timeline WHERE alarm_id = $1 ORDER BY seq', [alarmId])).map(timelineFromRow),
      getCheckinState: async (workerId) =>
        readAgain(`checkin ${workerId}`, async () => {
          const r = await one('SELECT state FROM worker_state WHERE worker_id = $1', [workerId]);
          return r ? (r.state as CheckinState) : null;
        }),
      putCheckinState: async (s, dueAt) => {
        await exec(
          `INSERT INTO worker_state (worker_id, state, due_at) VALUES ($1, $2::jsonb, $3)
           ON CONFLICT (worker_id) DO UPDATE SET state=excluded.state, due_at=excluded.due_at`,
          [s.workerId, JSON.stringify(s), dueAt],
        );
      },
      getDeviceHealth: async (deviceId) => {
        const r = await one('SELECT state FROM device_health WHERE device_id = $1', [deviceId]);
        return r ? (r.state as DeviceHealthState) : null;
      },
      putDeviceHealth: async (s, dueAt) => {
        await exec(
          `INSERT INTO device_health (device_id, state, due_at) VALUES ($1, $2::jsonb, $3)
           ON CONFLICT (device_id) DO UPDATE SET state=excluded.state, due_at=excluded.due_at`,
          [s.deviceId, JSON.stringify(s), dueAt],
        );
      },
      // The heartbeat batch (issue 19, docs/cluster.md "Heartbeat cost on PostgreSQL"): each method one
      // statement (scheduleWorkMany two), whatever the batch's size, where the per-device methods cost
      // a round trip per row. Rows are written in key order (newestBeats, lastByKey), so two workers'
      // batches lock shared rows the same way round.
      recordBeats: async (beats) => {
        const newest = newestBeats(beats);
        if (newest.length === 0) return [];
        // 1. The forward-only update (as recordHeartbeats, and skipping revoked devices). It locks each
        // device it moves until the transaction ends; a device another batch holds is waited for and
        // then re-checked on its newest version (READ COMMITTED's re-check, PostgreSQL §13.2.1), so
        // liveness only moves forward whichever batch commits first. The beats go in id order
        // (newestBeats), but the order the UPDATE locks rows in is the plan's: should two batches
        // sharing devices ever lock them the other way round, PostgreSQL detects the deadlock and
        // the store runs the transaction again (40P01, as any other).
        const movedRows = await q(
          `WITH b AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[]) AS u(id, at, battery) ORDER BY id)
           UPDATE devices d SET last_seen_at = b.at, battery = b.battery FROM b
           WHERE d.id = b.id AND d.revoked_at IS NULL AND (d.last_seen_at IS NULL OR d.last_seen_at <= b.at)
           RETURNING d.*`,
          [newest.map((b) => b.deviceId), newest.map((b) => b.at), newest.map((b) => b.battery)],
        );
        const moved = movedRows.map(deviceFromRow).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        if (moved.length === 0) return [];
        // 2. The engine states the caller steps and writes back (read-modify-write): locked before they
        // are read, each in a statement of its own, so under READ COMMITTED the read is the state last
        // committed (a new snapshot per statement, taken after the locks are held) and nobody writes
        // it until this transaction ends; a SERIALIZABLE writer of the same row (a device's tick)
        // then waits and is aborted and retried (40001), reading this batch's state. A row not there
        // yet cannot be locked, so it is first made, holding JSON null ("no state yet": the
        // getters answer null, as for no row); a concurrent insert of the same row is waited for.
        const healthOf = await lockStates('device_health', 'device_id', moved.map((d) => d.id));
        const workerIds = [...new Set(moved.map((d) => d.workerId).filter((w): w is string => w !== null))];
        const shiftOf = await lockStates('worker_state', 'worker_id', workerIds);
        const beatOf = new Map(newest.map((b) => [b.deviceId, b]));
        return moved.map((device): BeatContext => ({
          device,
          beat: beatOf.get(device.id)!,
          health: (healthOf.get(device.id) as DeviceHealthState | null | undefined) ?? null,
          shift: device.workerId ? ((shiftOf.get(device.workerId) as CheckinState | null | undefined) ?? null) : null,
        }));
      },
      putDeviceHealths: (rowsIn) => putStates('device_health', 'device_id', lastByKey(rowsIn, (r) => r.state.deviceId), (r) => r.state.deviceId),
      putCheckinStates: (rowsIn) => putStates('worker_state', 'worker_id', lastByKey(rowsIn, (r) => r.state.workerId), (r) => r.state.workerId),
      scheduleWorkMany: async (kind, rowsIn) => {
        const rows = lastByKey(rowsIn, (r) => r.key);
        const armed = rows.filter((r) => r.dueAt !== null);
        const cancelled = rows.filter((r) => r.dueAt === null).map((r) => r.key);
        if (cancelled.length > 0) await exec('DELETE FROM due_work WHERE kind = $1 AND key = ANY($2::text[])', [kind, cancelled]);
        if (armed.length === 0) return;
        // As scheduleWork: a new generation, lease and attempts cleared, no payload.
        await exec(
          `INSERT INTO due_work (kind, key, due_at, payload) SELECT $1::text, u.key, u.due_at, NULL FROM unnest($2::text[], $3::bigint[]) AS u(key, due_at)
           ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload,
             gen = nextval('due_work_gen'), owner = NULL, lease_until = NULL, attempts = 0`,
          [kind, armed.map((r) => r.key), armed.map((r) => r.dueAt)],
        );
      },
      listVisitsOf: async (workerIds, from, to) =>
        workerIds.length === 0
          ? []
          : (
              await q('SELECT * FROM visits WHERE worker_id = ANY($1::text[]) AND scheduled_start >= $2 AND scheduled_start < $3 ORDER BY worker_id COLLATE "C", scheduled_start', [
                [...new Set(workerIds)],
                from,
                to,
              ])
            ).map(visitFromRow),
      insertNotice: async (n: NoticeRecord) =>
        (await exec(
          `INSERT INTO notices (id, alarm_id, channel, level, event, parent_id, via, once_key, request, tried, state, outcome, ref,
             attempts, fallback_pos, first_attempt_at, next_attempt_at, created_at, finished_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $12, $13, $14, $15, $16, $17, $18, $19)
           ON CONFLICT DO NOTHING`,
          [n.id, n.alarmId, n.channel, n.level, n.event, n.parentId, n.via, n.onceKey, JSON.stringify(n.request ?? null), JSON.stringify(n.tried),
            n.state, n.outcome, n.ref, n.attempts, n.fallbackPos, n.firstAttemptAt, n.nextAttemptAt, n.createdAt, n.finishedAt],
        )) > 0,
      updateNotice: async (id, changes) => {
        const u = partialUpdate('notices', 'id', id, changes, NOTICE_COLUMNS);
        if (u) await exec(u.sql, u.values);
      },
      getNotice: async (id) => {
        const r = await one('SELECT * FROM notices WHERE id = $1', [id]);
        return r ? noticeFromRow(r) : null;
      },
      getNoticeByOnceKey: async (key) => {
        const r = await one('SELECT * FROM notices WHERE once_key = $1', [key]);
        return r ? noticeFromRow(r) : null;
      },
      listNotices: async (alarmId) => (await q('SELECT * FROM notices WHERE alarm_id = $1 ORDER BY created_at, row_no', [alarmId])).map(noticeFromRow),
      listNoticeChildren: async (parentId) => (await q('SELECT * FROM notices WHERE parent_id = $1 ORDER BY row_no', [parentId])).map(noticeFromRow),
      assignNoticeRef: async (id, ref) => {
        await exec('UPDATE notices SET ref = $1, ref_order = (SELECT COALESCE(MAX(ref_order), 0) + 1 FROM notices) WHERE id = $2', [ref, id]);
      },
      lastNoticeRef: async (channel) => {
        // NULLS LAST: SQLite sorts NULL below every value, so DESC puts it last; PostgreSQL's default is the opposite.
        const r = await one(
          `SELECT ref FROM notices WHERE channel = $1 AND ref IS NOT NULL AND (ref_order IS NOT NULL OR state = 'done')
           ORDER BY ref_order IS NULL, ref_order DESC NULLS LAST, finished_at DESC NULLS LAST, row_no DESC LIMIT 1`,
          [channel],
        );
        return r ? String(r.ref) : null;
      },
      findNoticeByRef: async (channel, ref) => {
        const r = await one('SELECT * FROM notices WHERE channel = $1 AND ref = $2 ORDER BY created_at DESC, row_no DESC LIMIT 1', [channel, ref]);
        return r ? noticeFromRow(r) : null;
      },
      appendAudit: async (e: AuditEntry) => {
        await exec('INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5::jsonb)', [e.at, e.actor, e.action, e.subject, JSON.stringify(e.detail)]);
      },
      getUser: async (username) => {
        const r = await one('SELECT * FROM users WHERE username = $1', [username]);
        return r ? userFromRow(r) : null;
      },
      insertUser: async (u) => {
        await exec(
          'INSERT INTO users (username, name, role, password_hash, created_at, disabled_at, worker_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [u.username, u.name, u.role, u.passwordHash, u.createdAt, u.disabledAt, u.workerId],
        );
      },
      updateUser: async (username, changes) => {
        const u = partialUpdate('users', 'username', username, changes, USER_COLUMNS);
        if (u) await exec(u.sql, u.values);
      },
      listUsers: async () => (await q('SELECT * FROM users ORDER BY username COLLATE "C"')).map(userFromRow),
      insertSession: async (s) => {
        await exec('INSERT INTO sessions (id_hash, username, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [s.idHash, s.username, s.csrf, s.createdAt, s.expiresAt]);
      },
      getSession: async (idHash) => {
        const r = await one('SELECT * FROM sessions WHERE id_hash = $1', [idHash]);
        return r ? sessionFromRow(r) : null;
      },
      deleteSession: async (idHash) => {
        await exec('DELETE FROM sessions WHERE id_hash = $1', [idHash]);
      },
      deleteExpiredSessions: async (now) => exec('DELETE FROM sessions WHERE expires_at < $1', [now]),
      deleteUserSessions: async (username) => exec('DELETE FROM sessions WHERE username = $1', [username]),
      countUserSessions: async (username, now) => Number((await one('SELECT COUNT(*) AS n FROM sessions WHERE username = $1 AND expires_at >= $2', [username, now]))!.n),
      insertApiToken: async (t) => {
        await exec(
          `INSERT INTO api_tokens (id, name, role, token_hash, created_by, created_at, revoked_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [t.id, t.name, t.role, t.tokenHash, t.createdBy, t.createdAt, t.revokedAt, t.lastUsedAt],
        );
      },
      getApiTokenByHash: async (tokenHash) => {
        const r = await one('SELECT * FROM api_tokens WHERE token_hash = $1', [tokenHash]);
        return r ? tokenFromRow(r) : null;
      },
      updateApiToken: async (id, changes) => {
        const u = partialUpdate('api_tokens', 'id', id, changes, TOKEN_COLUMNS);
        if (u) await exec(u.sql, u.values);
      },
      listApiTokens: async () => (await q('SELECT * FROM api_tokens ORDER BY created_at')).map(tokenFromRow),
      // positions (issue 20); `id` breaks ties of fix_at in insertion order, as SQLite's rowid does
      insertPosition: async (p) => {
        await exec(
          `INSERT INTO positions (device_id, worker_id, alarm_id, fix_at, received_at, lat, lon, accuracy_m, source)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [p.deviceId, p.workerId, p.alarmId, p.fixAt, p.receivedAt, p.lat, p.lon, p.accuracyM, p.source],
        );
      },
      latestPosition: async (deviceId) => {
        const r = await one('SELECT * FROM positions WHERE device_id = $1 ORDER BY fix_at DESC, id DESC LIMIT 1', [deviceId]);
        return r ? positionFromRow(r) : null;
      },
      listPositions: async (deviceId, from, to, limit) =>
        (await q('SELECT * FROM positions WHERE device_id = $1 AND fix_at >= $2 AND fix_at <= $3 ORDER BY fix_at, id LIMIT $4', [deviceId, from, to, limit])).map(positionFromRow),
      positionBefore: async (deviceId, before, exceptAlarmId) => {
        const r = await one(
          'SELECT * FROM positions WHERE device_id = $1 AND fix_at < $2 AND (alarm_id IS NULL OR alarm_id <> $3) ORDER BY fix_at DESC, id DESC LIMIT 1',
          [deviceId, before, exceptAlarmId ?? ''],
        );
        return r ? positionFromRow(r) : null;
      },
      listAlarmPositions: async (alarmId, limit) => (await q('SELECT * FROM positions WHERE alarm_id = $1 ORDER BY fix_at, id LIMIT $2', [alarmId, limit])).map(positionFromRow),
      prunePositions: async (before) => exec('DELETE FROM positions WHERE alarm_id IS NULL AND received_at < $1', [before]),
      // leased due work, written with the state it belongs to
      scheduleWork: async (kind, key, dueAt, payload) => scheduleWork(client, kind, key, dueAt, payload),
      scheduleClaimed: async (kind, key, dueAt, payload, owner, leaseUntil) => {
        const r = await one(
          `INSERT INTO due_work (kind, key, due_at, payload, owner, lease_until, attempts) VALUES ($1, $2, $3, $4::jsonb, $5, $6, 1)
           ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload,
             gen = nextval('due_work_gen'), owner = excluded.owner, lease_until = excluded.lease_until, attempts = 1
           RETURNING *`,
          [kind, key, dueAt, payloadJson(payload), owner, leaseUntil],
        );
        return claimedFromRow(r!);
      },
      completeWork: async (work) => completeClaim(client, work),
      // the change feed: inserted at the transaction's end (see insertChanges)
      appendChange: async (change) => {
        if (readOnly) throw new PostgresStoreError('appendChange inside store.read: changes are written in a transaction');
        changes.push(change);
      },
    };
    // Any call but the two reads kept (readAgain) forgets what they kept; any write marks the
    // transaction, for externalChangeCounter (store_writes).
    for (const name of Object.keys(tx) as (keyof PgTx)[]) {
      if (name === 'getDevice' || name === 'getCheckinState') continue;
      const writes = WRITE_METHOD.test(name) && name !== 'appendChange';
      const fn = tx[name] as (...args: unknown[]) => Promise<unknown>;
      (tx as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        generation++;
        if (writes) state.wrote = true;
        return fn(...args);
      };
    }
    return tx;
  }

  /**
   * A write statement of its own (heartbeats, claims, completions): under this instance's ordinary
   * write lock, as on SQLite, because a statement of ours updating a row that our own SERIALIZABLE
   * transaction also touches would abort that transaction (40001) and make it run twice. The
   * ordered lane's writer (aheadLock) does not wait for these: an ahead transaction that meets one on
   * a row is run again, as when it meets another worker's.
   */
  private writeStatement<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    return this.lock.run(() => this.withRetry(fn));
  }

  /** A statement of its own, retried if PostgreSQL aborts it for a deadlock or a serialization failure. */
  private async withRetry<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new PostgresStoreError('the PostgreSQL store is closed');
      try {
        return await fn(this.pool);
      } catch (err) {
        if (isRetryable(err) && attempt < MAX_ATTEMPTS) continue;
        if (isRetryable(err)) throw new StoreConflictError(attempt, err);
        throw err;
      }
    }
  }

  /**
   * The device as last committed, on a pooled connection of its own: not behind this instance's
   * write lock, so a fob's CONNECT is answered while a catch-up holds the writer (issue 17; the
   * SQLite store's reader connection does the same). One statement: its own snapshot.
   */
  async getDeviceUnqueued(id: string): Promise<DeviceRecord | null> {
    const r = await this.withRetry((q) => q.query('SELECT * FROM devices WHERE id = $1', [id]));
    const row = r.rows[0] as Row | undefined;
    return row ? deviceFromRow(row) : null;
  }

  async unfinishedNotices(): Promise<NoticeRecord[]> {
    const r = await this.withRetry((q) => q.query("SELECT * FROM notices WHERE state <> 'done' ORDER BY created_at, row_no"));
    return (r.rows as Row[]).map(noticeFromRow);
  }

  async pruneNotices(closedBefore: number): Promise<number> {
    // Keeps, per channel, the row lastNoticeRef reads (same conditions and order).
    const r = await this.writeStatement((q) =>
      q.query(
        `DELETE FROM notices WHERE state = 'done'
           AND alarm_id IN (SELECT id FROM alarms WHERE closed_at IS NOT NULL AND closed_at < $1)
           AND id NOT IN (
             SELECT keep FROM (
               SELECT (SELECT x.id FROM notices x WHERE x.channel = c.channel AND x.ref IS NOT NULL AND (x.ref_order IS NOT NULL OR x.state = 'done')
                       ORDER BY x.ref_order IS NULL, x.ref_order DESC NULLS LAST, x.finished_at DESC NULLS LAST, x.row_no DESC LIMIT 1) AS keep
               FROM (SELECT DISTINCT channel FROM notices) c) k
             WHERE keep IS NOT NULL)`,
        [closedBefore],
      ),
    );
    return r.rowCount ?? 0;
  }

  async recordHeartbeats(beats: { deviceId: string; at: number; battery: number }[]): Promise<void> {
    if (beats.length === 0) return;
    // The latest beat of a device wins, as when the SQLite store applies them in order; rows are
    // updated in id order so two hubs' batches lock them in the same order (no deadlock between them).
    // Only forward: a beat older than the stored one (the cluster's bulk lane redelivering a dead
    // worker's batch after newer ones were written, docs/cluster.md) changes nothing.
    const last = new Map<string, { at: number; battery: number }>();
    for (const b of beats) if ((last.get(b.deviceId)?.at ?? -Infinity) <= b.at) last.set(b.deviceId, { at: b.at, battery: b.battery });
    const ids = [...last.keys()].sort();
    await this.writeStatement((q) =>
      q.query(
        `UPDATE devices d SET last_seen_at = b.at, battery = b.battery
         FROM (SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[]) AS u(id, at, battery) ORDER BY id) b
         WHERE d.id = b.id AND (d.last_seen_at IS NULL OR d.last_seen_at <= b.at)`,
        [ids, ids.map((id) => last.get(id)!.at), ids.map((id) => last.get(id)!.battery)],
      ),
    );
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    const r = await this.withRetry((q) => q.query('SELECT * FROM audit_log ORDER BY seq DESC LIMIT $1', [limit]));
    return (r.rows as Row[]).map(auditFromRow);
  }

  /**
   * The largest write mark of any other Store instance (the CLI, another hub): it changes when one
   * of them commits a write transaction, and this instance's own writes leave it alone (as SQLite's
   * PRAGMA data_version). One indexed read of a table with a row per writer.
   */
  async deviceRosterDigest(): Promise<string> {
    // One aggregate in the server, no rows to the hub: the count and the sum of a 64-bit hash
    // (hashtextextended, PostgreSQL §9.4 / hash functions) of each device's id, worker and
    // revocation. A change to any of them changes the sum (but for a 2^-64 collision).
    const r = await this.withRetry((q) =>
      q.query(`SELECT count(*) AS n, COALESCE(sum(hashtextextended(id || '|' || COALESCE(worker_id, '') || '|' || COALESCE(revoked_at::text, ''), 0)::numeric), 0) AS h FROM devices`),
    );
    const row = r.rows[0] as Row;
    return `${row.n}:${row.h}`;
  }

  async externalChangeCounter(): Promise<number> {
    // This instance's two writers are not another process.
    const r = await this.withRetry((q) => q.query('SELECT COALESCE(MAX(n), 0) AS n FROM store_writes WHERE writer <> $1 AND writer <> $2', [this.writerId, aheadWriter(this.writerId)]));
    return Number((r.rows[0] as Row).n);
  }

  // ----- leased due work (DueWorkStore) -----

  async claimDue(now: number, limit: number, owner: string, leaseMs: number): Promise<ClaimedWork[]> {
    if (!Number.isSafeInteger(now) || !Number.isSafeInteger(limit) || limit < 1 || !Number.isSafeInteger(leaseMs) || leaseMs < 1 || owner === '') {
      throw new RangeError(`claimDue(now, limit, owner, leaseMs) needs whole milliseconds, a limit and a lease of at least 1 and an owner; got (${now}, ${limit}, "${owner}", ${leaseMs}): nothing was claimed`);
    }
    // One statement: the inner SELECT locks the rows it picks and skips rows another claimer has
    // locked (PostgreSQL §SELECT "The Locking Clause", SKIP LOCKED), the UPDATE leases what it got.
    // Under READ COMMITTED a row whose lease another claimer took meanwhile is re-checked against the
    // WHERE on its new version and dropped, so no row is leased twice.
    const r = await this.writeStatement((q) =>
      q.query(
        `UPDATE due_work d SET owner = $3, lease_until = $1::bigint + $4::bigint, attempts = d.attempts + 1
         FROM (SELECT kind, key FROM due_work
               WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
               ORDER BY due_at, kind, key
               LIMIT $2
               FOR UPDATE SKIP LOCKED) picked
         WHERE d.kind = picked.kind AND d.key = picked.key
         RETURNING d.*`,
        [now, limit, owner, leaseMs],
      ),
    );
    return (r.rows as Row[]).map(claimedFromRow).sort((a, b) => a.dueAt - b.dueAt || a.kind.localeCompare(b.kind) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async complete(work: ClaimedWork): Promise<boolean> {
    return this.writeStatement((q) => completeClaim(q, work));
  }

  async reschedule(work: ClaimedWork, dueAt: number, payload?: unknown): Promise<boolean> {
    const r = await this.writeStatement((q) =>
      q.query(
        `UPDATE due_work SET due_at = $5, payload = CASE WHEN $6::boolean THEN $7::jsonb ELSE payload END,
           gen = nextval('due_work_gen'), owner = NULL, lease_until = NULL, attempts = 0
         WHERE kind = $1 AND key = $2 AND gen = $3 AND owner = $4 AND lease_until = $8`,
        [work.kind, work.key, work.gen, work.owner, dueAt, payload !== undefined, JSON.stringify(payload ?? null), work.leaseUntil],
      ),
    );
    return (r.rowCount ?? 0) === 1;
  }

  async nextDueAt(): Promise<number | null> {
    // A leased row comes due again when its lease runs out (a claimer that died): the later of the two.
    const r = await this.withRetry((q) => q.query('SELECT MIN(GREATEST(due_at, COALESCE(lease_until, due_at))) AS t FROM due_work'));
    const t = (r.rows[0] as Row).t;
    return t === null ? null : Number(t);
  }

  async countWork(dueBy?: number, kinds?: DueWorkKind[]): Promise<number> {
    const r = await this.withRetry((q) =>
      q.query('SELECT COUNT(*) AS n FROM due_work WHERE due_at <= $1 AND ($2::text[] IS NULL OR kind = ANY($2::text[]))', [dueBy ?? Number.MAX_SAFE_INTEGER, kinds ?? null]),
    );
    return Number((r.rows[0] as Row).n);
  }

  async getWork(kind: DueWorkKind, key: string): Promise<DueWork | null> {
    const r = await this.withRetry((q) => q.query('SELECT * FROM due_work WHERE kind = $1 AND key = $2', [kind, key]));
    const row = r.rows[0] as Row | undefined;
    return row ? workFromRow(row) : null;
  }

  async unarmedWorkersWithPlannedVisits(from: number, to: number): Promise<string[]> {
    const r = await this.withRetry((q) =>
      q.query(
        unarmedWorkersSql((n) => `$${n}`, ' COLLATE "C"'),
        [from, to],
      ),
    );
    return (r.rows as Row[]).map((x) => String(x.id));
  }

  async listWork(kind: DueWorkKind, limit: number): Promise<DueWork[]> {
    const r = await this.withRetry((q) => q.query('SELECT * FROM due_work WHERE kind = $1 ORDER BY due_at, key COLLATE "C" LIMIT $2', [kind, limit]));
    return (r.rows as Row[]).map(workFromRow);
  }

  // ----- the change feed (ChangeFeedStore) -----

  async readChanges(afterSeq: number, limit: number): Promise<ChangeRecord[]> {
    const r = await this.withRetry((q) => q.query('SELECT * FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit]));
    return (r.rows as Row[]).map(changeFromRow);
  }

  onAppended(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  async firstChangeSeq(): Promise<number | null> {
    const r = await this.withRetry((q) => q.query('SELECT MIN(seq) AS s FROM changes'));
    const v = (r.rows[0] as Row).s;
    return v === null ? null : Number(v);
  }

  /**
   * Deletes changes older than `before` and beyond the newest `keepRows`, but never the newest one:
   * lastChangeSeq is MAX(seq) of committed rows (the sequence's own last value may belong to a
   * transaction not yet committed, which a reader starting there would skip), so the newest row is
   * what keeps "the highest seq ever given" after a prune.
   */
  async pruneChanges(before: number, keepRows: number): Promise<number> {
    const r = await this.withRetry((q) =>
      q.query(
        `DELETE FROM changes WHERE seq < (SELECT MAX(seq) FROM changes)
           AND (at < $1 OR seq <= (SELECT MAX(seq) FROM changes) - $2)`,
        [before, keepRows],
      ),
    );
    return r.rowCount ?? 0;
  }

  async lastChangeSeq(): Promise<number> {
    const r = await this.withRetry((q) => q.query('SELECT COALESCE(MAX(seq), 0) AS s FROM changes'));
    return Number((r.rows[0] as Row).s);
  }

  /**
   * Calls `onChange(seq)` whenever any Store instance on this database commits changes (LISTEN on
   * lw_changes, on a connection of its own); the caller then reads them with readChanges. Also
   * called once the listener is in place, so changes committed while it was connecting are read.
   * Returns a function that stops listening.
   */
  async listenChanges(onChange: (seq: number) => void, onError?: (err: Error) => void): Promise<() => Promise<void>> {
    const client = await this.connect();
    const handler = (msg: pg.Notification) => {
      if (msg.channel === CHANGE_CHANNEL) onChange(Number(msg.payload ?? 0));
    };
    let stopped = false;
    // The listening connection lost (a server restart): no more wake-ups on it. Said to the caller,
    // who listens again and reads from its last seq; unhandled, the error would end the process.
    const failed = (err: Error) => {
      if (stopped) return;
      stopped = true;
      client.off('notification', handler);
      client.release(err);
      onError?.(err);
    };
    client.on('error', failed);
    client.on('notification', handler);
    await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    onChange(await this.lastChangeSeq());
    return async () => {
      if (stopped) return;
      stopped = true;
      client.off('notification', handler);
      client.off('error', failed);
      await client.query(`UNLISTEN ${CHANGE_CHANNEL}`).catch(() => undefined);
      client.release();
    };
  }

  async close(): Promise<void> {
    // Waits for a write transaction in progress, then ends the pool (and its connections).
    await this.lock.run(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.pool.end();
    });
  }
}

/** One row per key, the last given, in key order (byte order, as COLLATE "C"): an INSERT ... ON CONFLICT may not touch a row twice. */
function lastByKey<T>(rows: readonly T[], key: (r: T) => string): T[] {
  const last = new Map<string, T>();
  for (const r of rows) last.set(key(r), r);
  return [...last].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

async function scheduleWork(q: Q, kind: DueWorkKind, key: string, dueAt: number | null, payload: unknown): Promise<void> {
  if (dueAt === null) {
    await q.query('DELETE FROM due_work WHERE kind = $1 AND key = $2', [kind, key]);
    return;
  }
  // A new generation, lease and attempts cleared: an old claim can no longer complete it. The payload
  // is the one given (none: NULL), as the SQLite store's scheduleWork writes it.
  await q.query(
    `INSERT INTO due_work (kind, key, due_at, payload) VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload,
       gen = nextval('due_work_gen'), owner = NULL, lease_until = NULL, attempts = 0`,
    [kind, key, dueAt, payloadJson(payload)],
  );
}

/** A payload as jsonb text; none (undefined or null) is SQL NULL, so it reads back as null. */
function payloadJson(payload: unknown): string | null {
  return payload === undefined || payload === null ? null : JSON.stringify(payload);
}

/** Deletes the claimed row if it is still this claim: same generation, owner and lease. */
async function completeClaim(q: Q, work: ClaimedWork): Promise<boolean> {
  const r = await q.query('DELETE FROM due_work WHERE kind = $1 AND key = $2 AND gen = $3 AND owner = $4 AND lease_until = $5', [
    work.kind,
    work.key,
    work.gen,
    work.owner,
    work.leaseUntil,
  ]);
  return (r.rowCount ?? 0) === 1;
}
