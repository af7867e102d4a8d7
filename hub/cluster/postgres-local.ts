/**
 * A local PostgreSQL instance for `lonewatch cluster up`: Debian's `postgresql` server binaries
 * (/usr/lib/postgresql/<version>/bin, not on PATH), `initdb` into the cluster's folder and
 * `pg_ctl start` on 127.0.0.1 with a free port, trust authentication on loopback only (a development
 * cluster). The server refuses to run as root ("root" execution of the PostgreSQL server is not
 * permitted), so when we are root it is made and run as the `postgres` user the Debian package
 * creates, through `runuser`, in a folder owned by that user.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './nats-local.js';

const run = promisify(execFile);

/** PostgreSQL is missing or cannot be started here: says what to install or look at. */
export class LocalPostgresError extends Error {
  override name = 'LocalPostgresError';
}

/** The newest Debian server binaries folder, or null. */
export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = join(base, v, 'bin');
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  return null;
}

function postgresUser(): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) return null;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export class LocalPostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly pgRun: (bin: string, args: string[]) => Promise<unknown>,
    private readonly ownsDir: boolean,
  ) {}

  /** postgres://lonewatch@127.0.0.1:<port>/postgres */
  get url(): string {
    return `postgres://lonewatch@127.0.0.1:${this.port}/postgres`;
  }

  get logFile(): string {
    return join(this.dir, 'server.log');
  }

  static async start(dir: string): Promise<LocalPostgres> {
    const bin = postgresBinDir();
    if (!bin) throw new LocalPostgresError('PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: apt-get install -y --no-install-recommends postgresql');
    const asRoot = userInfo().uid === 0;
    const owner = asRoot ? postgresUser() : null;
    if (asRoot && !owner) throw new LocalPostgresError('running as root, and PostgreSQL refuses to run as root: there is no postgres user to run it as (the Debian postgresql package creates it)');
    const pgRun = (b: string, args: string[]): Promise<unknown> => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, b), ...args]) : run(join(bin, b), args));
    // As root, the server's folder is one of its own under the temporary folder: the postgres user
    // may not be able to reach a folder inside root's (mkdtemp makes them 0700).
    const where = owner ? mkdtempSync(join(tmpdir(), 'lonewatch-pg-')) : dir;
    mkdirSync(where, { recursive: true });
    if (owner) chownSync(where, owner.uid, owner.gid);
    dir = where;
    const data = join(dir, 'data');
    await pgRun('initdb', ['-D', data, '-U', 'lonewatch', '--auth=trust', '-E', 'UTF8', '--no-locale']).catch((err: Error) => {
      throw new LocalPostgresError(`initdb failed in ${data}: ${err.message}`);
    });
    const port = await freePort();
    const pg = new LocalPostgres(dir, port, pgRun, owner !== null);
    await pgRun('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', pg.logFile, '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=200`]).catch((err: Error) => {
      throw new LocalPostgresError(`PostgreSQL did not start (${err.message}); its log: ${pg.logFile}`);
    });
    return pg;
  }

  async stop(): Promise<void> {
    await this.pgRun('pg_ctl', ['stop', '-m', 'fast', '-w', '-D', join(this.dir, 'data')]).catch(() => undefined);
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
