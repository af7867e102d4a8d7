/**
 * The servers a benchmark measures, each in its own process and on loopback only: the Lonewatch hub
 * (`lonewatch hub`, rules and database on) and Mosquitto from Debian's package as a plain broker.
 * Both are stopped when the benchmark ends, whatever happens.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../hub/store/sqlite-store.js';
import { hashSecret } from '../hub/device-secrets.js';
import { createApiToken } from '../hub/http/users.js';
import type { Store } from '../hub/store/store.js';

export const BENCH_SECRET = 'bench-secret-not-for-production';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningServer {
  name: string;
  url: string;
  pid: number;
  /** Resident memory of the server process, bytes. */
  rss(): number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

function rssOf(pid: number): number {
  const r = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' });
  return Number(r.stdout.trim()) * 1024 || 0;
}

async function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<void> {
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms:\n${out.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${out.slice(-2000)}`));
    });
  });
}

function stopper(child: ChildProcess, cleanup: () => void): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await new Promise((r) => child.once('exit', r));
      clearTimeout(killed);
    }
    live.delete(child);
    cleanup();
  };
}

/** Registers `count` bench devices straight into a new hub database (one shared secret hash). */
export async function seedHubDatabase(dataDir: string, count: number, prefix = 'bf'): Promise<string[]> {
  const store = new SqliteStore(join(dataDir, 'lonewatch.db'));
  const hash = await hashSecret(BENCH_SECRET);
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const insertWorker = store.db.prepare("INSERT INTO workers (id, name, new_starter) VALUES (?, ?, 0)");
  const insertDevice = store.db.prepare('INSERT INTO devices (id, worker_id, board, secret_hash, created_at, online) VALUES (?, ?, ?, ?, ?, 0)');
  store.db.transaction(() => {
    for (const id of ids) {
      insertWorker.run(`w-${id}`, `Bench worker ${id}`);
      insertDevice.run(id, `w-${id}`, 'rak5010', hash, Date.now());
    }
  })();
  await store.close();
  return ids;
}

export const BENCH_SERVICE = { username: 'svc-bench', password: 'bench-service-password' };

/**
 * An API token for the bench's dashboard client (GET /api/events, GET /api/alarms/:id), created with
 * the hub's own code straight into the new database before the hub starts; a duty officer's rights.
 */
/** A duty officer's API token for the bench's dashboard client (its live stream), made in `store`, which is then closed. */
export async function benchApiToken(store: Store): Promise<string> {
  try {
    return (await createApiToken(store, 'bench dashboard', 'duty_officer', 'bench', Date.now())).token;
  } finally {
    await store.close();
  }
}

function seedApiToken(dataDir: string): Promise<string> {
  return benchApiToken(new SqliteStore(join(dataDir, 'lonewatch.db')));
}

export async function startHub(devices: number): Promise<RunningServer & { ids: string[]; httpUrl: string; apiToken: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-bench-hub-'));
  const ids = await seedHubDatabase(dir, devices);
  const apiToken = await seedApiToken(dir);
  const mqttPort = await freePort();
  const httpPort = await freePort();
  const config = join(dir, 'lonewatch.toml');
  writeFileSync(
    config,
    [
      '[hub]',
      `data_dir = ${JSON.stringify(dir)}`,
      '[mqtt]',
      'host = "127.0.0.1"',
      `port = ${mqttPort}`,
      'heartbeat_buffer_max = 100000',
      // Every bench fob comes from 127.0.0.1 (up to 4 load processes x 200 CONNECTs in flight), where
      // a fleet comes from many addresses: the per-address guard (default 128) would refuse most of a
      // ramp, and what is measured here is the hub, not that guard (test/hub covers the guard).
      'unauthenticated_per_address = 1024',
      '[[mqtt.services]]',
      `username = "${BENCH_SERVICE.username}"`,
      'password_env = "LONEWATCH_BENCH_SERVICE_PASSWORD"',
      '[http]',
      'host = "127.0.0.1"',
      `port = ${httpPort}`,
      '[log]',
      'level = "warn"',
      'pretty = "never"',
    ].join('\n'),
  );
  const bin = new URL('../bin/lonewatch.js', import.meta.url).pathname;
  const nodeArgs = process.env.LONEWATCH_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LONEWATCH_BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, '--max-old-space-size=8192', bin, 'hub', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LONEWATCH_MQTT_PORT: '', LONEWATCH_HTTP_PORT: '', LONEWATCH_DATA_DIR: '', LONEWATCH_BENCH_SERVICE_PASSWORD: BENCH_SERVICE.password },
  });
  live.add(child);
  // The hub logs at warn in the bench, so wait for its port instead of its banner.
  await waitForPort(mqttPort, child, 'the hub');
  await waitForPort(httpPort, child, "the hub's HTTP server");
  return {
    name: 'lonewatch',
    url: `mqtt://127.0.0.1:${mqttPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    pid: child.pid!,
    ids,
    apiToken,
    rss: () => rssOf(child.pid!),
    stop: stopper(child, () => rmSync(dir, { recursive: true, force: true })),
  };
}

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const { connect } = await import('node:net');
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - started > 60_000) throw new Error(`${what} did not listen on ${port} within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function mosquittoAvailable(): boolean {
  return spawnSync('mosquitto', ['-h'], { encoding: 'utf8' }).error === undefined;
}

/** Installs Debian's mosquitto when it is missing and we may (root with apt-get); says what it did. */
export function ensureMosquitto(progress: (s: string) => void): boolean {
  if (mosquittoAvailable()) return true;
  if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version']).error) return false;
  progress('installing mosquitto (apt-get) for the comparison');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
  spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'mosquitto'], { stdio: 'ignore', env });
  // The package starts a system broker on 1883; the bench runs its own on a free loopback port.
  spawnSync('service', ['mosquitto', 'stop'], { stdio: 'ignore' });
  return mosquittoAvailable();
}

export async function startMosquitto(): Promise<RunningServer> {
  if (!mosquittoAvailable()) throw new Error('mosquitto is not installed: apt-get install mosquitto');
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-bench-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_type error', 'max_connections -1', 'max_queued_messages 1000'].join('\n') + '\n');
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  await waitForPort(port, child, 'mosquitto');
  void waitForLine;
  return {
    name: 'mosquitto',
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid!,
    rss: () => rssOf(child.pid!),
    stop: stopper(child, () => rmSync(dir, { recursive: true, force: true })),
  };
}
