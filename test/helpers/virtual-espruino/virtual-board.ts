/**
 * A VIRTUAL ESPRUINO BOARD for the flashing tests: the console a real board presents on its serial
 * port, and, behind it, the firmware issue's simulated board (firmware/sim) running whatever was
 * flashed as .bootcde.
 *
 * The console, as Espruino's interactive shell behaves:
 *   - power-on, reset() and E.reboot() print the banner and a `>` prompt;
 *   - typed characters are echoed; on Enter the line is evaluated, `=<result>` is printed, then `>`;
 *     a line whose brackets are not balanced yet continues on the next one (prompt `:`);
 *   - a line starting with DLE (0x10) is neither echoed nor followed by its `=result`;
 *   - echo(0) turns echo (and `=result`) off altogether; Ctrl-C (0x03) clears the input line;
 *   - backspace edits the line; ESC [ x sequences (cursor keys) are ignored;
 *   - print()/console.log() write to the console; uncaught errors print `Uncaught Error: ...`.
 *   - reset() clears RAM (stops the running code) without running .bootcde; load() and E.reboot()
 *     restart and run .bootcde; process.env has BOARD and VERSION.
 *   - require("Storage") with Espruino's semantics: write(name, data, offset, size) where offset 0
 *     (or none) creates the file (at `size` bytes, the rest reading as 0xFF) and a later write at an
 *     offset fills it in as NOR flash does (bits can only be cleared: old & new); read(name, offset,
 *     length), readJSON, writeJSON, list, erase, eraseAll, getFree; and E.CRC32.
 *
 * The hardware edge is the only thing faked: Storage is a plain object (optionally saved to a JSON
 * file), the code runs in the simulated board from firmware/sim (a RAK5010's simulated BG96 opens
 * real TCP sockets, so a flashed virtual fob reaches a real hub).
 */
import { crc32 } from 'node:zlib';
import { Countdown } from '../countdown.js';
import type vm from 'node:vm';
import { SimulatedBoard, type StorageFiles } from '../../../firmware/sim/espruino-sim.js';
import { SimulatedRak } from '../../../firmware/sim/rak-sim.js';
import { SimulatedPuck } from '../../../firmware/sim/puck-sim.js';

export interface VirtualBoardOptions {
  /** What process.env.BOARD says: PUCKJS or RAK5010 (or anything, for the wrong-board test). */
  board: string;
  version: string;
  storage?: StorageFiles;
  /** Bytes to the serial port (latin1). */
  out(bytes: string): void;
  /** Observations for the test's side channel. */
  event?(ev: Record<string, unknown>): void;
  /** The simulated BG96 connects here instead of the host in lw.json (tests: loopback). */
  modemRedirect?: string;
  /** Called after each boot with the runtime (e.g. to start a BLE relay for a Puck.js). */
  onBoot?(rt: Runtime): void;
  /**
   * Globals taken away before the code runs, for a build that lacks them (a build without
   * Bluetooth has no NRF). The pins already follow the board file (firmware/sim/espruino-sim.ts
   * BOARD_PINS): a RAK5010 has LED1 and no BTN (boards/RAK5010.py) without this option.
   */
  without?: string[];
}

export interface Runtime {
  kind: 'rak' | 'puck';
  rak?: SimulatedRak;
  puck?: SimulatedPuck;
  board(): SimulatedBoard;
  stop(): void;
}

export const BANNER_LINES = [
  ' ____                 _',
  '|  __|___ ___ ___ _ _|_|___ ___',
  '|  __|_ -| . |  _| | | |   | . |',
  '|____|___|  _|_| |___|_|_|_|___|',
  '         |_| espruino.com',
];

const FLASH_BYTES = 256 * 1024;

