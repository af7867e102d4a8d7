/**
 * `lonewatch ARGS` run in the test's own process: bin/cli.ts `main()`, the same function
 * bin/lonewatch.js calls, with the same command table, option parsing and command code (issue 18: a
 * spawned `node bin/lonewatch.js` costs a Node start and tsx loading the hub's modules, about one
 * and a half seconds of CPU each, dozens of times a run, and tests nothing more for an admin command
 * or a refusal). What a child process alone shows (bin/lonewatch.js itself starting, a hub stopping
 * on SIGTERM, an exit code seen by the shell) stays tested with a real spawn, in test/cli.test.ts
 * and test/hub/hub-cli.test.ts.
 *
 * For the call's duration the command sees exactly what a child would have been given:
 *   - `env`, as the command's whole environment (keys not in it are absent, as in a child's);
 *   - `cwd`, as its working directory (a `./lonewatch.toml` there is found);
 *   - `stdin`, as everything on its standard input, then end of input;
 * and what it writes with process.stdout/stderr.write is captured. A call to process.exit(code) (the
 * commands' way out on a bad config file) ends the command there with that code, as it would end
 * the child, and the signal handlers it installed are taken off again. Calls are run one at a time: stdout, the environment and the working directory are the
 * process's own.
 */
import { Readable } from 'node:stream';
import { main } from '../../bin/cli.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface InProcessOptions {
  /** The command's whole environment (as a child's `env`); default: this process's, unchanged. */
  env?: NodeJS.ProcessEnv;
  /** Its working directory; default: this process's. */
  cwd?: string;
  /** Its standard input, whole; default: empty (end of input at once). */
  stdin?: string;
}

/** Thrown in place of process.exit(code) while a command runs here, and caught by `lonewatch()`. */
class ExitCalled extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

let queue: Promise<unknown> = Promise.resolve();

/** `lonewatch ...args` in-process; resolves with its exit code and output, whatever the code. */
export function lonewatch(args: string[], o: InProcessOptions = {}): Promise<CliResult> {
  const next = queue.then(() => runOne(args, o));
  queue = next.catch(() => undefined);
  return next;
}

/** As `lonewatch()`, and rejects (with the output on the error) when the exit code is not 0, as promisify(execFile) does. */
export async function lonewatchOk(args: string[], o: InProcessOptions = {}): Promise<CliResult> {
  const r = await lonewatch(args, o);
  if (r.code !== 0) throw Object.assign(new Error(`lonewatch ${args.join(' ')} exited ${r.code}\n${r.stderr}`), r);
  return r;
}

async function runOne(args: string[], o: InProcessOptions): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const realOut = process.stdout.write;
  const realErr = process.stderr.write;
  const realExit = process.exit;
  const stdinDescriptor = Object.getOwnPropertyDescriptor(process, 'stdin');
  const savedEnv = { ...process.env };
  const savedCwd = process.cwd();
  const signalsBefore = new Map(SIGNALS.map((sig) => [sig, process.listeners(sig)]));
  const capture =
    (append: (s: string) => void) =>
    (chunk: string | Uint8Array, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void): boolean => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? encoding : 'utf8'));
      const done = typeof encoding === 'function' ? encoding : cb;
      if (done) queueMicrotask(() => done());
      return true;
    };
  process.stdout.write = capture((s) => (stdout += s)) as typeof process.stdout.write;
  process.stderr.write = capture((s) => (stderr += s)) as typeof process.stderr.write;
  process.exit = ((code?: number | string | null) => {
    throw new ExitCalled(Number(code ?? 0));
  }) as typeof process.exit;
  const input = Readable.from([Buffer.from(o.stdin ?? '')]);
  Object.defineProperty(process, 'stdin', { configurable: true, enumerable: stdinDescriptor?.enumerable ?? true, get: () => input });
  if (o.env) {
    for (const k of Object.keys(process.env)) if (!(k in o.env)) delete process.env[k];
    for (const [k, v] of Object.entries(o.env)) if (v !== undefined) process.env[k] = v;
  }
  if (o.cwd) process.chdir(o.cwd);
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } catch (err) {
    if (err instanceof ExitCalled) return { code: err.code, stdout, stderr };
    // What bin/lonewatch.js would do with an uncaught error: print it and exit 1.
    return { code: 1, stdout, stderr: `${stderr}${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n` };
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
    process.exit = realExit;
    if (stdinDescriptor) Object.defineProperty(process, 'stdin', stdinDescriptor);
    // `lonewatch hub` catches SIGINT/SIGTERM from the start; a refused start leaves those handlers,
    // which in a child die with it but here would swallow the test process's own SIGTERM.
    for (const [sig, before] of signalsBefore) for (const l of process.listeners(sig)) if (!before.includes(l)) process.off(sig, l);
    if (o.cwd) process.chdir(savedCwd);
    if (o.env) {
      for (const k of Object.keys(process.env)) delete process.env[k];
      Object.assign(process.env, savedEnv);
    }
  }
}
