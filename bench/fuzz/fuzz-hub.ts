/**
 * The hub under fuzz: `lonewatch hub` in its own process (so a crash is seen as the process
 * exiting, and kill -9 is real), on loopback ephemeral ports with a temporary SQLite store seeded
 * with the fuzz fobs and two API tokens (duty officer and admin). Its log goes to a file in the
 * temporary folder, never to an undrained pipe (a full pipe would stall the hub and look like a hang).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { createApiToken } from '../../hub/http/users.js';
import { BENCH_SECRET, freePort, seedHubDatabase } from '../servers.js';

export interface FuzzHubSeed {
  /** Device id prefixes and how many of each, all with BENCH_SECRET. */
  devices: Record<string, number>;
}

export interface FuzzHub {
  dir: string;
  dbPath: string;
  mqttPort: number;
  httpPort: number;
  httpUrl: string;
  secret: string;
  devices: Record<string, string[]>;
  tokens: { dutyOfficer: string; admin: string };
  proc: ChildProcess;
  /** Resolves when the process exits, with how. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set once the process has exited by itself (not by stop or kill9). */
  crashed: { code: number | null; signal: NodeJS.Signals | null } | null;
  rss(): number;
  logTail(lines?: number): string;
  /** Starts the hub process again on the same store and ports (after kill9). */
  restart(): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
  /** Removes the temporary folder (after stop). */
  remove(): void;
}

export async function createFuzzHub(seed: FuzzHubSeed): Promise<FuzzHub> {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-fuzz-'));
  const dbPath = join(dir, 'lonewatch.db');
  const devices: Record<string, string[]> = {};
  for (const [prefix, count] of Object.entries(seed.devices)) devices[prefix] = await seedHubDatabase(dir, count, prefix);
  const store = new SqliteStore(dbPath);
  const now = Date.now();
  const tokens = {
    dutyOfficer: (await createApiToken(store, 'fuzz duty officer', 'duty_officer', 'fuzz', now)).token,
    admin: (await createApiToken(store, 'fuzz admin', 'admin', 'fuzz', now)).token,
  };
  await store.close();
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
      '[http]',
      'host = "127.0.0.1"',
      `port = ${httpPort}`,
      '[log]',
      'level = "warn"',
      'pretty = "never"',
    ].join('\n') + '\n',
  );
  const logPath = join(dir, 'hub.log');
  const bin = new URL('../../bin/lonewatch.js', import.meta.url).pathname;

  const hub: FuzzHub = {
    dir,
    dbPath,
    mqttPort,
    httpPort,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    secret: BENCH_SECRET,
    devices,
    tokens,
    proc: null as unknown as ChildProcess,
    exited: Promise.resolve({ code: null, signal: null }),
    crashed: null,
    rss: () => {
      const r = spawnSync('ps', ['-o', 'rss=', '-p', String(hub.proc.pid)], { encoding: 'utf8' });
      return Number(r.stdout.trim()) * 1024 || 0;
    },
    logTail: (lines = 20) => {
      try {
        return readFileSync(logPath, 'utf8').split('\n').slice(-lines - 1).join('\n');
      } catch {
        return '';
      }
    },
    async restart() {
      const fd = openSync(logPath, 'a');
      const proc = spawn(process.execPath, [bin, 'hub', '--config', config], {
        stdio: ['ignore', fd, fd],
        env: { ...process.env, LONEWATCH_MQTT_PORT: '', LONEWATCH_HTTP_PORT: '', LONEWATCH_DATA_DIR: '' },
      });
      closeSync(fd);
      let expected = false;
      hub.proc = proc;
      hub.crashed = null;
      hub.exited = new Promise((resolve) =>
        proc.once('exit', (code, signal) => {
          if (!expected) hub.crashed = { code, signal };
          resolve({ code, signal });
        }),
      );
      (proc as ChildProcess & { expectExit: () => void }).expectExit = () => {
        expected = true;
      };
      live.add(proc);
      void hub.exited.then(() => live.delete(proc));
      await waitForPort(mqttPort, hub);
      await waitForPort(httpPort, hub);
    },
    async kill9() {
      (hub.proc as ChildProcess & { expectExit: () => void }).expectExit();
      hub.proc.kill('SIGKILL');
      await hub.exited;
    },
    async stop() {
      if (hub.proc.exitCode !== null || hub.proc.signalCode !== null) return;
      (hub.proc as ChildProcess & { expectExit: () => void }).expectExit();
      hub.proc.kill('SIGTERM');
      const force = setTimeout(() => hub.proc.kill('SIGKILL'), 15_000);
      await hub.exited;
      clearTimeout(force);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await hub.restart();
  return hub;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
// A fuzz run stopped with Ctrl-C or kill leaves no hub behind ('exit' alone does not run on a signal).
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const c of live) c.kill('SIGKILL');
    process.exit(130);
  });
}

async function waitForPort(port: number, hub: FuzzHub): Promise<void> {
  const { connect } = await import('node:net');
  const started = Date.now();
  for (;;) {
    if (hub.crashed) throw new Error(`the hub exited while starting (${JSON.stringify(hub.crashed)}):\n${hub.logTail()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - started > 90_000) throw new Error(`the hub did not listen on ${port} within 90 s:\n${hub.logTail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET /metrics with the admin token: the hub's own refusal counters. */
export async function hubMetrics(hub: FuzzHub): Promise<Record<string, unknown> | null> {
  try {
    const r = await fetch(`${hub.httpUrl}/metrics`, { headers: { authorization: `Bearer ${hub.tokens.admin}` }, signal: AbortSignal.timeout(10_000) });
    return r.ok ? ((await r.json()) as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
