// `lonewatch edge`, `lonewatch worker`, `lonewatch http`: one cluster node each (issue 19,
// docs/cluster.md), from lonewatch.toml's [cluster]; each runs until SIGINT/SIGTERM, then stops.
import { defineCommand, type Command } from '../../bin/command.js';
import { createLogger, type Logger } from '../logger.js';
import type { ClusterConfig, HubConfig } from '../config/config-schema.js';
import { CONFIG_OPTION, loadConfigOrExit, openStore } from './open-store.js';
import { Edge } from '../cluster/edge.js';
import { ClusterWorker } from '../cluster/worker.js';
import { ClusterConfigError } from '../cluster/nats-connection.js';
import { reloadTlsOnSighup } from './hub-command.js';
import { TlsMaterialError } from '../tls/tls-material.js';

const NODE_OPTIONS = {
  ...CONFIG_OPTION,
  'node-id': { type: 'string' as const, placeholder: 'id', description: "this node's name in logs and /healthz (default: cluster.node_id, else role, host name and pid)" },
};

const DETAILS = [
  'Reads ./lonewatch.toml (or --config); [cluster] is required (lonewatch.example.toml, docs/cluster.md).',
  'Environment: LONEWATCH_MQTT_PORT, LONEWATCH_MQTTS_PORT (with [tls]), LONEWATCH_HTTP_PORT, LONEWATCH_DATA_DIR override the ports and data folder.',
  'SIGHUP (edge): re-reads the [tls] certificate files; new connections get the new certificate, open ones stay.',
].join('\n');

function clusterOrExit(config: HubConfig): ClusterConfig {
  if (!config.cluster) {
    process.stderr.write('lonewatch: this node needs [cluster] in lonewatch.toml (the NATS servers at least; see lonewatch.example.toml); nothing was started.\n');
    process.exit(2);
  }
  return config.cluster;
}

/** Runs a started node until SIGINT/SIGTERM. */
async function runUntilSignal(log: Logger, start: () => Promise<{ stop(): Promise<void> }>): Promise<number> {
  let node: { stop(): Promise<void> } | null = null;
  let stopRequested = false;
  const stop = (signal: string): void => {
    stopRequested = true;
    if (!node) return;
    log.info({ signal }, 'stopping');
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  try {
    node = await start();
  } catch (err) {
    if (err instanceof ClusterConfigError) {
      process.stderr.write(`lonewatch: ${err.message}; nothing was started.\n`);
      return 2;
    }
    if (err instanceof TlsMaterialError) {
      process.stderr.write(`lonewatch: the [tls] files are not usable; nothing was started.\n${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (stopRequested) stop('SIGTERM');
  await new Promise(() => undefined);
  return 0;
}

export const edgeCommand: Command = defineCommand({
  name: 'edge',
  summary: "run a cluster edge: MQTT for fobs, each publish PUBACKed after JetStream's ack",
  details: DETAILS,
  options: NODE_OPTIONS,
  async run(values) {
    const config = loadConfigOrExit(values.config);
    const cluster = clusterOrExit(config);
    const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
    // The configured store ([store] postgres_url, else the SQLite file), read only here.
    const store = await openStore(config);
    return runUntilSignal(log, async () => {
      const edge = await Edge.start({ config, cluster, store, log, ...(values['node-id'] ? { id: values['node-id'] } : {}) });
      // As `lonewatch hub`: SIGHUP re-reads the [tls] certificate files (a renewal hook's signal).
      const offHup = reloadTlsOnSighup({ log, reloadTls: () => edge.reloadTls() });
      return {
        stop: async () => {
          offHup();
          await edge.stop();
          await store.close();
        },
      };
    });
  },
});

function hubNodeCommand(name: 'worker' | 'http', summary: string): Command {
  return defineCommand({
    name,
    summary,
    details: DETAILS,
    options: NODE_OPTIONS,
    async run(values) {
      const config = loadConfigOrExit(values.config);
      const cluster = clusterOrExit(config);
      const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
      return runUntilSignal(log, () => ClusterWorker.start({ config, cluster, log, consume: name === 'worker', ...(values['node-id'] ? { id: values['node-id'] } : {}) }));
    },
  });
}

export const workerCommand = hubNodeCommand('worker', 'run a cluster worker: takes fob messages from JetStream, stores them, acks the fob, runs the rules; serves the dashboard');
export const httpCommand = hubNodeCommand('http', 'run a cluster HTTP node: the dashboard and API, commands to fobs over NATS, no share of the stream');