export class VirtualEspruino {
  storage: StorageFiles;
  /** A RAK5010's modem file system (BG96 UFS), kept over resets and reboots; a swapped board gets its own. */
  modemFiles: Record<string, string> = {};
  /** Every Storage.write: the test checks what an upload (or a resumed one) wrote. */
  readonly writes: { name: string; offset: number; length: number; size?: number }[] = [];
  /** Neither answers nor listens: unpowered, or the cable pulled. */
  silent = false;
  /** A Storage.write that is done, but the board goes silent after it. */
  dropAfterWrites: Countdown | null = null;
  /**
   * A line end lost on the way (a byte dropped on the cable): that line stays unfinished, and the
   * console waits for the rest of it, as Espruino does.
   */
  loseLineEndAfter: Countdown | null = null;
  /**
   * A Storage.write that is done, but what the board prints is lost until the tool next sends a
   * byte: one answer lost on the way back.
   */
  loseAnswerAfterWrites: Countdown | null = null;
  private answerLost = false;
  echo = true;
  /**
   * The running code moved the console (E.setConsole) off the device this cable is on: the port
   * neither prints nor listens until the next boot. The cable is on Serial1 for a Puck.js
   * (boards/PUCKJS.py default_console EV_SERIAL1) and on USB for a RAK5010 (its console is USB or
   * Bluetooth, boards/RAK5010.py).
   */
  consoleAway = false;
  runtime: Runtime | null = null;
  private line = '';
  private pending = '';
  private dle = false;
  private escState = 0;
  private hadCR = false;
  private patched: SimulatedBoard | null = null;
  private todo: 'reset' | 'load' | 'reboot' | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private lastTick = Date.now();
  private ctx: Record<string, unknown> | null = null;

  constructor(private readonly o: VirtualBoardOptions) {
    this.storage = o.storage ?? {};
  }

  // -------------------------------------------------------------------------------------------
  // power

  /** Power on: banner, then .bootcde runs. */
  powerOn(): void {
    this.banner();
    this.boot(true);
    this.prompt();
    this.ticker ??= setInterval(() => this.tick(), 20);
  }

  /** A different, blank board on the same cable (the batch test swaps boards). */
  swap(storage: StorageFiles = {}): void {
    this.stopRuntime();
    this.storage = storage;
    this.modemFiles = {};
    this.writes.length = 0;
    this.echo = true;
    this.line = '';
    this.pending = '';
    this.powerOn();
  }

  shutdown(): void {
    this.stopRuntime();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
  }

  private tick(): void {
    const now = Date.now();
    const ms = Math.max(0, now - this.lastTick);
    this.lastTick = now;
    if (!this.runtime) return;
    const b = this.runtime.board();
    // A watchdog reset inside the simulator makes a new board: give it the console again.
    if (b !== this.patched) this.patch(b);
    if (ms > 0) b.advance(ms);
  }

  private banner(): void {
    this.write('\r\n' + BANNER_LINES.join('\r\n') + `\r\n ${this.o.version} (c) 2025 G.Williams\r\n\r\n`);
  }

  private prompt(): void {
    if (this.echo) this.write('>');
  }

  private stopRuntime(): void {
    this.runtime?.stop();
    this.runtime = null;
    this.patched = null;
    this.ctx = null;
  }

