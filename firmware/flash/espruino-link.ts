/**
 * The connection to a board's console, through EspruinoTools (the `espruino` package) used as a
 * library: its headless init, its Espruino.Config, and its Espruino.Core.Serial (the throttled
 * writer that splits around Ctrl-C/reset()/load(), XON/XOFF flow control) over `serialport`.
 *
 * EspruinoTools' own Node serial device only opens ports that SerialPort.list() reports (a
 * pseudo-terminal or a by-id symlink is not listed) and has no handler for open errors, so this
 * module plugs one serial device into Espruino.Core.Serial.devices, the extension point
 * EspruinoTools provides for transports: the same `serialport` underneath, with the open error
 * (missing, busy, no permission) kept so that the engineer gets a clear message.
 *
 * Flow control is this module's, not EspruinoTools' (see flow-control.ts): every byte the board sends
 * passes through FlowControl.receive, every byte written through FlowControl.write.
 *
 * Also here: the dry-run link, which records exactly the bytes a real run would send.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SerialPort } from 'serialport';
import { FlowClosedError, FlowControl } from './flow-control.js';
import { answerProblem, findAnswer, requestLine } from './wire.js';

/**
 * Bytes the tool asked to send that the port has not finished writing: the request may not have
 * reached the board at all (the port's writes stalled), which is not the board's silence.
 */
function stalled(bytes: number): string {
  return bytes > 0 ? `; ${bytes} bytes of what was sent had not finished leaving this computer (the port's writes stalled)` : '';
}

/** What the board printed while a request went unanswered: an engineer (and a developer) learns whether it went quiet or said something. */
function printedSince(text: string): string {
  // The console's prompt (">", after the previous answer) is not something the board said.
  const t = text.replace(/\r/g, '').replace(/^>/gm, '').trim();
  if (t === '') return '; it printed nothing since the request';
  return `; since the request it printed ${JSON.stringify(t.length > 160 ? `...${t.slice(-160)}` : t)}`;
}

export class FlashError extends Error {
  override name = 'FlashError';
  constructor(
    message: string,
    /** What the engineer should do next. */
    readonly hint?: string,
    readonly code: 'port' | 'busy' | 'silent' | 'board' | 'version' | 'registered' | 'flashed' | 'interrupted' | 'verify' | 'hub' | 'other' = 'other',
  ) {
    super(message);
  }
}

/**
 * The port closed under a request (the cable pulled, the adapter gone). Code 'silent', as a board
 * that stops answering, for the callers that treat both alike; the upload says which it was.
 */
export class PortClosedError extends FlashError {}

/** A console the session can talk to: raw writes, and requests answered between markers. */
export interface ConsoleLink {
  readonly dryRun: boolean;
  /** Sends bytes as they are. */
  send(raw: string): Promise<void>;
  /**
   * Evaluates expr on the board and resolves with its JSON value. `fresh` is the answer a blank,
   * healthy board would give: the dry-run link answers with it (and the serial link ignores it).
   */
  request<T>(expr: string, opts?: { timeoutMs?: number; fresh?: T }): Promise<T>;
  /** Waits while the board prints, e.g. the banner after reset(). Returns what came. */
  drain(ms: number): Promise<string>;
  /** Where what the board prints from now on starts (for watch). */
  mark(): number;
  /** What the board printed since mark, once done(text) holds, ms pass or the port closes. */
  watch(since: number, ms: number, done: (text: string) => boolean): Promise<string>;
  /** The port, for messages. */
  readonly path: string;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// EspruinoTools, initialised once per process

interface EspruinoSerialDevice {
  name: string;
  getPorts(cb: (ports: { path: string; description?: string }[], instant: boolean) => void): void;
  open(path: string, openCb: (info?: unknown) => void, receiveCb: (data: ArrayBuffer) => void, disconnectCb: () => void): void;
  write(data: string, cb: () => void): void;
  close(): void;
}

interface EspruinoGlobal {
  Config: Record<string, unknown>;
  Core: {
    Serial: {
      devices: EspruinoSerialDevice[];
      open(path: string, connect: (info?: unknown) => void, disconnect: () => void): void;
      startListening(cb: (data: ArrayBuffer) => void): unknown;
      write(data: string, showStatus: boolean, cb?: () => void): void;
      close(): void;
      isConnected(): boolean;
      setSlowWrite(on: boolean, force?: boolean): void;
    };
  };
}

let debugSink: (line: string) => void = () => undefined;
let tools: Promise<EspruinoGlobal> | null = null;

/** Where EspruinoTools' chatter goes (it logs through console.*): nowhere, or stderr with --verbose. */
export function setDebug(sink: ((line: string) => void) | null): void {
  debugSink = sink ? (line) => sink(redactSecrets(line)) : () => undefined;
}

/** The fob's secret travels inside the identity JSON (`"pw":"..."`, escaped or not, written and read
 * back); --verbose output ends up in tickets and chat, so the value never reaches it. The same for
 * the Puck.js's BLE passkey (`"pk"`, issue 17) and the RAK5010's client key (staged on the board in
 * pieces as `__lwf[1]`, firmware/flash/modem-files.ts: each piece's bytes are hidden). */
export function redactSecrets(line: string): string {
  return line
    .replace(/(\\*"pw\\*"\s*:\s*\\*")[^"\\]*/g, '$1<secret>')
    .replace(/(\\*"pk\\*"\s*:\s*\\*")[^"\\]*/g, '$1<passkey>')
    .replace(/(__lwf\[1\]\+=)"(?:[^"\\]|\\.)*"/g, '$1"<private key>"');
}

