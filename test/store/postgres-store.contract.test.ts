// The Store contract (test/store/store-contract.ts) on the PostgreSQL store (issue 19), against a
// real PostgreSQL 15 started for this file (test/helpers/postgres-server.ts), a fresh database per
// test; then what only a shared database shows: two claimers of due work, the change feed between
// instances, SERIALIZABLE conflicts retried, and the schema version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import pino from 'pino';
import { ManualClock } from '../../hub/clock.js';
import { ChangeFeedReader } from '../../hub/store/change-feed-reader.js';
import { PostgresStore, PostgresStoreError } from '../../hub/store/postgres-store.js';
import { POSTGRES_SCHEMA_VERSION, POSTGRES_V7_SQL } from '../../hub/store/postgres-schema.js';
import type { ClaimedWork } from '../../hub/store/store.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { describeChangeFeedContract, describeStoreContract, device, type MakeStore } from './store-contract.js';
import { describeDueWorkContract } from './due-work-contract.js';

const available = requirePostgresOrSkip();

describe.skipIf(!available)('PostgreSQL store', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  // A schema per test (search_path in the URL): as apart as a database, and made in milliseconds.
  const makeStore: MakeStore<PostgresStore> = async () => {
    const url = await server.createSchema();
    return { open: () => PostgresStore.open(url, { poolMax: 4 }), dispose: () => server.dropSchema(url) };
  };

  describeStoreContract('PostgreSQL', makeStore);
  describeDueWorkContract('PostgreSQL', makeStore);
  describeChangeFeedContract('PostgreSQL', makeStore);

  describe('between instances', () => {
    const stores: PostgresStore[] = [];
    let url: string;
    const open = async () => {
      const s = await PostgresStore.open(url, { poolMax: 4 });
      stores.push(s);
      return s;
    };
    beforeAll(async () => {
      url = await server.createDatabase();
    });
    afterAll(async () => {
      for (const s of stores) await s.close().catch(() => undefined);
      await server.dropDatabase(url);
    });

    /**
     * A claimer's loop as a hub worker runs it: claim a batch, and for each row do its work and
     * complete it in one transaction (the "fire" is a row in fob_events, so a second fire of the
     * same key would answer false). `stopAfter` batches: it claims one more batch and abandons it,
     * as a worker killed mid-batch.
     */
    async function claimer(store: PostgresStore, owner: string, now: number, opts: { stopAfter?: number } = {}) {
      const fired: string[] = [];
      const refused: string[] = [];
      let abandoned: ClaimedWork[] = [];
      for (let batch = 0; ; batch++) {
        const got = await store.claimDue(now, 50, owner, 30_000);
        if (got.length === 0) break;
        if (opts.stopAfter !== undefined && batch === opts.stopAfter) {
          abandoned = got;
          break;
        }
        for (const w of got) {
          const ok = await store.transaction(async (t) => {
            const first = await t.insertFobEvent({ deviceId: 'fired', eventId: w.key, kind: owner, receivedAt: now, eventAt: now, payload: '{}' });
            if (!first) refused.push(w.key);
            return t.completeWork(w);
          });
          if (ok) fired.push(w.key);
        }
      }
      return { fired, refused, abandoned };
    }

    it('two concurrent claimers over 2,000 due rows fire each exactly once; one that stops mid-batch has its leases expire to the other', async () => {
      const a = await open();
      const b = await open();
      const N = 2_000;
      const keys = Array.from({ length: N }, (_, i) => `k${String(i).padStart(4, '0')}`);
      await a.transaction(async (t) => {
        for (const [i, k] of keys.entries()) await t.scheduleWork('effect', k, 1_000 + (i % 97));
      });
      const now = 10_000;
      // A stops after 5 batches and leaves a claimed batch behind; B runs until nothing is free.
      const [ra, rb] = await Promise.all([claimer(a, 'worker-a', now, { stopAfter: 5 }), claimer(b, 'worker-b', now)]);
      expect(ra.abandoned.length).toBeGreaterThan(0);
      expect(rb.fired.length).toBeGreaterThan(0); // both really claimed, concurrently
      const abandonedKeys = new Set(ra.abandoned.map((w) => w.key));
      // Nothing of the abandoned batch was fired yet, and B could not take it while A's lease held.
      expect([...ra.fired, ...rb.fired].filter((k) => abandonedKeys.has(k))).toEqual([]);
      expect(ra.fired.length + rb.fired.length).toBe(N - abandonedKeys.size);
      // After the lease (30 s on the injected clock), B gets what A left, each at its second attempt.
      const late = await b.claimDue(now + 30_000, 1_000, 'worker-b', 30_000);
      expect(new Set(late.map((w) => w.key))).toEqual(abandonedKeys);
      expect(late.every((w) => w.attempts === 2)).toBe(true);
      const rest = await claimer(b, 'worker-b', now + 30_000);
      expect(rest.fired).toEqual([]); // already claimed above: finish them
      for (const w of late) {
        expect(await b.transaction(async (t) => (await t.insertFobEvent({ deviceId: 'fired', eventId: w.key, kind: 'worker-b', receivedAt: 0, eventAt: 0, payload: '{}' })) && t.completeWork(w))).toBe(true);
      }
      // A's stale claims cannot complete what B finished.
      for (const w of ra.abandoned) expect(await a.complete(w)).toBe(false);
      const all = [...ra.fired, ...rb.fired, ...late.map((w) => w.key)];
      expect(new Set(all).size).toBe(N);
      expect(all.length).toBe(N);
      expect([...ra.refused, ...rb.refused]).toEqual([]);
      expect(await a.read((t) => t.countFobEvents('fired'))).toBe(N);
      expect(await a.nextDueAt()).toBeNull();
    }, 120_000);

    it('claimDue refuses a limit or lease below 1, or no owner, and claims nothing', async () => {
      const s = await open();
      await s.transaction((t) => t.scheduleWork('alarm', 'bad-input', 1));
      const bad: [number, number, string, number][] = [
        [10, 0, 'w', 1_000],
        [10, -5, 'w', 1_000],
        [10, 5, 'w', 0],
        [10, 5, '', 1_000],
        [10.5, 5, 'w', 1_000],
      ];
      for (const [now, limit, owner, leaseMs] of bad) {
        await expect(s.claimDue(now, limit, owner, leaseMs)).rejects.toThrow(/nothing was claimed/);
      }
      const [w] = await s.claimDue(10, 5, 'w', 1_000);
      expect(w).toMatchObject({ key: 'bad-input', attempts: 1 });
      expect(await s.complete(w!)).toBe(true);
    });

    it("changes committed by one instance wake a second instance's listener, which reads them", async () => {
      const writer = await open();
      const reader = await open();
      const start = await reader.lastChangeSeq();
      const heard: number[] = [];
      let wake!: (seq: number) => void;
      const woken = new Promise<number>((r) => (wake = r));
      const stop = await reader.listenChanges((seq) => {
        heard.push(seq);
        if (seq > start) wake(seq);
      });
      try {
        await writer.transaction(async (t) => {
          await t.insertDevice(device('fob-feed'));
          await t.appendChange({ at: 5, topic: 'device', alarmId: null, detail: { deviceId: 'fob-feed' } });
        });
        const seq = await woken;
        const got = await reader.readChanges(start, 10);
        expect(got.map((c) => [c.seq, c.topic, c.detail])).toEqual([[seq, 'device', { deviceId: 'fob-feed' }]]);
        expect(heard[0]).toBe(start); // the first call, once listening, says where the feed stood
      } finally {
        await stop();
      }
    });

    it('a listening connection the server ends is reported, not fatal; listening again, nothing committed meanwhile is missed', async () => {
      const writer = await open();
      const reader = await open();
      const from = await reader.lastChangeSeq();
      let lost!: (err: Error) => void;
      const lostIt = new Promise<Error>((r) => (lost = r));
      await reader.listenChanges(() => undefined, lost);
      // End the listening backend from outside, as a server restart or an administrator would.
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const ended = await admin.query("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE query LIKE 'LISTEN lw_changes%' AND datname = current_database()");
      await admin.end();
      expect(ended.rows.length).toBeGreaterThan(0);
      expect(await lostIt).toBeInstanceOf(Error);
      await writer.transaction((t) => t.appendChange({ at: 1, topic: 'alarm', alarmId: null, detail: { while: 'away' } }));
      let woke!: () => void;
      const wokeUp = new Promise<void>((r) => (woke = r));
      const stop = await reader.listenChanges((seq) => {
        if (seq > from) woke();
      });
      await wokeUp;
      expect((await reader.readChanges(from, 10)).map((c) => c.detail)).toEqual([{ while: 'away' }]);
      await stop();
    });

    // The dashboard's reader (hub/store/change-feed-reader.ts) on LISTEN: its clock never moves, so
    // its poll never comes round; only the notification can deliver another instance's commit.
    it("the change feed's reader on a second instance delivers the first's commits without its poll, and listens again after its connection is ended", async () => {
      const writer = await open();
      const readerStore = await open();
      const clock = new ManualClock();
      const logged: string[] = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(String(JSON.parse(line).msg)) });
      const feed = new ChangeFeedReader({ store: readerStore, clock, log, pollMs: 60_000, retentionMs: 24 * 3600_000, maxRows: 1000, prune: false });
      // The same reader with listening off: nothing arrives without the poll (what the test tells apart).
      const deaf = new ChangeFeedReader({ store: readerStore, clock, log, pollMs: 60_000, retentionMs: 24 * 3600_000, maxRows: 1000, prune: false, listen: false });
      await feed.start();
      await deaf.start();
      try {
        expect(feed.listens).toBe(true);
        expect(deaf.listens).toBe(false);
        const got: unknown[] = [];
        const deafGot: unknown[] = [];
        let arrived!: () => void;
        let more = new Promise<void>((r) => (arrived = r));
        feed.subscribe((c) => {
          got.push(c.detail);
          arrived();
        });
        deaf.subscribe((c) => deafGot.push(c.detail));
        await writer.transaction((t) => t.appendChange({ at: 1, topic: 'alarm', alarmId: 'a-listen', detail: { n: 1 } }));
        await more;
        expect(got).toEqual([{ n: 1 }]);
        await deaf.idle();
        expect(deafGot).toEqual([]);

        // End the listening backend, as a database restart would: the reader says so, goes on
        // polling, and listens again after 1 s of its clock; a commit made meanwhile is delivered
        // once listening is back (the first call says where the feed stands), with no poll.
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        const ended = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN lw_changes%' AND datname = current_database()");
        await admin.end();
        expect(ended.rows.length).toBe(1);
        await expect.poll(() => feed.listens, { timeout: 2000, interval: 10 }).toBe(false);
        expect(logged.some((m) => /LISTEN connection to the database was lost/.test(m))).toBe(true);
        more = new Promise<void>((r) => (arrived = r));
        await writer.transaction((t) => t.appendChange({ at: 2, topic: 'alarm', alarmId: 'a-listen', detail: { n: 2 } }));
        await feed.idle();
        expect(got).toEqual([{ n: 1 }]);
        clock.advance(1000);
        await more;
        expect(got).toEqual([{ n: 1 }, { n: 2 }]);
        expect(feed.listens).toBe(true);
        expect(logged.some((m) => /listens to the database again/.test(m))).toBe(true);
      } finally {
        await feed.stop();
        await deaf.stop();
      }
    });

    it('a reader following the feed while two instances append concurrently never skips a change', async () => {
      const w1 = await open();
      const w2 = await open();
      const reader = await open();
      let cursor = await reader.lastChangeSeq();
      const seen: string[] = [];
      let writing = true;
      const follow = (async () => {
        while (writing) {
          for (const c of await reader.readChanges(cursor, 500)) {
            seen.push(String(c.detail.n));
            cursor = c.seq;
          }
        }
      })();
      const burst = (s: PostgresStore, tag: string) =>
        Promise.all(Array.from({ length: 100 }, (_, i) => s.transaction((t) => t.appendChange({ at: i, topic: 'alarm', alarmId: null, detail: { n: `${tag}${i}` } }))));
      await Promise.all([burst(w1, 'a'), burst(w2, 'b')]);
      writing = false;
      await follow;
      for (const c of await reader.readChanges(cursor, 1_000)) seen.push(String(c.detail.n));
      expect(seen.length).toBe(200);
      expect(new Set(seen).size).toBe(200);
    });

    it('conflicting read-modify-write transactions of two instances are retried, and no update is lost', async () => {
      const a = await open();
      const b = await open();
      await a.transaction((t) => t.insertDevice(device('fob-count', { battery: 0 })));
      const bump = (s: PostgresStore) =>
        Promise.all(
          Array.from({ length: 10 }, () =>
            s.transaction(async (t) => {
              const d = (await t.getDevice('fob-count'))!;
              await t.updateDevice('fob-count', { battery: (d.battery ?? 0) + 1 });
            }),
          ),
        );
      await Promise.all([bump(a), bump(b)]);
      expect((await a.read((t) => t.getDevice('fob-count')))?.battery).toBe(20);
    });
  });

  describe('schema', () => {
    it('a new database gets the current schema version, recorded in schema_version; opening again changes nothing', async () => {
      const url = await server.createDatabase();
      const s = await PostgresStore.open(url);
      expect(await s.schemaVersion()).toBe(POSTGRES_SCHEMA_VERSION);
      await s.transaction((t) => t.insertDevice(device('fob-1')));
      await s.close();
      const again = await PostgresStore.open(url);
      expect(await again.schemaVersion()).toBe(POSTGRES_SCHEMA_VERSION);
      expect(await again.read((t) => t.listDevices())).toHaveLength(1);
      await again.close();
      await server.dropDatabase(url);
    });

    it('two stores opening an empty database at once: one creates the schema, the other finds it', async () => {
      const url = await server.createDatabase();
      const both = await Promise.all([PostgresStore.open(url), PostgresStore.open(url)]);
      expect(await Promise.all(both.map((s) => s.schemaVersion()))).toEqual([POSTGRES_SCHEMA_VERSION, POSTGRES_SCHEMA_VERSION]);
      for (const s of both) await s.close();
      await server.dropDatabase(url);
    });

    it('a database from a newer hub is refused with what to do, and left as it was', async () => {
      const url = await server.createDatabase();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query('CREATE TABLE schema_version (version integer NOT NULL); INSERT INTO schema_version VALUES (99)');
      const err = await PostgresStore.open(url).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PostgresStoreError);
      expect((err as Error).message).toMatch(new RegExp(`schema version 99, newer than this hub \\(${POSTGRES_SCHEMA_VERSION}\\): upgrade the hub`));
      const tables = await c.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'");
      expect(tables.rows[0].n).toBe(1);
      await c.end();
      await server.dropDatabase(url);
    });

    it('a database of the pg branch (v7) is brought to the current version: deadlines and pending effects become due work, old contact text becomes records', async () => {
      expect(POSTGRES_SCHEMA_VERSION).toBe(12);
      const url = await server.createDatabase();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(POSTGRES_V7_SQL);
        await c.query('CREATE TABLE schema_version (version integer NOT NULL); INSERT INTO schema_version VALUES (7)');
        await c.query(
          `INSERT INTO alarms (id, kind, state, priority, reason, raised_at, policy, level, round, next_step_at, due_at)
           VALUES ('a-open', 'sos', 'notifying', 1, 'old', 1000, '{}', 1, 0, 5000, 5000), ('a-closed', 'sos', 'resolved', 1, 'old', 1000, '{}', 1, 0, NULL, NULL)`,
        );
        await c.query(`INSERT INTO worker_state (worker_id, state, due_at) VALUES ('w1', '{}', 7000), ('w2', '{}', NULL)`);
        await c.query(`INSERT INTO device_health (device_id, state, due_at) VALUES ('d1', '{}', 6000)`);
        await c.query(`INSERT INTO pending_effects (effect) VALUES ('{"type":"notify","alarmId":"a-open","level":1}'), ('{"type":"alarm_changed","alarmId":"a-open"}')`);
        // A row the pg branch's own loop had already scheduled stays as it was.
        await c.query(`INSERT INTO due_work (kind, key, due_at) VALUES ('device', 'd1', 6500)`);
        await c.query(`INSERT INTO workers (id, name, emergency_contacts) VALUES ('sam', 'Sam', 'Ravi Khan (brother): 07700 900002' || chr(10) || 'Partner 07700 900456'), ('kim', 'Kim', '  ')`);
      } finally {
        await c.end();
      }
      const s = await PostgresStore.open(url);
      try {
        expect(await s.schemaVersion()).toBe(12);
        expect((await s.pool.query("SELECT indexname FROM pg_indexes WHERE tablename = 'devices'")).rows.map((r) => r.indexname)).toContain('devices_worker');
        expect(await s.getWork('alarm', 'a-open')).toEqual({ kind: 'alarm', key: 'a-open', dueAt: 5000, payload: null, attempts: 0 });
        expect(await s.getWork('alarm', 'a-closed')).toBeNull();
        expect(await s.getWork('worker', 'w1')).toMatchObject({ dueAt: 7000 });
        expect(await s.getWork('worker', 'w2')).toBeNull();
        expect(await s.getWork('device', 'd1')).toMatchObject({ dueAt: 6500 });
        const claimed = await s.claimDue(8000, 10, 'p1', 1000);
        expect(claimed.map((w) => `${w.kind}:${w.key}`)).toEqual(['effect:p000000000001', 'effect:p000000000002', 'alarm:a-open', 'device:d1', 'worker:w1']);
        expect(claimed.slice(0, 2).map((w) => (w.payload as { type: string }).type)).toEqual(['notify', 'alarm_changed']);
        expect(await s.read((t) => t.listEmergencyContacts('sam'))).toEqual([
          { name: 'Ravi Khan', relationship: 'brother', phone: '07700 900002' },
          { name: 'Partner', relationship: null, phone: '07700 900456' },
        ]);
        expect(await s.read((t) => t.listEmergencyContacts('kim'))).toEqual([]);
        const tables = await s.pool.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'pending_effects'");
        expect(tables.rowCount).toBe(0);
      } finally {
        await s.close();
        await server.dropDatabase(url);
      }
    });

    it('an unreachable server is a PostgresStoreError naming the address and the config key, never the password', async () => {
      const err = await PostgresStore.open(`postgres://lonewatch:s3cret@127.0.0.1:1/nothing`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PostgresStoreError);
      expect((err as Error).message).toContain(`127.0.0.1:1/nothing (store.postgres_url)`);
      expect((err as Error).message).not.toContain('s3cret');
    });
  });
});
