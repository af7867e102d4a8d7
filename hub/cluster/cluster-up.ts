/**
 * A whole cluster on loopback, for development and the failure tests (`lonewatch cluster up`,
 * docs/cluster.md): a three-node NATS cluster with JetStream (hub/cluster/nats-local.ts), then edges,
 * workers and an HTTP node, each its own `lonewatch edge|worker|http` process (so any of them can be
 * killed with SIGKILL and started again on the same ports), all on one generated lonewatch.toml.
 *
 * The store is a PostgreSQL instance started here too (hub/cluster/postgres-local.ts), as its own
 * user, when Debian's postgresql is installed; without it, one SQLite file that every node opens (WAL
 * mode allows that on one machine), and `cluster up` says so.
 *
 * With `tls` (`cluster up --tls`) a development CA made here (hub/tls/dev-pki.ts) signs one
 * certificate for 127.0.0.1/localhost, and the generated config has `[tls]` as an operator would
 * write it: every edge serves MQTTS (plain MQTT off) and wss, every worker and the HTTP node HTTPS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../store/sqlite-store.js';
import { PostgresStore } from '../store/postgres-store.js';
import { LocalNatsCluster } from './nats-local.js';
import { restartablePort } from './restartable-port.js';
import { LocalPostgres, postgresBinDir } from './postgres-local.js';
import { makeCa, makeLeaf, LOOPBACK_SERVER_EXT } from '../tls/dev-pki.js';

export type NodeRole = 'edge' | 'worker' | 'http';

export interface ClusterNode {
  role: NodeRole;
  id: string;
  /** MQTT port for fobs (edges without TLS); 0 otherwise. */
  mqttPort: number;
  /** MQTTS port for fobs (edges with TLS); 0 otherwise. */
  mqttsPort: number;
  httpPort: number;
  logFile: string;
  proc: ChildProcess | null;
}

export interface ClusterUpOptions {
  /** Where the config, the database, the NATS stores and every node's log go. */
  dir: string;
  edges?: number;
  workers?: number;
  httpNode?: boolean;
  /** Extra [cluster] keys (tests: a short ack_wait_ms). */
  cluster?: Record<string, string | number>;
  logLevel?: 'info' | 'warn' | 'debug';
  /** How long a node may take to answer /readyz at start, in ms. */
  readyTimeoutMs?: number;
  /** The shared store: PostgreSQL (default where Debian's postgresql is installed) or one SQLite file. */
  store?: 'postgres' | 'sqlite';
  /**
   * With store 'postgres': a database on a PostgreSQL server already running, used instead of
   * starting one here (the tests: one server per run, a database per file, issue 18). The cluster
   * neither starts nor stops that server.
   */
  postgresUrl?: string;
  /**
   * More TOML appended to the generated lonewatch.toml, after [cluster] (tests: [notifiers.webhook]
   * and a short escalation policy). Every node reads it and validates it as any config.
   */
  extraToml?: string;
  /** TLS on every node with a development CA made in `<dir>/tls` (edges: MQTTS and wss only). */
  tls?: boolean;
  /**
   * Node.js options for the node processes of one role (bench/edge-flood-profile.ts: `--cpu-prof`,
   * which Node refuses in NODE_OPTIONS). Default none.
   */
  nodeArgs?: Partial<Record<NodeRole, string[]>>;
  /**
   * The script each node runs as `node <cli> <role> ...`. Default bin/lonewatch.js (the TypeScript
   * sources through tsx); the tests give one esbuild bundle of the same sources, made once per run
   * (test/helpers/cli-bundle.ts), which loads in about half the CPU.
   */
  cli?: string;
}

/** The development PKI of a `cluster up --tls`: PEM paths. */
export interface ClusterTls {
  caCert: string;
  cert: string;
  key: string;
}

/** Raised when a node does not come up: names it and its log file. */
export class ClusterUpError extends Error {
  override name = 'ClusterUpError';
}

/**
 * The last lines of a node's log, for the error that says it did not start: the log lives in a
 * temporary directory a test run removes, so the cause has to travel in the message.
 */
function logTail(file: string, lines = 15): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return ' (unreadable)';
  }
  const tail = text.trimEnd().split('\n').slice(-lines).join('\n');
  return tail ? `; its last lines:\n${tail}` : ' (empty)';
}

const CLI = fileURLToPath(new URL('../../bin/lonewatch.js', import.meta.url));
const PASSWORD_ENV = 'LONEWATCH_NATS_PASSWORD';
const RELAY_KEY_ENV = 'LONEWATCH_RELAY_KEY';

function toml(value: string | number): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/** A node's HTTP base URL on loopback: https with TLS. */
function nodeWebUrl(tls: boolean, n: ClusterNode): string {
  return `${tls ? 'https' : 'http'}://127.0.0.1:${n.httpPort}`;
}

