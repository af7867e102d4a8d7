// The Store contract (test/store/store-contract.ts) on the embedded SQLite store: a fresh database
// file in a temporary folder per test, opened again by path for a second instance (as the CLI does).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lw-sqlite-contract-'));
  const file = join(dir, 'lonewatch.db');
  return {
    open: async () => new SqliteStore(file),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
