// The admin commands go to the running hub over its control socket when there is one
// (hub/commands/control-server.ts); otherwise they work on the hub's database directly (SQLite in
// WAL mode allows this while the hub runs; PostgreSQL is shared by design). They read the same
// config file to find either.
import type { AdminCommands } from '../commands/commands.js';
import { StoreCommands } from '../commands/store-commands.js';
import { connectControl } from '../commands/control-client.js';
import { controlSocketPath } from '../commands/control-server.js';
import { ChangeFeedReader } from '../store/change-feed-reader.js';
import { systemClock } from '../clock.js';
import { createLogger } from '../logger.js';
import { loadConfig, ConfigError } from '../config/load-config.js';
import type { HubConfig } from '../config/config-schema.js';
import type { Store } from '../store/store.js';
import { openConfiguredStore } from '../store/open-store.js';
import { PostgresStoreError } from '../store/postgres-errors.js';

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

/** Where the admin commands go: the running hub (its control socket) or the database itself. */
export interface OpenCommands {
  commands: AdminCommands;
  /** 'hub': a running hub carried them out and acted at once; 'database': no hub answered. */
  via: 'hub' | 'database';
  close(): Promise<void>;
}

/**
 * Sends the admin commands to the running hub when one answers on `<data_dir>/hub.sock` (issue 18),
 * so it hears of each change at once; otherwise opens the database file as before, and the change
 * goes on the change feed for a hub started later.
 */
export async function openCommands(config: HubConfig): Promise<OpenCommands> {
  const remote = await connectControl(controlSocketPath(config.hub.data_dir));
  if (remote) return { commands: remote, via: 'hub', close: async () => undefined };
  const store = await openStore(config);
  // The flash tool's wait for a hello reads the feed; with no hub here, a hub elsewhere on this file
  // is read by polling, on real time.
  const feed = new ChangeFeedReader({
    store,
    clock: systemClock,
    log: createLogger({ level: 'silent', pretty: 'never' }),
    pollMs: config.feed.poll_ms,
    retentionMs: config.feed.retention_days * 24 * 3600_000,
    maxRows: config.feed.max_rows,
    // Pruning is the hub's: its clock (a drill's) is what the feed's times are written in.
    prune: false,
  });
  await feed.start();
  const commands = new StoreCommands({
    store,
    feed,
    now: () => Date.now(),
    visitRules: { onBreach: config.rules.visit_policy_breach, trainingValidYears: config.rules.training_valid_years },
  });
  return {
    commands,
    via: 'database',
    close: async () => {
      await feed.stop();
      await store.close();
    },
  };
}