function espruinoTools(): Promise<EspruinoGlobal> {
  tools ??= new Promise((resolve, reject) => {
    // EspruinoTools reports through console.log/warn/error, from loading onwards and while it runs.
    const route = (...a: unknown[]): void => debugSink(a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' '));
    console.log = route;
    console.info = route;
    console.warn = route;
    console.error = route;
    try {
      const require = createRequire(import.meta.url);
      // EspruinoTools' relay transport sets NODE_TLS_REJECT_UNAUTHORIZED=0 as it loads
      // (core/serial_websocket_relay.js, for espruino.com's relay): every TLS connection of this
      // process would then skip certificate checks. The relay is never used here: put it back.
      const tlsEnv = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      const restoreTls = (): void => {
        if (tlsEnv === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
        else process.env.NODE_TLS_REJECT_UNAUTHORIZED = tlsEnv;
      };
      const lib = require('espruino') as { init(cb: () => void): void };
      restoreTls();
      lib.init(() => {
        restoreTls();
        const E = (globalThis as unknown as { Espruino: EspruinoGlobal }).Espruino;
        // No query of process.env on connect (we ask ourselves, with a clear error) and no Storage
        // write throttling: every chunk is a request that waits for its answer anyway.
        E.Config.ENV_ON_CONNECT = false;
        E.Config.STORAGE_UPLOAD_METHOD = 1;
        E.Config.SERIAL_THROTTLE_SEND = 2;
        // Only our device: the Bluetooth/WebSocket/audio transports must not scan or listen.
        E.Core.Serial.devices.length = 0;
        E.Core.Serial.devices.push(serialDevice);
        resolve(E);
      });
    } catch (err) {
      reject(err);
    }
  });
  return tools;
}

// One port at a time per process (EspruinoTools keeps one connection).
let current: { path: string; baudRate: number; port: SerialPort | null; openError: Error | null; flow: FlowControl } = {
  path: '',
  baudRate: 9600,
  port: null,
  openError: null,
  flow: new FlowControl(),
};

const serialDevice: EspruinoSerialDevice = {
  name: 'Lonewatch serialport',
  getPorts(cb) {
    const wanted = current.path ? [{ path: current.path }] : [];
    listPorts()
      .then((ports) => cb([...wanted, ...ports.filter((p) => p.path !== current.path).map((p) => ({ path: p.path, description: p.manufacturer }))], true))
      .catch(() => cb(wanted, true));
  },
  open(path, openCb, receiveCb, disconnectCb) {
    const port = new SerialPort({ path, baudRate: current.baudRate, autoOpen: false, lock: true });
    current.port = port;
    port.on('error', (err) => debugSink(`serialport: ${err.message}`));
    port.open((err) => {
      if (err) {
        current.openError = err;
        current.port = null;
        openCb(undefined);
        return;
      }
      const flow = current.flow;
      port.on('data', (raw: Buffer) => {
        const d = flow.receive(raw);
        if (d.length > 0) receiveCb(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer);
      });
      port.on('close', () => {
        flow.close();
        disconnectCb();
      });
      openCb({ portName: path });
    });
  },
  write(data, cb) {
    const port = current.port;
    if (!port) return cb();
    // EspruinoTools waits for cb before its next block: holding cb while the board says XOFF holds
    // the whole writer.
    current.flow
      .write(Buffer.from(data, 'latin1'), (piece) => new Promise<void>((resolve) => port.write(piece, () => port.drain(() => resolve()))))
      .catch((err: Error) => debugSink(err instanceof FlowClosedError ? err.message : `write failed: ${err.message}`))
      .finally(() => cb());
  },
  close() {
    current.port?.close(() => undefined);
  },
};

