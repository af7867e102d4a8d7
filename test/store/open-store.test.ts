// Issue 19: [store] postgres_url chooses the store; without it the hub keeps the embedded SQLite file
// (`npm start` needs nothing else). A malformed URL is a config error naming the key, found before
// anything is opened.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { parseConfig, ConfigError } from '../../hub/config/load-config.js';
import { openConfiguredStore, storeKind } from '../../hub/store/open-store.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';

let dir: string | null = null;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

it('without [store] postgres_url the store is the SQLite file in data_dir', async () => {
  dir = mkdtempSync(join(tmpdir(), 'lw-open-store-'));
  const config = parseConfig({ hub: { data_dir: dir } });
  expect(config.store.postgres_url).toBeUndefined();
  expect(storeKind(config)).toBe('sqlite');
  const store = await openConfiguredStore(config);
  expect(store).toBeInstanceOf(SqliteStore);
  await store.close();
  expect(existsSync(join(dir, 'lonewatch.db'))).toBe(true);
});

it('postgres:// and postgresql:// URLs are taken as PostgreSQL', () => {
  for (const url of ['postgres://lonewatch@db.example.org:5432/lonewatch', 'postgresql://u:p@127.0.0.1/lw?sslmode=require']) {
    const config = parseConfig({ store: { postgres_url: url } });
    expect(config.store.postgres_url).toBe(url);
    expect(storeKind(config)).toBe('postgres');
  }
});

it('a URL that is not PostgreSQL, or an unknown [store] key, is refused with the key path', () => {
  for (const [raw, path] of [
    [{ store: { postgres_url: 'mysql://db/lw' } }, 'store.postgres_url'],
    [{ store: { postgres_url: 'not a url' } }, 'store.postgres_url'],
    [{ store: { postgres_url: 'postgres:///lw' } }, 'store.postgres_url'],
    [{ store: { sqlite_file: 'x.db' } }, 'store'],
  ] as const) {
    let err: unknown;
    try {
      parseConfig(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(path);
  }
});
