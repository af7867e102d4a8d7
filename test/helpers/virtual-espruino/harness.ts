/**
 * For the flashing tests: a REAL pseudo-terminal pair made by Debian's socat, a virtual Espruino
 * board on one end (in the test's process by default, or as its own process), and the real
 * `lonewatch` CLI on the other (flash-in-process.ts runs the flash command in-process; runCli spawns
 * it, for the commands that read the keyboard).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startBoardRunner } from './board-runner.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
export const BIN = join(ROOT, 'bin/lonewatch.js');

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Pty {
  dir: string;
  /** The board's end (the virtual board opens it). */
  board: string;
  /** The host's end: what the engineer passes as --port. */
  host: string;
  stop(): Promise<void>;
}

/** socat -d -d pty,raw,echo=0,link=DIR/board pty,raw,echo=0,link=DIR/host */
export async function startPty(): Promise<Pty> {
  const dir = mkdtempSync(join(tmpdir(), 'lw-pty-'));
  const board = join(dir, 'board');
  const host = join(dir, 'host');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${board}`, `pty,raw,echo=0,link=${host}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  socat.stderr!.on('data', (d) => (err += d));
  await until(() => (existsSync(board) && existsSync(host)) || socat.exitCode !== null, 5000, `socat ptys (${err})`);
  if (socat.exitCode !== null) throw new Error(`socat failed: ${err}`);
  return {
    dir,
    board,
    host,
    async stop() {
      if (socat.exitCode === null) {
        socat.kill('SIGTERM');
        await new Promise((r) => socat.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface BoardEvent {
  ev: string;
  [k: string]: unknown;
}

export interface VirtualBoardProcess {
  events: BoardEvent[];
  send(cmd: Record<string, unknown>): void;
  waitFor(pred: (e: BoardEvent) => boolean, ms?: number): Promise<BoardEvent>;
  state(): Promise<{ files: Record<string, { n: number; crc: number }>; writes: { name: string; offset: number; length: number }[]; lw: { v?: string; id?: string } | null; silent: boolean }>;
  files(): Promise<Record<string, string>>;
  stop(): Promise<void>;
  stderr(): string;
}

export interface VirtualBoardOptions {
  board?: string;
  version?: string;
  silent?: boolean;
  storage?: string;
  modemRedirect?: string;
  relayUrl?: string;
  without?: string[];
  /** Run it as its own process (main.ts under tsx) instead of in the test's process. */
  ownProcess?: boolean;
}

/**
 * The virtual board on the pty's board end. In-process by default (issue 14 part 4: a tsx child per
 * board adds seconds and tests nothing more); its events are copied through JSON as the process's
 * stdout would carry them, so a test never sees a later state through an earlier event.
 */
export async function startVirtualBoard(tty: string, o: VirtualBoardOptions = {}): Promise<VirtualBoardProcess> {
  if (o.ownProcess) return startVirtualBoardProcess(tty, o);
  const events: BoardEvent[] = [];
  const runner = await startBoardRunner(
    {
      tty,
      board: o.board ?? 'PUCKJS',
      version: o.version ?? '2v29',
      ...(o.silent ? { silent: true } : {}),
      ...(o.storage ? { storage: o.storage } : {}),
      ...(o.modemRedirect ? { modemRedirect: o.modemRedirect } : {}),
      ...(o.relayUrl ? { relayUrl: o.relayUrl } : {}),
      ...(o.without ? { without: o.without } : {}),
    },
    (ev) => events.push(JSON.parse(JSON.stringify(ev)) as BoardEvent),
  );
  const waitFor = async (pred: (e: BoardEvent) => boolean, ms = 10_000, from = 0): Promise<BoardEvent> => {
    let found: BoardEvent | undefined;
    await until(() => (found = events.slice(from).find(pred)) !== undefined, ms, 'a virtual board event');
    return found!;
  };
  const vb: VirtualBoardProcess = {
    events,
    send: (cmd) => setImmediate(() => runner.command(cmd as never)),
    waitFor: (pred, ms) => waitFor(pred, ms),
    async state() {
      const from = events.length;
      vb.send({ cmd: 'state' });
      return (await waitFor((e) => e.ev === 'state', 5000, from)) as never;
    },
    async files() {
      const from = events.length;
      vb.send({ cmd: 'files' });
      return ((await waitFor((e) => e.ev === 'files', 5000, from)) as unknown as { files: Record<string, string> }).files;
    },
    stop: () => runner.stop(),
    stderr: () => '',
  };
  return vb;
}

async function startVirtualBoardProcess(tty: string, o: VirtualBoardOptions): Promise<VirtualBoardProcess> {
  const args = ['--import', 'tsx', MAIN, '--tty', tty, '--board', o.board ?? 'PUCKJS', '--version', o.version ?? '2v29'];
  if (o.silent) args.push('--silent');
  if (o.storage) args.push('--storage', o.storage);
  if (o.modemRedirect) args.push('--modem-redirect', o.modemRedirect);
  if (o.relayUrl) args.push('--relay-url', o.relayUrl);
  if (o.without) args.push('--without', o.without.join(','));
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const events: BoardEvent[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line));
    } catch {
      stderr += line + '\n';
    }
  });
  const waitFor = async (pred: (e: BoardEvent) => boolean, ms = 10_000, from = 0): Promise<BoardEvent> => {
    let found: BoardEvent | undefined;
    await until(() => (found = events.slice(from).find(pred)) !== undefined || child.exitCode !== null, ms, 'a virtual board event');
    if (!found) throw new Error(`virtual board exited: ${stderr}`);
    return found;
  };
  await waitFor((e) => e.ev === 'ready', 20_000);
  const vb: VirtualBoardProcess = {
    events,
    send: (cmd) => child.stdin!.write(JSON.stringify(cmd) + '\n'),
    waitFor: (pred, ms) => waitFor(pred, ms),
    async state() {
      const from = events.length;
      vb.send({ cmd: 'state' });
      return (await waitFor((e) => e.ev === 'state', 5000, from)) as never;
    },
    async files() {
      const from = events.length;
      vb.send({ cmd: 'files' });
      return ((await waitFor((e) => e.ev === 'files', 5000, from)) as unknown as { files: Record<string, string> }).files;
    },
    async stop() {
      if (child.exitCode !== null) return;
      vb.send({ cmd: 'exit' });
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 2000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
    stderr: () => stderr,
  };
  return vb;
}

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  waitForOutput(re: RegExp, ms?: number): Promise<void>;
}

/** Spawns the real CLI: node bin/lonewatch.js ARGS, with env added. */
export function runCli(args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('close', (code) => resolve({ code, stdout: out, stderr: err })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    waitForOutput: (re, ms = 20_000) => until(() => re.test(out + err) || child.exitCode !== null, ms, `CLI output ${re}`),
  };
}
