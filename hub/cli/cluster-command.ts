// `lonewatch cluster up`: the whole cluster on loopback, for development and tests (issue 19,
// docs/cluster.md). Prints where each part listens; Ctrl-C (or SIGTERM) stops everything it started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defineCommand, UsageError } from '../../bin/command.js';
import { LocalCluster, type ClusterUpOptions } from '../cluster/cluster-up.js';

export function describeCluster(c: LocalCluster): string {
  const lines = ['lonewatch cluster up: every part is listening on loopback', ''];
  c.nats.nodes.forEach((n) => lines.push(`  NATS ${n.name}      nats://127.0.0.1:${n.port} (cluster route 127.0.0.1:${n.clusterPort}, JetStream store ${n.storeDir})`));
  for (const n of c.nodes) {
    const http = c.webUrl(n);
    if (n.role === 'edge' && c.tls) lines.push(`  ${n.id.padEnd(9)} MQTTS mqtts://127.0.0.1:${n.mqttsPort} (no plain MQTT), MQTT over WebSocket wss://127.0.0.1:${n.httpPort}/mqtt, ${http}/healthz /readyz  (log ${n.logFile})`);
    else if (n.role === 'edge') lines.push(`  ${n.id.padEnd(9)} MQTT mqtt://127.0.0.1:${n.mqttPort}, MQTT over WebSocket ws://127.0.0.1:${n.httpPort}/mqtt, ${http}/healthz /readyz  (log ${n.logFile})`);
    else if (n.role === 'worker') lines.push(`  ${n.id.padEnd(9)} dashboard and API ${http}, ${http}/healthz /readyz  (log ${n.logFile})`);
    else lines.push(`  ${n.id.padEnd(9)} dashboard and API ${http} (no share of the stream)  (log ${n.logFile})`);
  }
  const edge = c.edges[0];
  const worker = c.nodes.find((n) => n.role === 'worker');
  lines.push(
    `  store     ${c.storeLocation}`,
    ...(c.tls ? [`  TLS       development CA ${c.tls.caCert} (trust it in clients: mosquitto_pub --cafile, mqtt.js ca; never for production), certificate ${c.tls.cert} for 127.0.0.1 and localhost`] : []),
    '',
    `Config: ${c.configFile}. Register a fob:  npx lonewatch devices add fob-001 --config ${c.configFile}`,
    ...(c.tls ? [] : [`Load:    LONEWATCH_MQTT_PORT=${edge?.port} LONEWATCH_HTTP_PORT=${worker?.httpPort} npx lonewatch sim --devices 100 --duration 60 --fob wire --config ${c.configFile}`]),
    'Ctrl-C stops everything.',
    '',
  );
  return lines.join('\n');
}

export const clusterCommand = defineCommand({
  name: 'cluster',
  usage: 'cluster up [options]',
  summary: 'start a local cluster on loopback: 3 NATS nodes (JetStream), 2 edges, 2 workers, an HTTP node',
  details: [
    'Needs Debian\'s nats-server (apt-get install -y --no-install-recommends nats-server); with Debian\'s',
    'postgresql installed the store is a PostgreSQL instance of its own (run as the postgres user when root).',
    'Every node is its own process (`lonewatch edge|worker|http`) on one generated lonewatch.toml.',
  ].join('\n'),
  allowPositionals: true,
  options: {
    dir: { type: 'string', placeholder: 'folder', description: 'keep the config, database, NATS stores and logs here (default: a temporary folder, removed on stop)' },
    edges: { type: 'string', placeholder: 'n', description: 'how many edges (default 2)' },
    workers: { type: 'string', placeholder: 'n', description: 'how many workers (default 2)' },
    sqlite: { type: 'boolean', description: 'one SQLite file for every node instead of a PostgreSQL instance (the default where Debian\'s postgresql is installed)' },
    tls: { type: 'boolean', description: 'TLS everywhere with a development CA made in <dir>/tls (openssl): edges serve MQTTS and wss only, workers HTTPS' },
  },
  async run(values, positionals) {
    if (positionals[0] !== 'up' || positionals.length > 1) throw new UsageError('usage: lonewatch cluster up [--dir folder] [--edges n] [--workers n] [--sqlite] [--tls]');
    const count = (v: string | undefined, name: string): number | undefined => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 8) throw new UsageError(`--${name} must be a whole number from 1 to 8`);
      return n;
    };
    const edges = count(values.edges, 'edges');
    const workers = count(values.workers, 'workers');
    const dir = values.dir ? resolve(values.dir) : mkdtempSync(join(tmpdir(), 'lonewatch-cluster-'));
    const opts: ClusterUpOptions = { dir, ...(edges ? { edges } : {}), ...(workers ? { workers } : {}), ...(values.sqlite ? { store: 'sqlite' as const } : {}), ...(values.tls ? { tls: true } : {}) };
    process.stdout.write(`starting a local cluster in ${dir} ...\n`);
    const cluster = await LocalCluster.start(opts);
    process.stdout.write(describeCluster(cluster));
    await new Promise<void>((done) => {
      const stop = (): void => {
        process.stdout.write('stopping the cluster ...\n');
        cluster.stop().then(done, done);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    if (!values.dir) rmSync(dir, { recursive: true, force: true });
    process.stdout.write('cluster stopped\n');
    return 0;
  },
});