export interface PortInfo {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
}

/**
 * SerialPort.list(), which on Linux runs `udevadm`: on a machine without udev (a container) that
 * spawn fails outside any promise, so look for it first and fall back to the usual device names.
 */
export async function listPorts(): Promise<PortInfo[]> {
  if (process.platform !== 'linux' || onPath('udevadm')) return SerialPort.list();
  const found: PortInfo[] = [];
  const seen = new Set<string>();
  const add = (path: string, extra: Partial<PortInfo> = {}): void => {
    let real = path;
    try {
      real = realpathSync(path);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    found.push({ path, ...extra });
  };
  try {
    for (const n of readdirSync('/dev/serial/by-id')) add(join('/dev/serial/by-id', n), { manufacturer: n });
  } catch {
    // no /dev/serial: no USB serial adapters with udev names
  }
  for (const n of readdirSync('/dev')) if (/^tty(USB|ACM)\d+$/.test(n)) add(join('/dev', n));
  return found;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, cmd)));
}

function describeOpenError(path: string, err: Error | null): FlashError {
  const msg = err?.message ?? 'unknown error';
  if (/lock|busy|EBUSY|Resource temporarily unavailable/i.test(msg)) {
    return new FlashError(`serial port ${path} is busy: another program has it open (${msg})`, 'close the other terminal, IDE or `lonewatch console` using it, then run the command again', 'busy');
  }
  if (/EACCES|permission/i.test(msg)) {
    return new FlashError(`no permission to open ${path} (${msg})`, 'add yourself to the dialout group (sudo usermod -aG dialout $USER) and log in again', 'port');
  }
  if (/ENOENT|No such file/i.test(msg)) {
    return new FlashError(`serial port ${path} does not exist`, 'plug the cable in, and check the name with `lonewatch flash --list`', 'port');
  }
  return new FlashError(`could not open serial port ${path}: ${msg}`, 'check the cable and `lonewatch flash --list`', 'port');
}

/** The real thing: EspruinoTools' serial layer over `serialport`. */
export class SerialLink implements ConsoleLink {
  readonly dryRun = false;
  private received = '';
  private waiters: (() => void)[] = [];
  private next = 1;
  private closed = false;
  /** Everything written, for --verbose and diagnostics. */
  sentBytes = 0;

  private constructor(
    private readonly E: EspruinoGlobal,
    readonly path: string,
  ) {}

  static async open(path: string, baudRate: number): Promise<SerialLink> {
    if (!existsSync(path)) throw describeOpenError(path, Object.assign(new Error('ENOENT: No such file or directory'), { code: 'ENOENT' }));
    const E = await espruinoTools();
    current = { path, baudRate, port: null, openError: null, flow: new FlowControl() };
    E.Config.BAUD_RATE = String(baudRate);
    const link = new SerialLink(E, path);
    await new Promise<void>((resolve, reject) => {
      E.Core.Serial.startListening((data) => link.onData(Buffer.from(data).toString('latin1')));
      E.Core.Serial.open(
        path,
        (info) => {
          if (!info || typeof info !== 'object') reject(describeOpenError(path, current.openError));
          else resolve();
        },
        () => {
          link.closed = true;
          link.wake();
        },
      );
    });
    // Open forces EspruinoTools' slow write (19-byte blocks, 50 ms apart) until it knows the board;
    // a wired UART with XON/XOFF needs none of it.
    E.Core.Serial.setSlowWrite(false, true);
    return link;
  }

  private raw: ((s: string) => void) | null = null;

