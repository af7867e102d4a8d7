// The PostgreSQL store's write queue (issue 19, docs/cluster.md "Where an SOS's time goes"): a
// transaction asked for inside txAhead (the cluster worker's ordered lane: an SOS) is given the
// store's one writer before the heartbeat batches and due-work steps already waiting, never before
// the one running; and txTiming says what each transaction cost. Real PostgreSQL 15
// (test/helpers/postgres-server.ts); the order is read from the database itself (a sequence).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore, PriorityLock } from '../../hub/store/postgres-store.js';
import { detached, txAhead, txTiming, type TxTiming } from '../../hub/store/tx-timing.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { device } from './store-contract.js';

describe('PriorityLock', () => {
  it('runs one at a time, hands the lock to waiting ahead ones first, and keeps each class in order', async () => {
    const lock = new PriorityLock();
    const order: string[] = [];
    let release!: () => void;
    const first = lock.run(() => new Promise<void>((r) => (release = r)).then(() => void order.push('running')));
    const queued = [lock.run(async () => void order.push('bulk-1')), lock.run(async () => void order.push('bulk-2')), lock.run(async () => void order.push('sos-1'), true), lock.run(async () => void order.push('sos-2'), true)];
    expect(lock.waiting).toBe(4);
    release();
    await Promise.all([first, ...queued]);
    expect(order).toEqual(['running', 'sos-1', 'sos-2', 'bulk-1', 'bulk-2']);
    expect(lock.waiting).toBe(0);
  });

  it('passes the lock on when a holder throws', async () => {
    const lock = new PriorityLock();
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

  it('an ahead transaction runs before the others already waiting, and its timings are kept', async () => {
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
    // Let all three reach the queue before the running one ends.
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all([first, ...waiting, sos]);
    const order = await store.pool.query<{ name: string }>('SELECT name FROM committed ORDER BY n');
    expect(order.rows.map((r) => r.name)).toEqual(['sos', 'bulk-1', 'bulk-2']);
    // Its own transaction only: one, run once, with the statements it sent (BEGIN, the insert, COMMIT ...).
    expect(ts).toHaveLength(1);
    expect(ts[0]!.attempts).toBe(1);
    expect(ts[0]!.statements).toBeGreaterThanOrEqual(3);
    expect(ts[0]!.waitMs).toBeGreaterThan(0);
    expect(ts[0]!.runMs).toBeGreaterThanOrEqual(ts[0]!.commitMs);
    expect(store.writeStats.transactions).toBeGreaterThanOrEqual(4);
    expect(await store.read((tx) => tx.getDevice('dev-sos'))).not.toBeNull();
  });
});
