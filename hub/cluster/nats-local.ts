/**
 * A local three-node NATS cluster with JetStream, on loopback, for `lonewatch cluster up` and the
 * failure tests: Debian's `nats-server` (2.9) started once per node with its own config file, store
 * folder, client port and cluster (route) port. Each node can be killed with SIGKILL and started again
 * on the same ports and store, which is what a crashed and restarted server does.
 *
 * The config keys are nats-server's own (docs.nats.io, "Configuration": `server_name`, `listen`,
 * `jetstream { store_dir }`, `cluster { name, listen, routes }`, `authorization { user, password }`).
 * JetStream in a cluster needs a `server_name` per node and the same `cluster.name` everywhere.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { restartablePort } from './restartable-port.js';

export const NATS_SERVER_BIN = process.env.LONEWATCH_NATS_SERVER ?? 'nats-server';

/** Raised when the nats-server binary is missing or a node does not come up: says what to do. */
export class NatsClusterError extends Error {
  override name = 'NatsClusterError';
}

export interface NatsNode {
  name: string;
  port: number;
  clusterPort: number;
  storeDir: string;
  configFile: string;
  proc: ChildProcess | null;
  /** The end of what the node wrote to stderr/stdout when its output is not inherited: why it exited. */
  logTail?: string;
  /** Settles when the node's process has exited and its output has been read to the end. */
  closed?: Promise<void>;
}

/** How much of a node's own output is kept to say why it stopped. */
const LOG_TAIL_BYTES = 2048;
/**
 * Start attempts when a node exits as it starts. Its ports were free when picked (restartablePort) but are
 * only bound by nats-server a moment later, and anything else on the machine can take one between:
 * then the node exits with "address already in use", and the cluster is laid out again on new ports.
 */
const START_ATTEMPTS = 3;

export interface LocalNatsOptions {
  /** Where the nodes keep their config and JetStream store; a fresh temporary folder by default. */
  dir?: string;
  nodes?: number;
  user?: string;
  password?: string;
  /** Where each node's own log goes: 'ignore' (default) or 'inherit'. */
  stdio?: 'ignore' | 'inherit';
  /** Picks a free port for a node (restartablePort by default; a test gives a taken one to see the retry). */
  pickPort?: () => Promise<number>;
}

/** A free TCP port on loopback (asked of the kernel, then released for the server to take). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** The last `count` non-empty lines of a log, joined with ' | '. */
function lastLines(log: string, count: number): string {
  return log
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ');
}

export class LocalNatsCluster {
  readonly nodes: NatsNode[];
  private ownsDir: boolean;

  private constructor(
    readonly dir: string,
    nodes: NatsNode[],
    readonly user: string,
    readonly password: string,
    private readonly stdio: 'ignore' | 'inherit',
    ownsDir: boolean,
  ) {
    this.nodes = nodes;
    this.ownsDir = ownsDir;
  }

