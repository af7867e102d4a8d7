// The admin commands work on the hub's database directly (SQLite in WAL mode allows this while the
// hub runs); they read the same config file to find it.
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../config/load-config.js';
import type { HubConfig } from '../config/config-schema.js';
import { SqliteStore } from '../store/sqlite-store.js';

export const CONFIG_OPTION = {
  config: { type: 'string' as const, short: 'c', placeholder: 'file', description: 'config file (default: ./lonewatch.toml if present)' },
};

export function loadConfigOrExit(file: string | undefined): HubConfig {
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`lonewatch: the configuration is not valid; nothing was started.\n${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

export function openStore(config: HubConfig): SqliteStore {
  return new SqliteStore(join(config.hub.data_dir, 'lonewatch.db'));
}
