/**
 * The CLI's side of the control socket (hub/commands/control-server.ts): the admin commands sent to
 * the running hub. `connectControl` answers null when no hub listens (no socket file, or one left by a
 * hub that died), so the caller works on the database itself; any other failure is an error that
 * says nothing was confirmed.
 */
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { AdminError } from '../admin/admin-service.js';
import type { AdminCommandName, AdminCommands, CommandErrorBody } from './commands.js';

/** How long the hub may take to answer one command before the CLI gives up, in ms. */
const ANSWER_MS = 30_000;

class NoHub extends Error {
  constructor() {
    super('no hub answers on its control socket (it stopped?): the command was not sent; run it again');
    this.name = 'NoHub';
  }
}

function call(socketPath: string, command: string, args: unknown[], answerMs = ANSWER_MS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(args);
    const req = request({ socketPath, path: `/v1/${command}`, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: answerMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let parsed: { result?: unknown; error?: CommandErrorBody };
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof parsed;
        } catch {
          reject(new Error(`the hub answered ${command} with something that is not JSON (HTTP ${res.statusCode}); whether it was done is not known: check with a list command`));
          return;
        }
        if (parsed.error) reject(new AdminError(parsed.error.message, parsed.error.status, parsed.error.field));
        else resolve(parsed.result);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`the hub did not answer ${command} within ${answerMs / 1000} s; whether it was done is not known: check with a list command`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Nothing listens: the request never reached a hub, so nothing was done.
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') reject(new NoHub());
      else reject(err);
    });
    req.end(body);
  });
}

/** A client for the hub on this socket, or null when no hub answers there. */
export async function connectControl(socketPath: string): Promise<AdminCommands | null> {
  if (!existsSync(socketPath)) return null;
  try {
    // listWorkers changes nothing: a safe way to learn whether a hub is there.
    await call(socketPath, 'listWorkers', []);
  } catch (err) {
    if (err instanceof NoHub) return null;
    throw err;
  }
  const send = (command: AdminCommandName) => (...args: unknown[]) => call(socketPath, command, args);
  return {
    addDevice: send('addDevice'),
    listDevices: send('listDevices'),
    revokeDevice: send('revokeDevice'),
    assignDevice: send('assignDevice'),
    saveWorker: send('saveWorker'),
    listWorkers: send('listWorkers'),
    importVisits: send('importVisits'),
    listVisits: send('listVisits'),
    getDevice: send('getDevice'),
    checkDeviceSecret: send('checkDeviceSecret'),
    feedPosition: send('feedPosition'),
    // The hub answers when the hello comes or after ms: the socket waits that long and a margin.
    waitForHello: (deviceId: string, afterSeq: number, ms: number) => call(socketPath, 'waitForHello', [deviceId, afterSeq, ms], ms + ANSWER_MS),
  } as AdminCommands;
}
