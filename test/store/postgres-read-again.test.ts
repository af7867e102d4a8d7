// The PostgreSQL store answers the same row read twice in a row from the first read (an SOS reads
// its device and its worker's check-in state twice each: one round trip fewer for each), and
// forgets it at any other call on the transaction, so a write in between is always read back from
// the server. Statements counted on the pool (test/helpers/pg-statement-count.ts). Real PostgreSQL 15.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../hub/store/postgres-store.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { countStatements, type StatementCount } from '../helpers/pg-statement-count.js';
import { device } from './store-contract.js';

const available = requirePostgresOrSkip();

describe.skipIf(!available)('PostgreSQL store: a row read again', () => {
  let server: PostgresServer;
  let store: PostgresStore;
  let url: string;
  let counted: StatementCount;
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createSchema();
    store = await PostgresStore.open(url, { poolMax: 2 });
    counted = countStatements(store.pool);
    await store.transaction((tx) => tx.insertDevice(device('fob-r', { firmware: 'v1' })));
  });
  afterAll(async () => {
    await store?.close();
    await server?.dropSchema(url).catch(() => undefined);
    await server?.stop();
  });

  it('twice in a row: one statement, and each caller its own copy', async () => {
    const n = await counted.during(() =>
      store.read(async (tx) => {
        const a = await tx.getDevice('fob-r');
        a!.firmware = 'changed by the caller';
        const b = await tx.getDevice('fob-r');
        expect(b!.firmware).toBe('v1');
      }),
    );
    // BEGIN, one SELECT, COMMIT.
    expect(n).toBe(3);
  });

  it('a write in between is read back from the server', async () => {
    await store.transaction(async (tx) => {
      expect((await tx.getDevice('fob-r'))!.firmware).toBe('v1');
      await tx.updateDevice('fob-r', { firmware: 'v2' });
      expect((await tx.getDevice('fob-r'))!.firmware).toBe('v2');
    });
  });

  it('a read that a write overtook while it was out is not kept', async () => {
    await store.transaction(async (tx) => {
      const [before] = await Promise.all([tx.getDevice('fob-r'), tx.updateDevice('fob-r', { firmware: 'v3' })]);
      expect(before!.firmware).toBe('v2');
      expect((await tx.getDevice('fob-r'))!.firmware).toBe('v3');
    });
  });
});