  /** Clears RAM and starts a fresh interpreter; with runCode, .bootcde runs as at power-on. */
  private boot(runCode: boolean): void {
    this.stopRuntime();
    this.consoleAway = false;
    const stored = runCode ? this.storage['.bootcde'] : undefined;
    const source = stored === undefined ? '' : Buffer.from(stored, 'latin1').toString('utf8');
    let script: vm.Script;
    try {
      script = SimulatedBoard.compile(source, '.bootcde');
    } catch (err) {
      // As Espruino: a boot file that does not parse is reported, and the console still works.
      this.write(`Uncaught ${describe(err)}\r\n`);
      script = SimulatedBoard.compile('', '.bootcde');
    }
    let rt: Runtime;
    if (this.o.board === 'RAK5010') {
      const rak = new SimulatedRak(script, this.storage);
      // The BG96's file system is its own flash: it keeps what was uploaded (the CA, a client
      // certificate the flashing tool put there) over the board's resets and reboots.
      rak.modem.files = this.modemFiles;
      if (this.o.modemRedirect) rak.modem.redirect(this.o.modemRedirect);
      rt = { kind: 'rak', rak, board: () => rak.board, stop: () => rak.stop() };
    } else {
      const puck = new SimulatedPuck(script, this.storage);
      rt = { kind: 'puck', puck, board: () => puck.board, stop: () => puck.board.clock.clearAll() };
    }
    this.runtime = rt;
    // The console's globals exist before the boot code runs (it may print, or read process.env).
    this.patch(rt.board());
    const b = rt.board();
    // .boot0-.boot3 run before .bootcde, at every start and at every reset() (seen on the 2v29
    // interpreter), each on its own: an error in one is reported and the next still runs.
    for (const name of ['.boot0', '.boot1', '.boot2', '.boot3']) {
      const code = this.storage[name];
      if (code === undefined) continue;
      try {
        b.evaluate(Buffer.from(code, 'latin1').toString('utf8'));
      } catch (err) {
        this.write(`Uncaught ${describe(err)}\r\n`);
      }
    }
    const before = b.errors.length;
    if (rt.rak) rt.rak.boot();
    else rt.puck!.boot();
    for (const err of b.errors.slice(before)) this.write(`Uncaught ${describe(err)}\r\n`);
    this.lastTick = Date.now();
    this.o.event?.({ ev: 'boot', code: stored !== undefined && runCode, bytes: stored?.length ?? 0 });
    this.o.onBoot?.(rt);
  }

  // -------------------------------------------------------------------------------------------
  // the console

  /** Bytes from the serial port. */
  input(data: string): void {
    for (const ch of data) {
      if (this.silent || this.consoleAway) return;
      this.answerLost = false;
      this.char(ch);
    }
  }

  private write(s: string): void {
    if (!this.silent && !this.consoleAway && !this.answerLost) this.o.out(s);
  }

  private char(ch: string): void {
    const c = ch.charCodeAt(0);
    if (this.escState === 1) {
      this.escState = ch === '[' || ch === 'O' ? 2 : 0;
      return;
    }
    if (this.escState === 2) {
      if (!(c >= 0x30 && c <= 0x39)) this.escState = 0;
      return;
    }
    if (c === 0x1b) {
      this.escState = 1;
      return;
    }
    if (ch === '\n' && this.hadCR) {
      this.hadCR = false;
      return;
    }
    this.hadCR = ch === '\r';
    if (c === 0x03) {
      // Ctrl-C: the input line (and an unfinished multi-line statement) is thrown away.
      const had = this.line.length > 0 || this.pending.length > 0;
      this.line = '';
      this.pending = '';
      this.dle = false;
      if (had && this.echo) this.write('\r\n>');
      return;
    }
    if (c === 0x10) {
      if (this.line === '') this.dle = true;
      return;
    }
    if (ch === '\r' || ch === '\n') {
      if (this.loseLineEndAfter?.fires()) {
        this.o.event?.({ ev: 'lineEndLost', line: this.line.length });
        return;
      }
      return this.newLine();
    }
    if (c === 0x08 || c === 0x7f) {
      if (this.line.length > 0) {
        this.line = this.line.slice(0, -1);
        if (this.showInput()) this.write('\x08 \x08');
      }
      return;
    }
    if (c >= 0x20 || ch === '\t') {
      this.line += ch === '\t' ? '    ' : ch;
      if (this.showInput()) this.write(ch === '\t' ? '    ' : ch);
    }
  }

  private showInput(): boolean {
    return this.echo && !this.dle;
  }

  private newLine(): void {
    const lineEcho = this.showInput();
    const text = this.pending + this.line;
    this.line = '';
    if (bracketDepth(text) > 0) {
      this.pending = text + '\n';
      this.dle = false;
      if (lineEcho) this.write('\r\n:');
      return;
    }
    this.pending = '';
    if (lineEcho) this.write('\r\n');
    if (text.trim() !== '' || lineEcho) {
      let result: unknown;
      let failed = false;
      try {
        result = text.trim() === '' ? undefined : this.runtime!.board().evaluate(text);
      } catch (err) {
        failed = true;
        this.write(`Uncaught ${describe(err)}\r\n`);
      }
      if (!failed && lineEcho) this.write(`=${repr(result)}\r\n`);
    }
    this.dle = false;
    this.afterLine();
    this.prompt();
  }

