/**
 * The hub's control socket (issue 18): a unix socket at `<data_dir>/hub.sock` on which the
 * `lonewatch` CLI sends its commands to the running hub (hub/commands/control-client.ts), so that
 * the hub hears of a change at once (a revoked fob is dropped as the command returns).
 *
 * Why a unix socket and not the HTTP API on loopback: it needs no credential of its own and no
 * certificate. The socket is created mode 0600 in the data folder, so only the account that runs the
 * hub (the one that can open the database file anyway) can connect: the local admin credential is
 * the file's permission. It carries HTTP/1.1 (node:http) with one route, `POST /v1/<command>`,
 * whose body is the command's arguments as a JSON array, checked with ADMIN_COMMAND_ARGS; the
 * answer is `{ result }`, or `{ error: { message, status, field } }` with the status of the refusal.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { AdminError } from '../admin/admin-service.js';
import { ADMIN_COMMAND_ARGS, type AdminCommandName, type AdminCommands, type CommandErrorBody } from './commands.js';

/** Where a hub with this data folder listens for commands. */
export function controlSocketPath(dataDir: string): string {
  return join(dataDir, 'hub.sock');
}

/** Linux's sockaddr_un.sun_path is 108 bytes, its terminating NUL included. */
const SUN_PATH_MAX = 107;
const BODY_MAX = 4 * 1024 * 1024;

/** True when something accepts connections on the socket (another hub on the same data folder). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  /**
   * Listens on the socket; null (with a warning saying what follows) when it cannot: the CLI then
   * writes the database itself and the hub hears of it by polling (the change feed, the device watch).
   */
  static async open(dataDir: string, commands: AdminCommands, log: Logger): Promise<ControlServer | null> {
    const path = controlSocketPath(dataDir);
    const fallback = 'the CLI will write the database itself, and this hub notices its changes within [feed] poll_ms and mqtt.device_check_ms';
    if (Buffer.byteLength(path) > SUN_PATH_MAX) {
      log.warn({ path }, `control socket not opened: its path is longer than a unix socket allows (${SUN_PATH_MAX} bytes); ${fallback}`);
      return null;
    }
    if (existsSync(path)) {
      if (await answers(path)) {
        log.warn({ path }, `control socket not opened: another hub already answers on ${path} (two hubs on one data folder?); ${fallback}`);
        return null;
      }
      // Left by a hub that did not stop (kill -9, a power cut): nobody listens on it.
      unlinkSync(path);
    }
    const server = createServer((req, res) => void handle(req, res, commands, log));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
      chmodSync(path, 0o600);
    } catch (err) {
      server.close();
      log.warn({ err, path }, `control socket not opened: ${(err as Error).message}; ${fallback}`);
      return null;
    }
    return new ControlServer(server, path);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to clean up.
    }
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function refuse(res: ServerResponse, error: CommandErrorBody): void {
  reply(res, error.status, { error });
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_MAX) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(req: IncomingMessage, res: ServerResponse, commands: AdminCommands, log: Logger): Promise<void> {
  const name = /^\/v1\/([A-Za-z]+)$/.exec(req.url ?? '')?.[1];
  if (req.method !== 'POST' || !name || !Object.hasOwn(ADMIN_COMMAND_ARGS, name)) {
    refuse(res, { message: `no command ${req.method} ${req.url}: POST /v1/<${Object.keys(ADMIN_COMMAND_ARGS).join('|')}>`, status: 404 });
    return;
  }
  const command = name as AdminCommandName;
  const text = await readBody(req);
  if (text === null) {
    refuse(res, { message: `the request is larger than ${BODY_MAX} bytes; nothing was changed`, status: 413 });
    return;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    refuse(res, { message: 'the request body is not JSON; nothing was changed', status: 400 });
    return;
  }
  const args = ADMIN_COMMAND_ARGS[command].safeParse(json);
  if (!args.success) {
    refuse(res, { message: `bad arguments for ${command}: ${args.error.issues.map((i) => `${i.path.join('.') || '(arguments)'}: ${i.message}`).join('; ')}; nothing was changed`, status: 400 });
    return;
  }
  try {
    const fn = commands[command] as (...a: unknown[]) => Promise<unknown>;
    const result = await fn.apply(commands, args.data as unknown[]);
    log.info({ command }, `control socket: ${command} done`);
    reply(res, 200, { result: result ?? null });
  } catch (err) {
    if (err instanceof AdminError) {
      refuse(res, { message: err.message, status: err.status, ...(err.field ? { field: err.field } : {}) });
      return;
    }
    log.error({ err, command }, `control socket: ${command} failed`);
    refuse(res, { message: `the hub could not carry out ${command}: ${(err as Error).message}`, status: 500 });
  }
}
