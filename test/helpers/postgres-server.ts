/**
 * A throwaway PostgreSQL server for a test file: `initdb` in a temporary folder, `pg_ctl start` on
 * 127.0.0.1 with a free port, `pg_ctl stop -m fast` and the folder removed at the end. Debian's
 * postgresql 15 (`apt-get install postgresql`, as .ci/run does) puts the binaries in
 * /usr/lib/postgresql/<version>/bin, not on PATH.
 *
 * PostgreSQL refuses to run as root ("root" execution of the PostgreSQL server is not permitted), so
 * when the tests run as root (CI does) the cluster is made and run as the `postgres` user that the
 * Debian package creates, through `runuser`, with the folder chowned to it.
 *
 * Missing binaries: `postgresMissing()` says why, so a test file can skip saying so; in CI
 * (`process.env.CI`) `requirePostgresOrSkip` throws instead, because a skipped store suite in CI would
 * hide that the PostgreSQL store was never tested.
 *
 * One server per run (issue 18): initdb, start and stop cost a few CPU-seconds a file, and the files
 * keep apart by database (or schema) anyway. The global set-up (test/helpers/global-setup.ts) starts
 * one with `startOwnPostgres()` and provides its URL; `startPostgres()` in a test file then returns a
 * handle on that server, whose databases and schemas carry the file's process id in their names and
 * whose `stop()` drops what this handle made and leaves the server running for the other files.
 * Without the shared server (a script, or it failed to start) the file starts its own, as before.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { inject } from 'vitest';

const run = promisify(execFile);

/** Where Debian's packages put the server binaries, newest version first; then PATH wrappers. */
function binDirCandidates(): string[] {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return [...versions.map((v) => join(base, v, 'bin')), '/usr/local/bin', '/usr/bin'];
}

