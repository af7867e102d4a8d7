// The PostgreSQL store's writers (issue 19, docs/cluster.md "Where an SOS's time goes"): a
// transaction asked for inside txAhead (the cluster worker's ordered lane: an SOS) runs on a writer
// of its own, beside the heartbeat batch or due-work step holding the other, not after it; when the
// two touch the same row PostgreSQL keeps them apart and the loser is run again, so both changes
// stand; neither writer's commits count as another process's (externalChangeCounter); and txTiming
// says what each transaction cost. The FIFO lock of each writer on its own. Real
// PostgreSQL 15 (test/helpers/postgres-server.ts); the order is read from the database itself (a
// sequence).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../hub/store/postgres-store.js';
import { AsyncLock } from '../../hub/store/async-lock.js';
import { detached, txAhead, txTiming, type TxTiming } from '../../hub/store/tx-timing.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { device } from './store-contract.js';

describe('AsyncLock (each writer of a store)', () => {
  it('runs one at a time, in the order asked, none before the one holding it finishes', async () => {
    const lock = new AsyncLock();
    const order: string[] = [];
    let release!: () => void;
    const first = lock.run(() => new Promise<void>((r) => (release = r)).then(() => void order.push('running')));
    const queued = [lock.run(async () => void order.push('bulk-1')), lock.run(async () => void order.push('bulk-2'))];
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    release();
    await Promise.all([first, ...queued]);
    expect(order).toEqual(['running', 'bulk-1', 'bulk-2']);
  });

  it('passes the lock on when a holder throws', async () => {
    const lock = new AsyncLock();
    await expect(lock.run(async () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    await expect(lock.run(async () => 7)).resolves.toBe(7);
  });
});

describe('detached', () => {
  it('runs a callback outside the caller’s txAhead and txTiming', async () => {
    const seen: unknown[] = [];
    const ts: TxTiming[] = [];
    await txAhead.run(true, () =>
      txTiming.run(ts, async () => {
        seen.push(txAhead.getStore(), txTiming.getStore());
        await new Promise<void>((r) =>
          setImmediate(
            detached(() => {
              seen.push(txAhead.getStore(), txTiming.getStore());
              r();
            }),
          ),
        );
      }),
    );
    expect(seen).toEqual([true, ts, undefined, undefined]);
  });
});

const available = requirePostgresOrSkip();

describe.skipIf(!available)('PostgreSQL store: alarms ahead in the write queue', () => {
  let server: PostgresServer;
  let store: PostgresStore;
  let url: string;
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createSchema();
    store = await PostgresStore.open(url, { poolMax: 4 });
    await store.pool.query('CREATE SEQUENCE commit_order');
    await store.pool.query('CREATE TABLE committed (name text PRIMARY KEY, n bigint NOT NULL)');
  });
  afterAll(async () => {
    await store?.close();
    await server?.dropSchema(url).catch(() => undefined);
    await server?.stop();
  });

  it('an ahead transaction commits while another holds the store, before those waiting, and its timings are kept', async () => {
    let release!: () => void;
    const holding = new Promise<void>((r) => (release = r));
    let running!: () => void;
    const started = new Promise<void>((r) => (running = r));
    // A write transaction in progress (a heartbeat batch), holding the store's writer.
    const first = store.transaction(async (tx) => {
      running();
      await tx.insertDevice(device('dev-first'));
      await holding;
    });
    await started;
    const mark = (name: string) => store.pool.query("INSERT INTO committed (name, n) VALUES ($1, nextval('commit_order'))", [name]);
    const waiting = [1, 2].map((i) =>
      store.transaction(async (tx) => {
        await tx.insertDevice(device(`dev-bulk-${i}`));
        await mark(`bulk-${i}`);
      }),
    );
    const ts: TxTiming[] = [];
    const sos = txAhead.run(true, () =>
      txTiming.run(ts, () =>
        store.transaction(async (tx) => {
          await tx.insertDevice(device('dev-sos'));
          await mark('sos');
        }),
      ),
    );
    // Committed with the first still open: it did not wait for it. (The bound only turns a store
    // that makes it wait into a failure here instead of a hang; the first is let go either way.)
    const outcome = await Promise.race([sos.then(() => 'committed'), new Promise((r) => setTimeout(() => r('still waiting for the first after 10 s'), 10_000))]);
    const firstVisible = await store.read((tx) => tx.getDevice('dev-first'));
    release();
    expect(outcome).toBe('committed');
    expect(await store.read((tx) => tx.getDevice('dev-sos'))).not.toBeNull();
    expect(firstVisible).toBeNull();
    await Promise.all([first, ...waiting, sos]);
    const order = await store.pool.query<{ name: string }>('SELECT name FROM committed ORDER BY n');
    expect(order.rows.map((r) => r.name)).toEqual(['sos', 'bulk-1', 'bulk-2']);
    // Its own transaction only: one, run once, with the statements it sent (BEGIN, the insert, COMMIT ...).
    expect(ts).toHaveLength(1);
    expect(ts[0]!.attempts).toBe(1);
    expect(ts[0]!.statements).toBeGreaterThanOrEqual(3);
    expect(ts[0]!.waitMs).toBeGreaterThanOrEqual(0);
    expect(ts[0]!.runMs).toBeGreaterThanOrEqual(ts[0]!.commitMs);
    expect(store.writeStats.transactions).toBeGreaterThanOrEqual(4);
  });

  it('the two writers on one row: PostgreSQL keeps them apart, the ahead one runs again, both changes stand', async () => {
    await store.transaction((tx) => tx.insertDevice(device('dev-both')));
    const counterBefore = await store.externalChangeCounter();
    let release!: () => void;
    const holding = new Promise<void>((r) => (release = r));
    let updated!: () => void;
    const rowLocked = new Promise<void>((r) => (updated = r));
    const first = store.transaction(async (tx) => {
      await tx.updateDevice('dev-both', { firmware: '2v29-batch' });
      updated();
      await holding;
    });
    await rowLocked;
    const ts: TxTiming[] = [];
    const sos = txAhead.run(true, () => txTiming.run(ts, () => store.transaction((tx) => tx.updateDevice('dev-both', { board: 'rak5010' }))));
    // The ahead writer is waiting for the row, not for the lock: release the first only once it is.
    await expect.poll(async () => (await store.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")).rows[0].n).toBe(1);
    release();
    await Promise.all([first, sos]);
    const d = await store.read((tx) => tx.getDevice('dev-both'));
    expect(d).toMatchObject({ firmware: '2v29-batch', board: 'rak5010' });
    // SERIALIZABLE: the row changed under its snapshot, so it was aborted and run again (40001).
    expect(ts[0]!.attempts).toBe(2);
    // Both are this instance's writers: nothing another process did.
    expect(await store.externalChangeCounter()).toBe(counterBefore);
    const rows = await store.pool.query<{ writer: string }>('SELECT writer FROM store_writes ORDER BY writer');
    expect(rows.rows.map((r) => r.writer).filter((w) => w.endsWith('/ahead'))).toHaveLength(1);
  });
});