export class LocalCluster {
  private constructor(
    readonly dir: string,
    readonly configFile: string,
    readonly nats: LocalNatsCluster,
    readonly nodes: ClusterNode[],
    private readonly readyTimeoutMs: number,
    /** The PostgreSQL instance; null when the store is the SQLite file. */
    readonly postgres: LocalPostgres | null,
    /** The development CA and the nodes' certificate; null without TLS. */
    readonly tls: ClusterTls | null,
    /** The companion relay key every node is given in LONEWATCH_RELAY_KEY (made here, never written to disk). */
    private readonly relayKey: string,
    /** The PostgreSQL database given in ClusterUpOptions.postgresUrl, or null. */
    private readonly givenPostgresUrl: string | null = null,
    private readonly nodeArgs: ClusterUpOptions['nodeArgs'] & object = {},
    private readonly cli: string = CLI,
  ) {}

  /** Where the store is, in words: the PostgreSQL URL or the SQLite file. */
  get storeLocation(): string {
    if (this.givenPostgresUrl) return `PostgreSQL ${this.givenPostgresUrl} (a server this cluster did not start)`;
    return this.postgres ? `PostgreSQL ${this.postgres.url} (log ${this.postgres.logFile})` : `SQLite ${join(this.dir, 'data', 'lonewatch.db')} (every node opens it; install postgresql for a shared server)`;
  }