  /** reset(), load() and E.reboot() take effect once the line has run, as on Espruino. */
  private afterLine(): void {
    const todo = this.todo;
    this.todo = null;
    if (!todo) return;
    this.echo = true;
    if (todo === 'reset') {
      this.banner();
      this.boot(false);
    } else if (todo === 'reboot') {
      this.banner();
      this.boot(true);
    } else {
      this.boot(true);
    }
  }

  // -------------------------------------------------------------------------------------------
  // globals of the console, added to the simulated board's context

  private patch(b: SimulatedBoard): void {
    this.patched = b;
    const g = b.evaluate('this') as Record<string, unknown>;
    this.ctx = g;
    const print = (...args: unknown[]): void => {
      this.write(args.map((a) => (typeof a === 'string' ? a : repr(a))).join(' ').replace(/\r?\n/g, '\r\n') + '\r\n');
    };
    g.print = print;
    g.console = { log: print, info: print, warn: print, error: print };
    g.echo = (on: unknown) => {
      this.echo = !!on;
    };
    g.reset = () => {
      this.todo = 'reset';
    };
    g.load = () => {
      this.todo = 'load';
    };
    g.atob = (s: string) => Buffer.from(s, 'base64').toString('latin1');
    g.btoa = (s: string) => Buffer.from(s, 'latin1').toString('base64');
    const env = (g.process as { env: Record<string, unknown> } | undefined)?.env ?? {};
    g.process = { env: { ...env, VERSION: this.o.version, BOARD: this.o.board } };
    const E = g.E as Record<string, unknown>;
    E.CRC32 = (d: unknown) => crc32(Buffer.from(String(d), 'latin1')) >>> 0;
    E.reboot = () => {
      this.todo = 'reboot';
    };
    const setConsole = E.setConsole as ((device: unknown, opts?: unknown) => void) | undefined;
    const cable = this.o.board === 'RAK5010' ? 'USB' : 'Serial1';
    E.setConsole = (device: unknown, opts?: unknown) => {
      setConsole?.(device, opts);
      if (device !== cable) this.consoleAway = true;
    };
    for (const name of this.o.without ?? []) delete g[name];
    const storage = this.storageApi();
    g.require = (name: string) => {
      if (name === 'Storage') return storage;
      throw new Error(`Module ${name} not found`);
    };
  }

  private storageApi(): Record<string, unknown> {
    const files = (): StorageFiles => this.storage;
    const used = (): number => Object.values(files()).reduce((n, d) => n + d.length + 32, 0);
    const checkName = (name: unknown): string => {
      const n = String(name);
      if (n.length === 0 || n.length > 28) throw new Error(`Invalid Storage filename ${JSON.stringify(n)}: 1 to 28 characters`);
      return n;
    };
    const toBytes = (data: unknown): string => {
      if (typeof data === 'string') return data;
      if (Array.isArray(data) || ArrayBuffer.isView(data)) return Buffer.from(data as number[]).toString('latin1');
      return JSON.stringify(data);
    };
    return {
      read: (name: unknown, offset?: number, length?: number) => {
        const d = files()[checkName(name)];
        if (d === undefined) return undefined;
        const from = offset ?? 0;
        return length === undefined || length <= 0 ? d.slice(from) : d.slice(from, from + length);
      },
      readJSON: (name: unknown, noExceptions?: unknown) => {
        const d = files()[checkName(name)];
        if (d === undefined) return undefined;
        try {
          return JSON.parse(d);
        } catch (err) {
          if (noExceptions) return undefined;
          throw err;
        }
      },
      write: (name: unknown, data: unknown, offset?: number, size?: number) => this.storageWrite(checkName(name), toBytes(data), offset, size, used()),
      writeJSON: (name: unknown, data: unknown) => this.storageWrite(checkName(name), JSON.stringify(data), undefined, undefined, used()),
      erase: (name: unknown) => {
        delete files()[checkName(name)];
        this.o.event?.({ ev: 'erase', name });
      },
      eraseAll: () => {
        for (const k of Object.keys(files())) delete files()[k];
        this.o.event?.({ ev: 'eraseAll' });
      },
      list: (re?: RegExp) => Object.keys(files()).filter((n) => !re || re.test(n)),
      getFree: () => FLASH_BYTES - used(),
      compact: () => undefined,
    };
  }

