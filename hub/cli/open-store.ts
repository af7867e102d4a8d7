// The admin commands work on the hub's database directly (SQLite in WAL mode allows this while the
// hub runs; PostgreSQL is shared by design); they read the same config file to find it.
import { loadConfig, ConfigError } from '../config/load-config.js';
import type { HubConfig } from '../config/config-schema.js';
import type { Store } from '../store/store.js';
import { openConfiguredStore } from '../store/open-store.js';
import { PostgresStoreError } from '../store/postgres-store.js';

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

/** The configured store; a PostgreSQL store that cannot be opened ends the command with exit code 1 and why. */
export async function openStore(config: HubConfig): Promise<Store> {
  try {
    return await openConfiguredStore(config);
  } catch (err) {
    if (err instanceof PostgresStoreError) {
      process.stderr.write(`lonewatch: ${err.message}; nothing was changed.\n`);
      process.exit(1);
    }
    throw err;
  }
}
