// A store opened on a hub's database file for one look or one change, and closed again: how a test
// reads what a hub child process (killed or running) left there, without holding the file open.
import { SqliteStore } from '../../hub/store/sqlite-store.js';

export async function inStore<T>(dbPath: string, fn: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore(dbPath);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