  static async start(o: ClusterUpOptions): Promise<LocalCluster> {
    const dir = o.dir;
    const dataDir = join(dir, 'data');
    const logDir = join(dir, 'logs');
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(logDir, { recursive: true });
    const usePostgres = (o.store ?? (postgresBinDir() ? 'postgres' : 'sqlite')) === 'postgres';
    const givenUrl = usePostgres ? (o.postgresUrl ?? null) : null;
    const postgres = usePostgres && !givenUrl ? await LocalPostgres.start(join(dir, 'postgres')) : null;
    const postgresUrl = givenUrl ?? postgres?.url ?? null;
    let nats: LocalNatsCluster;
    try {
      nats = await LocalNatsCluster.start({ dir: join(dir, 'nats') });
    } catch (err) {
      await postgres?.stop();
      throw err;
    }
    const configFile = join(dir, 'lonewatch.toml');
    let tls: ClusterTls | null = null;
    if (o.tls) {
      const tlsDir = join(dir, 'tls');
      mkdirSync(tlsDir, { recursive: true });
      const ca = makeCa(tlsDir, 'dev-ca', 'Lonewatch cluster up development CA');
      const leaf = makeLeaf(tlsDir, 'node', 'lonewatch-cluster.local', 'dev-ca', 30, LOOPBACK_SERVER_EXT);
      tls = { caCert: ca.cert, cert: leaf.cert, key: leaf.key };
    }
    const nodes: ClusterNode[] = [];
    const add = async (role: NodeRole, id: string): Promise<void> => {
      // A node killed and started again comes back on its ports (restartable-port.ts).
      const fobPort = role === 'edge' ? await restartablePort() : 0;
      nodes.push({ role, id, mqttPort: tls ? 0 : fobPort, mqttsPort: tls ? fobPort : 0, httpPort: await restartablePort(), logFile: join(logDir, `${id}.log`), proc: null });
    };
    for (let i = 1; i <= (o.workers ?? 2); i++) await add('worker', `worker-${i}`);
    for (let i = 1; i <= (o.edges ?? 2); i++) await add('edge', `edge-${i}`);
    if (o.httpNode !== false) await add('http', 'http-1');
    const scheme = tls ? 'wss' : 'ws';
    // The dashboard's address in every alert's link and the cookies' Secure flag (hub.public_url):
    // the HTTP node's, else a worker's (workers serve the dashboard and API too; edges do not),
    // https with TLS. Left to its default it said http://localhost:8080, where nothing of this
    // cluster listens, and with TLS the hub warned that its links point at http.
    const dashboard = nodes.find((n) => n.role === 'http') ?? nodes.find((n) => n.role === 'worker');
    const publicUrl = dashboard ? nodeWebUrl(Boolean(tls), dashboard) : null;
    const edgeWebSockets = nodes.filter((n) => n.role === 'edge').map((n) => `${scheme}://127.0.0.1:${n.httpPort}/mqtt`);
    const extra = Object.entries(o.cluster ?? {}).map(([k, v]) => `${k} = ${toml(v)}`);
    writeFileSync(
      configFile,
      [
        '# Written by `lonewatch cluster up`: every node of the local cluster reads this file.',
        '[hub]',
        `data_dir = ${toml(dataDir)}`,
        ...(publicUrl ? [`public_url = ${toml(publicUrl)}`] : []),
        '[mqtt]',
        'host = "127.0.0.1"',
        '[http]',
        'host = "127.0.0.1"',
        '[log]',
        `level = ${toml(o.logLevel ?? 'info')}`,
        'pretty = "never"',
        ...(postgresUrl ? ['[store]', `postgres_url = ${toml(postgresUrl)}`] : []),
        // Each edge's MQTTS port comes from LONEWATCH_MQTTS_PORT (one file for every node).
        ...(tls ? ['[tls]', `cert_file = ${toml(tls.cert)}`, `key_file = ${toml(tls.key)}`, `fob_ca_file = ${toml(tls.caCert)}`] : []),
        '[cluster]',
        `servers = [${nats.urls.map(toml).join(', ')}]`,
        `user = ${toml(nats.user)}`,
        `password_env = ${toml(PASSWORD_ENV)}`,
        // The companion relays through the edges: every node shares the relay key (from the environment).
        `relay_key_env = ${toml(RELAY_KEY_ENV)}`,
        `edge_websockets = [${edgeWebSockets.map(toml).join(', ')}]`,
        ...extra,
        ...(o.extraToml ? [o.extraToml] : []),
        '',
      ].join('\n'),
    );
    // The database is created (and migrated) once, here, before several processes open it.
    if (postgresUrl) await (await PostgresStore.open(postgresUrl)).close();
    else await new SqliteStore(join(dataDir, 'lonewatch.db')).close();
    const cluster = new LocalCluster(dir, configFile, nats, nodes, o.readyTimeoutMs ?? 90_000, postgres, tls, randomBytes(32).toString('hex'), givenUrl, o.nodeArgs ?? {}, o.cli ?? CLI);
    try {
      for (const n of nodes) cluster.spawn(n);
      await Promise.all(nodes.map((n) => cluster.waitReady(n)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  node(id: string): ClusterNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id} in this cluster (${this.nodes.map((x) => x.id).join(', ')})`);
    return n;
  }

  /** Every edge's MQTT address (MQTTS with TLS): what a fob is given to fail over between. */
  get edges(): { host: string; port: number }[] {
    return this.nodes.filter((n) => n.role === 'edge').map((n) => ({ host: '127.0.0.1', port: this.tls ? n.mqttsPort : n.mqttPort }));
  }

  /** A node's HTTP base URL: https with TLS. */
  webUrl(n: ClusterNode): string {
    return nodeWebUrl(Boolean(this.tls), n);
  }

  /** Every edge's MQTT-over-WebSocket URL (wss with TLS): what the companion is given. */
  get edgeWebSockets(): string[] {
    return this.nodes.filter((n) => n.role === 'edge').map((n) => `${this.tls ? 'wss' : 'ws'}://127.0.0.1:${n.httpPort}/mqtt`);
  }

  private spawn(n: ClusterNode): void {
    const out = openSync(n.logFile, 'a');
    const proc = spawn(process.execPath, [...(this.nodeArgs[n.role] ?? []), this.cli, n.role, '--config', this.configFile, '--node-id', n.id], {
      env: {
        ...process.env,
        [PASSWORD_ENV]: this.nats.password,
        [RELAY_KEY_ENV]: this.relayKey,
        LONEWATCH_HTTP_PORT: String(n.httpPort),
        ...(n.role === 'edge' && this.tls ? { LONEWATCH_MQTTS_PORT: String(n.mqttsPort) } : {}),
        ...(n.role === 'edge' && !this.tls ? { LONEWATCH_MQTT_PORT: String(n.mqttPort) } : {}),
      },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    n.proc = proc;
  }

  /** Polls the node's /readyz (its own answer: NATS, JetStream and, for workers, the store). */
  async waitReady(n: ClusterNode, timeoutMs = this.readyTimeoutMs): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const proc = n.proc;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
        throw new ClusterUpError(`${n.role} ${n.id} exited while starting (${proc?.exitCode ?? proc?.signalCode}); its log: ${n.logFile}${logTail(n.logFile)}`);
      }
      const status = await this.readyStatus(n);
      if (status === 200) return;
      if (Date.now() > until) throw new ClusterUpError(`${n.role} ${n.id} was not ready within ${timeoutMs} ms; its log: ${n.logFile}${logTail(n.logFile)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The node's /readyz status (0: no answer), over HTTPS trusting the development CA with TLS. */
  private readyStatus(n: ClusterNode): Promise<number> {
    if (!this.tls) {
      return fetch(`http://127.0.0.1:${n.httpPort}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.status,
        () => 0,
      );
    }
    const ca = readFileSync(this.tls.caCert, 'utf8');
    return new Promise((resolve) => {
      const req = httpsRequest(`${this.webUrl(n)}/readyz`, { ca, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(0));
      req.end();
    });
  }

  /** kill -9 one node. */
  async kill(id: string): Promise<void> {
    const n = this.node(id);
    const proc = n.proc;
    n.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed node again on its ports, and waits until it is ready. */
  async restart(id: string): Promise<void> {
    const n = this.node(id);
    if (n.proc && n.proc.exitCode === null && n.proc.signalCode === null) return;
    this.spawn(n);
    await this.waitReady(n);
  }

  /** Stops every node (SIGTERM, then SIGKILL after 10 s), then NATS. */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        const p = n.proc;
        n.proc = null;
        if (!p || p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise<void>((r) => p.once('exit', () => r()));
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }),
    );
    await this.nats.stop();
    await this.postgres?.stop();
  }
}