  /** Client URLs of every node, the list a client is given (it fails over between them). */
  get urls(): string[] {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`);
  }

  static async start(opts: LocalNatsOptions = {}): Promise<LocalNatsCluster> {
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'lw-nats-'));
    for (let attempt = 1; ; attempt++) {
      try {
        return await LocalNatsCluster.startOnce(opts, dir, !opts.dir, attempt > 1);
      } catch (err) {
        const portTaken = err instanceof NatsClusterError && /address already in use/i.test(err.message);
        if (!portTaken || attempt >= START_ATTEMPTS) {
          if (!opts.dir) rmSync(dir, { recursive: true, force: true });
          throw err;
        }
      }
    }
  }

  private static async startOnce(opts: LocalNatsOptions, dir: string, ownsDir: boolean, again: boolean): Promise<LocalNatsCluster> {
    const count = opts.nodes ?? 3;
    const pickPort = opts.pickPort ?? restartablePort;
    const user = opts.user ?? 'lonewatch';
    const password = opts.password ?? 'lonewatch-dev';
    const nodes: NatsNode[] = [];
    for (let i = 1; i <= count; i++) {
      const name = `n${i}`;
      nodes.push({ name, port: await pickPort(), clusterPort: await pickPort(), storeDir: join(dir, name, 'js'), configFile: join(dir, name, 'nats.conf'), proc: null });
    }
    // Laid out again after a failed start: what the nodes of that attempt stored is not carried over.
    if (again) for (const n of nodes) rmSync(join(dir, n.name), { recursive: true, force: true });
    for (const n of nodes) {
      mkdirSync(n.storeDir, { recursive: true });
      const routes = nodes.filter((o) => o !== n).map((o) => `"nats-route://127.0.0.1:${o.clusterPort}"`);
      writeFileSync(
        n.configFile,
        [
          `server_name: ${n.name}`,
          `listen: "127.0.0.1:${n.port}"`,
          `jetstream { store_dir: "${n.storeDir}", max_memory_store: 64MB, max_file_store: 1GB }`,
          `cluster { name: "lonewatch", listen: "127.0.0.1:${n.clusterPort}", routes: [${routes.join(', ')}] }`,
          `authorization { user: "${user}", password: "${password}" }`,
          '',
        ].join('\n'),
      );
    }
    const cluster = new LocalNatsCluster(dir, nodes, user, password, opts.stdio ?? 'ignore', ownsDir);
    try {
      for (const n of nodes) cluster.spawnNode(n);
      await cluster.waitForJetStream(30_000);
    } catch (err) {
      // The folder stays for another attempt; start() removes it if there is none.
      cluster.ownsDir = false;
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private spawnNode(n: NatsNode): void {
    // Not inherited, the node's output is kept short in memory rather than dropped: when it exits at
    // start, its last lines are the only account of why (a port taken, a bad store folder).
    const out = this.stdio === 'inherit' ? 'inherit' : 'pipe';
    const proc = spawn(NATS_SERVER_BIN, ['-c', n.configFile], { stdio: ['ignore', out, out] });
    n.logTail = '';
    const keep = (d: Buffer) => {
      n.logTail = (n.logTail + d.toString('utf8')).slice(-LOG_TAIL_BYTES);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    n.closed = new Promise((r) => proc.once('close', () => r()));
    proc.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') process.stderr.write(`lonewatch: ${NATS_SERVER_BIN} is not installed: apt-get install -y --no-install-recommends nats-server\n`);
    });
    n.proc = proc;
  }

  /** kill -9 one node: no goodbye to its peers or its clients. */
  async kill(index: number): Promise<void> {
    const n = this.nodes[index]!;
    const proc = n.proc;
    n.proc = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed node again on its ports and store, and waits until JetStream answers through it. */
  async restart(index: number, timeoutMs = 30_000): Promise<void> {
    const n = this.nodes[index]!;
    if (n.proc && n.proc.exitCode === null) return;
    this.spawnNode(n);
    await this.waitForJetStream(timeoutMs, [n]);
  }

  /**
   * Waits until JetStream answers an account-info request through each of the given nodes: the meta
   * group has a leader, which a clustered JetStream needs before it takes any stream.
   */
  async waitForJetStream(timeoutMs: number, nodes: NatsNode[] = this.nodes): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: unknown = null;
    for (const n of nodes) {
      for (;;) {
        if (n.proc && n.proc.exitCode !== null) {
          await n.closed;
          const said = lastLines(n.logTail ?? '', 3);
          throw new NatsClusterError(`nats-server ${n.name} exited at start (code ${n.proc.exitCode})${said ? `, saying: ${said}` : ''}; its config is ${n.configFile}`);
        }
        try {
          const nc = await connect({ servers: `nats://127.0.0.1:${n.port}`, user: this.user, pass: this.password, timeout: 1000, reconnect: false });
          try {
            const jsm = await jetstreamManager(nc, { timeout: 1000 });
            await jsm.getAccountInfo();
            break;
          } finally {
            await nc.close();
          }
        } catch (err) {
          last = err;
        }
        if (Date.now() > until) throw new NatsClusterError(`NATS node ${n.name} (127.0.0.1:${n.port}) has no JetStream after ${timeoutMs} ms: ${String(last)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.nodes.length; i++) {
      const p = this.nodes[i]!.proc;
      if (p && p.exitCode === null) {
        const exited = new Promise<void>((r) => p.once('exit', () => r()));
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      this.nodes[i]!.proc = null;
    }
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
