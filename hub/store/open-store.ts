/**
 * Opens the store the configuration names (issue 19): PostgreSQL when [store] postgres_url is set
 * (a cluster's shared database), else the embedded SQLite file lonewatch.db in [hub] data_dir, so
 * `npm start` needs nothing else installed. The hub and every `lonewatch` command open it here.
 */
import { join } from 'node:path';
import type { HubConfig } from '../config/config-schema.js';
import type { Store } from './store.js';
import { SqliteStore } from './sqlite-store.js';
import { PostgresStore } from './postgres-store.js';

export type StoreKind = 'sqlite' | 'postgres';

export function storeKind(config: HubConfig): StoreKind {
  return config.store.postgres_url ? 'postgres' : 'sqlite';
}

/** Throws PostgresStoreError (unreachable, newer schema) or the SQLite error, each saying what to fix. */
export async function openConfiguredStore(config: HubConfig): Promise<Store> {
  const url = config.store.postgres_url;
  if (url) return PostgresStore.open(url);
  return new SqliteStore(join(config.hub.data_dir, 'lonewatch.db'));
}