  private storageWrite(name: string, bytes: string, offset: number | undefined, size: number | undefined, used: number): boolean {
    const files = this.storage;
    if (!offset) {
      const total = Math.max(size ?? 0, bytes.length);
      if (used + total > FLASH_BYTES) throw new Error('Not enough free space in Storage area');
      files[name] = bytes + '\xff'.repeat(total - bytes.length);
    } else {
      const old = files[name];
      if (old === undefined) throw new Error(`Can't write to ${JSON.stringify(name)} at offset ${offset}: file does not exist`);
      if (offset + bytes.length > old.length) throw new Error(`Can't write ${bytes.length} bytes at offset ${offset}: file ${JSON.stringify(name)} is ${old.length} bytes`);
      // Only a blank region (0xFF) takes a write at an offset: the 2v29 interpreter refuses one over
      // bytes already written, even the very same bytes, with this message (seen on it: write "def"
      // at 3, then "def" at 3 again).
      if (old.slice(offset, offset + bytes.length) !== '\xff'.repeat(bytes.length)) throw new Error('File already written with different data');
      files[name] = old.slice(0, offset) + bytes + old.slice(offset + bytes.length);
    }
    this.writes.push({ name, offset: offset ?? 0, length: bytes.length, ...(size !== undefined ? { size } : {}) });
    this.o.event?.({ ev: 'write', name, offset: offset ?? 0, length: bytes.length });
    if (this.dropAfterWrites?.fires()) {
      // The write happened; its answer and everything after it are lost (cable pulled).
      this.silent = true;
      this.o.event?.({ ev: 'dropped' });
    }
    if (this.loseAnswerAfterWrites?.fires()) {
      this.answerLost = true;
      this.o.event?.({ ev: 'answerLost' });
    }
    return true;
  }

  /** The global LW of the running firmware, if any (what the flashing tool reads back). */
  lw(): { v?: unknown; id?: unknown } | null {
    const lw = this.ctx?.LW as { v?: unknown; id?: unknown } | undefined;
    return lw ? { v: lw.v, id: lw.id } : null;
  }

  /** The fob's button, pressed for ms of real (and board) time. */
  press(ms: number): Promise<void> {
    const b = this.runtime?.board();
    if (!b) return Promise.resolve();
    b.button(true);
    return new Promise((resolve) =>
      setTimeout(() => {
        this.runtime?.board().button(false);
        resolve();
      }, ms),
    );
  }
}

function describe(err: unknown): string {
  if (err instanceof Error || (err && typeof err === 'object' && 'message' in err)) {
    const e = err as { name?: string; message: string };
    // As Espruino words it (seen on the 2v29 interpreter): Uncaught ReferenceError: "NRF" is not defined
    const notDefined = e.name === 'ReferenceError' ? /^(\S+) is not defined$/.exec(e.message) : null;
    if (notDefined) return `ReferenceError: "${notDefined[1]}" is not defined`;
    return `${e.name ?? 'Error'}: ${e.message}`;
  }
  return `Error: ${String(err)}`;
}

/** How the console shows a result after `=`. */
export function repr(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return 'function () { [code] }';
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s;
  } catch {
    return String(v);
  }
}

/** Open brackets not yet closed, outside strings, template literals and comments. */
export function bracketDepth(src: string): number {
  let depth = 0;
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) return depth + 1;
      i = end + 2;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      i++;
      while (i < src.length && src[i] !== c) i += src[i] === '\\' ? 2 : 1;
      if (i >= src.length) return depth + 1;
      i++;
      continue;
    }
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    i++;
  }
  return depth;
}