export function findPostgresBinDir(): string | null {
  for (const dir of binDirCandidates()) {
    if (['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b)))) return dir;
  }
  return null;
}

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function postgresMissing(): string | null {
  if (!findPostgresBinDir()) {
    return 'PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in /usr/lib/postgresql/*/bin or on PATH: apt-get install -y --no-install-recommends postgresql';
  }
  if (userInfo().uid === 0) {
    if (!existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) {
      return 'running as root, and PostgreSQL refuses to run as root: runuser (util-linux) is needed to run it as the postgres user';
    }
    if (!readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('postgres:'))) {
      return 'running as root, and PostgreSQL refuses to run as root: there is no postgres user to run it as (the Debian postgresql package creates it)';
    }
  }
  return null;
}

/**
 * For a test file's top level: returns true when PostgreSQL tests can run; false (the caller skips,
 * and the reason is printed) outside CI; throws in CI, where a missing PostgreSQL is a failure.
 */
export function requirePostgresOrSkip(): boolean {
  const missing = postgresMissing();
  if (!missing) return true;
  if (process.env.CI) throw new Error(`CI: ${missing}`);
  process.stderr.write(`skipping PostgreSQL tests: ${missing}\n`);
  return false;
}

export interface PostgresServer {
  /** postgres://lonewatch@127.0.0.1:<port>/postgres (trust auth on loopback: a throwaway cluster). */
  url: string;
  port: number;
  /** The server's folder; '' on a handle to the run's shared server (not this file's to remove). */
  dir: string;
  /**
   * Creates a database and returns its URL: one per test keeps tests apart. Empty, or a copy of
   * `template` (a database made here and no longer connected to).
   */
  createDatabase(name?: string, template?: string): Promise<string>;
  /** Drops a database made by createDatabase (its connections are ended first). */
  dropDatabase(url: string): Promise<void>;
  /**
   * Creates an empty schema in the `postgres` database and returns a URL whose connections use it
   * (`options=-c search_path=<schema>`): a fresh store per test in milliseconds, where a database
   * takes about a second to create on a busy machine.
   */
  createSchema(): Promise<string>;
  /** Drops a schema made by createSchema, with everything in it. */
  dropSchema(url: string): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

let dbCounter = 0;

/** The run's shared server's admin URL, or '' (no global set-up, or it could not start one). */
function sharedUrl(): string {
  try {
    return inject('postgresUrl') ?? '';
  } catch {
    return '';
  }
}

/**
 * For a test file: a handle on the run's shared server when there is one and it answers, else a
 * server of this file's own (`startOwnPostgres`).
 */
export async function startPostgres(): Promise<PostgresServer> {
  const url = sharedUrl();
  if (url) {
    try {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.end();
      return serverHandle(url, Number(new URL(url).port), '', async () => undefined);
    } catch (err) {
      process.stderr.write(`the shared PostgreSQL at ${url} did not answer (${(err as Error).message}); starting one for this file\n`);
    }
  }
  return startOwnPostgres();
}

/** initdb and pg_ctl start in a temporary folder: a server of the caller's own. */
export async function startOwnPostgres(): Promise<PostgresServer> {
  const binDir = findPostgresBinDir();
  if (!binDir) throw new Error(postgresMissing() ?? 'PostgreSQL not found');
  const asRoot = userInfo().uid === 0;
  // Run a server binary as ourselves, or as `postgres` when we are root.
  const pgRun = (bin: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(binDir, bin), ...args]) : run(join(binDir, bin), args);

  // As root the folder must be reachable by the postgres user: /tmp is, a TMPDIR under /root is not.
  const dir = mkdtempSync(join(asRoot ? '/tmp' : tmpdir(), 'lw-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  if (asRoot) {
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
  }
  await pgRun('initdb', ['-D', data, '-U', 'lonewatch', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);

  // A free port can be taken between finding it and the server binding it: try a few.
  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    // fsync off: a throwaway cluster for tests, whose durability across a power cut is not what
    // these tests show (the store's transactions and locks are). The socket lives in our folder.
    // 400 connections: on the run's shared server, files running at once each open pools (a cluster
    // file's nodes ten each).
    const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400`;
    try {
      await pgRun('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', logFile, '-o', opts]);
    } catch (err) {
      lastErr = new Error(`pg_ctl start failed: ${(err as Error).message}\n${existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : ''}`);
      continue;
    }
    const url = `postgres://lonewatch@127.0.0.1:${port}/postgres`;
    // Fast shutdown: open connections are ended, nothing is waited for (a test's leftovers).
    return serverHandle(url, port, dir, async () => {
      await pgRun('pg_ctl', ['stop', '-m', 'fast', '-w', '-D', data]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    });
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastErr;
}

/**
 * The databases and schemas this handle made are named `<name or t>_<pid>_<n>` and `s_<pid>_<n>`:
 * unique across the files of a run sharing one server. `stop()` drops them, then runs stopServer
 * (a no-op on the shared server).
 */
function serverHandle(url: string, port: number, dir: string, stopServer: () => Promise<void>): PostgresServer {
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  const databases = new Set<string>();
  const schemas = new Set<string>();
  let stopped = false;
  return {
    url,
    port,
    dir,
    async createDatabase(name?: string, template?: string) {
      const db = `${name ?? 't'}_${process.pid}_${++dbCounter}`;
      // FILE_COPY: copy the files and checkpoint (cheap with fsync off) rather than WAL-log every
      // block, PostgreSQL 15's default for CREATE DATABASE, which is the slower for small databases.
      await admin(`CREATE DATABASE ${db} ${template ? `TEMPLATE ${template} ` : ''}STRATEGY FILE_COPY`);
      databases.add(db);
      return `postgres://lonewatch@127.0.0.1:${port}/${db}`;
    },
    async dropDatabase(dbUrl: string) {
      const db = new URL(dbUrl).pathname.slice(1);
      if (!/^[a-z0-9_]+$/.test(db)) throw new Error(`not a test database name: ${db}`);
      await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      databases.delete(db);
    },
    async createSchema() {
      const schema = `s_${process.pid}_${++dbCounter}`;
      await admin(`CREATE SCHEMA ${schema}`);
      schemas.add(schema);
      return `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    },
    async dropSchema(schemaUrl: string) {
      const m = /search_path=([a-z0-9_]+)/.exec(decodeURIComponent(new URL(schemaUrl).search));
      if (!m) throw new Error(`not a test schema URL: ${schemaUrl}`);
      await admin(`DROP SCHEMA IF EXISTS ${m[1]} CASCADE`);
      schemas.delete(m[1]!);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // What this file made goes, so a shared server does not fill up over a run; a server of the
      // file's own is removed whole by stopServer anyway.
      if (!dir) {
        for (const db of databases) await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
        for (const schema of schemas) await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      }
      await stopServer();
    },
  };
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root and there is no postgres user to run PostgreSQL as (the Debian postgresql package creates it)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