  /** Everything the board prints goes to fn instead (the interactive console). */
  onRaw(fn: ((s: string) => void) | null): void {
    this.raw = fn;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(s: string): void {
    if (this.raw) {
      this.raw(s);
      return;
    }
    this.received += s;
    if (this.received.length > 1 << 20) this.received = this.received.slice(-65536);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private waitData(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  send(raw: string): Promise<void> {
    if (this.closed) return Promise.reject(new FlashError(`the serial port ${this.path} was closed (cable unplugged?)`, 'plug it back in and run the command again', 'interrupted'));
    this.sentBytes += raw.length;
    // Queued in order on EspruinoTools' writer. Its completion callback only fires for writes long
    // enough to show progress (EspruinoTools 0.1.67), so nothing waits for it: every request has
    // its own answer and timeout.
    this.E.Core.Serial.write(raw, false);
    return Promise.resolve();
  }

  async request<T>(expr: string, opts: { timeoutMs?: number } = {}): Promise<T> {
    const n = this.next++;
    const timeoutMs = opts.timeoutMs ?? 3000;
    const deadline = Date.now() + timeoutMs;
    const from = this.received.length;
    await this.send(requestLine(n, expr));
    for (;;) {
      const a = findAnswer(this.received, n);
      if (a) {
        // Keep what came after the answer (the board may print more on its own).
        const end = this.received.indexOf(` LW${n}>`) + ` LW${n}>`.length;
        this.received = this.received.slice(end);
        if (!a.ok) throw new FlashError(answerProblem(a), undefined, 'board');
        return a.value as T;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        const held = current.flow.pausedFor();
        throw new (this.closed ? PortClosedError : FlashError)(
          this.closed
            ? `the serial port ${this.path} closed while waiting for the board`
            : `the board on ${this.path} did not answer within ${(timeoutMs / 1000).toFixed(1)} s${held > 0 ? ` (it sent XOFF ${(held / 1000).toFixed(1)} s ago and no XON since)` : ''}${stalled(this.sentBytes - current.flow.drained)}${printedSince(this.received.slice(from))}`,
          undefined,
          'silent',
        );
      }
      await this.waitData(left);
    }
  }

  async drain(ms: number): Promise<string> {
    const start = this.received.length;
    const until = Date.now() + ms;
    while (Date.now() < until && !this.closed) await this.waitData(until - Date.now());
    const got = this.received.slice(start);
    return got;
  }

  /** XOFFs the board sent on this connection. */
  /** Bytes handed to the port so far, and how many when the board's last XOFF arrived (flow-control.ts). */
  get flowWritten(): { written: number; atXoff: number } {
    return { written: current.flow.written, atXoff: current.flow.writtenAtXoff };
  }

  get xoffs(): number {
    return current.flow.xoffs;
  }

  /**
   * Waits until done(text) is true for what the board printed since `since` (an offset returned by
   * mark()), or ms pass, or the port closes. Returns that text.
   */
  async watch(since: number, ms: number, done: (text: string) => boolean): Promise<string> {
    const until = Date.now() + ms;
    for (;;) {
      const text = this.received.slice(since);
      if (done(text) || this.closed || Date.now() >= until) return text;
      await this.waitData(until - Date.now());
    }
  }

  /** Where what the board prints from now on starts, for watch(). */
  mark(): number {
    return this.received.length;
  }

  /** What the board printed that no request consumed (the banner, errors). */
  takeReceived(): string {
    const r = this.received;
    this.received = '';
    return r;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const port = current.port;
      if (!port || !port.isOpen) return resolve();
      port.once('close', () => resolve());
      this.E.Core.Serial.close();
      setTimeout(resolve, 1000);
    });
    this.closed = true;
  }
}

/** --dry-run: records every byte a run against a blank, healthy board would send. */
export class DryRunLink implements ConsoleLink {
  readonly dryRun = true;
  readonly path = '(dry run)';
  private next = 1;
  bytes = '';

  async send(raw: string): Promise<void> {
    this.bytes += raw;
  }

  async request<T>(expr: string, opts: { fresh?: T } = {}): Promise<T> {
    this.bytes += requestLine(this.next++, expr);
    return opts.fresh as T;
  }

  async drain(): Promise<string> {
    return '';
  }

  mark(): number {
    return 0;
  }

  async watch(): Promise<string> {
    return '';
  }

  async close(): Promise<void> {}
}
