/**
 * The REAL Espruino 2v29 interpreter (Linux build, in the team's reference folder) as a flashing
 * target: its console on a pseudo-terminal made by socat, run in a scratch folder (its Storage is
 * the file espruino.flash in the working directory):
 *
 *   socat pty,raw,echo=0,link=DIR/host EXEC:'<abs>/espruino',pty,raw,echo=0
 *
 * The Linux build has none of a board's own globals (../shared/espruino/README.md). A real board's
 * firmware build has them from power-on and after every reset(), so here they come from a `.boot0`
 * written over the console before the flash (the Linux build runs .boot0 at every start and
 * reset(), before .bootcde), and the flash is run with --keep-boot-files so that the tool leaves it.
 * It defines exactly what the board file defines and nothing the firmware might need beyond it:
 *   - PUCKJS: BTN1 (D0; Espruino also names it BTN), LED1-LED3 (D5, D4, D3) from boards/PUCKJS.py;
 *     the radio objects a Puck.js build has (NRF, Bluetooth, Puck: the radio and the accelerometer
 *     are the edge, so they accept calls and do nothing), E.getBattery; and E.setConsole("Serial1")
 *     leaves the console where it is, because on a Puck.js the cable IS Serial1 (D28/D29).
 *   - RAK5010: LED1 (D12) from boards/RAK5010.py, and no button.
 *   - process.env.BOARD says the board (the Linux build says LINUX). The version is read into a
 *     variable first: `global.process={env:{...,VERSION:process.env.VERSION}}` in one statement
 *     leaves the built-in process in place on 2v29 (seen on the interpreter).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SerialPort } from 'serialport';
import { findAnswer, requestLine } from '../../firmware/flash/wire.js';
import { onOneCpu } from './one-cpu.js';
import { Countdown } from './countdown.js';

export const ESPRUINO = fileURLToPath(new URL('../../../shared/espruino/espruino', import.meta.url));
export const haveEspruino = existsSync(ESPRUINO);

export const BOARD_PRELUDE: Record<'PUCKJS' | 'RAK5010', string> = {
  PUCKJS:
    'var lwV=process.env.VERSION;global.process={env:{BOARD:"PUCKJS",VERSION:lwV}};' +
    'global.BTN1=D0;global.BTN=D0;global.LED1=D5;global.LED2=D4;global.LED3=D3;' +
    'var nop=function(){};' +
    'global.NRF={on:nop,setAdvertising:nop,setConnectionInterval:nop,disconnect:nop,setSecurity:nop};' +
    'global.Bluetooth={on:nop,write:nop};' +
    'global.Puck={accelOn:nop,accelOff:nop,on:nop,accel:function(){return {acc:{x:0,y:0,z:0},gyro:{x:0,y:0,z:0}}},mag:function(){return {x:0,y:0,z:0}}};' +
    'E.getBattery=function(){return 100};' +
    'var lwSetConsole=E.setConsole;E.setConsole=function(d,o){if(d!=="Serial1")lwSetConsole(d,o)};',
  RAK5010: 'var lwV=process.env.VERSION;global.process={env:{BOARD:"RAK5010",VERSION:lwV}};global.LED1=D12;',
};

export interface RealEspruino {
  dir: string;
  /** What the engineer passes as --port. */
  host: string;
  /**
   * The next `after` line ends from the host pass, the one after that is lost
   * on the way to the interpreter (a byte dropped on the cable), and the rest pass again.
   */
  loseLineEnd(after: number): void;
  /**
   * For a failed test's message: the interpreter's process as `ps` sees it (CPU averaged over its life, state, what it
   * waits in), then whether a fresh request is answered within 3 s, and what came instead.
   */
  diagnose(): Promise<string>;
  /** Evaluates expr at the console (DLE line, numbered answer) and returns its JSON value. */
  eval<T>(expr: string, ms?: number): Promise<T>;
  /** Bytes to the console as they are (e.g. a reset() line). */
  send(raw: string): Promise<void>;
  stop(): Promise<void>;
}

let next = 900;

interface ConsoleSession {
  eval<T>(expr: string, ms?: number): Promise<T>;
  send(raw: string): Promise<void>;
  close(): Promise<void>;
}

/** One connection to the console, for several requests (the flash tool opens its own afterwards). */
async function openConsole(host: string): Promise<ConsoleSession> {
  const port = new SerialPort({ path: host, baudRate: 9600, lock: false });
  await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));
  let got = '';
  port.on('data', (d: Buffer) => (got += d.toString('latin1')));
  const send = (raw: string): Promise<void> => new Promise((r) => port.write(raw, () => port.drain(() => r())));
  return {
    send,
    async eval<T>(expr: string, ms = 5000): Promise<T> {
      const n = next++;
      await send(requestLine(n, expr));
      const until = Date.now() + ms;
      for (;;) {
        const a = findAnswer(got, n);
        if (a) {
          if (!a.ok) throw new Error(`the interpreter refused ${expr}: ${a.error}`);
          return a.value as T;
        }
        if (Date.now() > until) throw new Error(`no answer from the interpreter to ${expr} within ${ms} ms: ${JSON.stringify(got.slice(-200))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((r) => port.close(() => r())),
  };
}

/**
 * A cable of the test's own sits between the host's port and the interpreter's console (unless
 * `{ cable: false }`): a pty pair (socat) whose far end this process reads and passes on, line by
 * line, to the interpreter's pty, and back byte for byte, except a line end it was told to lose.
 */
export async function startRealEspruino(o: { cable?: boolean } = {}): Promise<RealEspruino> {
  const dir = mkdtempSync(join(tmpdir(), 'lw-espruino-'));
  const host = join(dir, 'host');
  const withCable = o.cable !== false;
  const consolePath = withCable ? join(dir, 'console') : host;
  // detached: socat leads a process group of its own, and the interpreter it forks is in it, so stop()
  // can kill both (see there).
  // On one CPU, as the interpreter's input queue needs (test/helpers/one-cpu.ts); socat's EXEC child
  // inherits it.
  const socat = spawn(...onOneCpu('socat', [`pty,raw,echo=0,link=${consolePath}`, `EXEC:'${ESPRUINO}',pty,raw,echo=0`]), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = '';
  socat.stderr!.on('data', (d) => (err += d));
  const end = Date.now() + 5000;
  while (!existsSync(consolePath)) {
    if (socat.exitCode !== null || Date.now() > end) throw new Error(`socat/espruino did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const cable = withCable ? await startCable(dir, host, consolePath) : null;
  const ev = async <T>(expr: string, ms = 5000): Promise<T> => {
    const c = await openConsole(host);
    try {
      return await c.eval<T>(expr, ms);
    } finally {
      await c.close();
    }
  };
  const send = async (raw: string): Promise<void> => {
    const c = await openConsole(host);
    try {
      await c.send(raw);
    } finally {
      await c.close();
    }
  };
  return {
    dir,
    host,
    loseLineEnd(after) {
      if (!cable) throw new Error('loseLineEnd needs the cable (startRealEspruino without { cable: false })');
      cable.loseAfter = new Countdown(after);
    },
    eval: ev,
    send,
    async diagnose() {
      const pids = spawnSync('pgrep', ['-P', String(socat.pid)]).stdout.toString().trim().split('\n').filter(Boolean);
      const ps = pids.length ? spawnSync('ps', ['-o', 'pid,pcpu,stat,wchan:20,etime,psr', '-p', pids.join(',')]).stdout.toString().trim() : 'no interpreter process under socat';
      let answer: string;
      try {
        answer = `answers a fresh request: ${JSON.stringify(await ev('[1+1,process.memory().free]', 3000))}`;
      } catch (err) {
        answer = `does not answer a fresh request: ${(err as Error).message}`;
      }
      return `the interpreter after the failure:\n${ps}\n${answer}`;
    },
    async stop() {
      await cable?.stop();
      // A SIGTERM to socat left the interpreter running, orphaned and busy (about a tenth of a core
      // each): a full clean-clone run leaked about twenty, and the wall-clock-limited tests late in
      // the run failed under the load they made. Kill the interpreter and socat together, by group.
      if (socat.exitCode === null && socat.signalCode === null) {
        const exited = new Promise((r) => socat.once('exit', r));
        spawnSync('pkill', ['-KILL', '-P', String(socat.pid)]);
        try {
          process.kill(-socat.pid!, 'SIGKILL');
        } catch {
          socat.kill('SIGKILL');
        }
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Cable {
  /** The line end to lose; null: lose none. */
  loseAfter: Countdown | null;
  stop(): Promise<void>;
}

async function startCable(dir: string, host: string, consolePath: string): Promise<Cable> {
  const far = join(dir, 'cable');
  const pair = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${far}`], { stdio: 'ignore' });
  const end = Date.now() + 5000;
  while (!existsSync(host) || !existsSync(far)) {
    if (pair.exitCode !== null || Date.now() > end) throw new Error('socat did not make the cable pty pair');
    await new Promise((r) => setTimeout(r, 20));
  }
  const open = async (path: string): Promise<SerialPort> => {
    const p = new SerialPort({ path, baudRate: 9600, lock: false });
    await new Promise<void>((resolve, reject) => p.once('open', resolve).once('error', reject));
    return p;
  };
  const fromHost = await open(far);
  const toBoard = await open(consolePath);
  const cable: Cable = {
    loseAfter: null,
    async stop() {
      if (flushTimer) clearTimeout(flushTimer);
      await Promise.all([fromHost, toBoard].map((p) => new Promise<void>((r) => (p.isOpen ? p.close(() => r()) : r()))));
      if (pair.exitCode === null) {
        pair.kill('SIGKILL');
        await new Promise((r) => pair.once('exit', r));
      }
    },
  };
  // Each line goes on to the interpreter whole, in one write (Ctrl-C at once, and a partial line
  // after 20 ms): the Linux build's input thread races its main loop, and a line that trickles in
  // piece by piece (the tool writes 64-byte pieces, flow-control.ts) gives the race its chances;
  // in a full run one line came out mixed with the one before it (docs/testing.md). The bytes are
  // the tool's own, in its order: only when they are handed on changes.
  let pending: number[] = [];
  let flushTimer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    if (pending.length === 0) return;
    toBoard.write(Buffer.from(pending));
    pending = [];
  };
  fromHost.on('data', (d: Buffer) => {
    for (const b of d) {
      if (b === 0x0a && cable.loseAfter?.fires()) {
        flush();
        continue;
      }
      pending.push(b);
      if (b === 0x0a || b === 0x03) flush();
    }
    if (pending.length > 0 && !flushTimer) flushTimer = setTimeout(flush, 20);
  });
  toBoard.on('data', (d: Buffer) => fromHost.write(d));
  return cable;
}

/** Writes the board's globals as .boot0 and resets, so that they are there as on the board itself. */
export async function defineBoard(e: RealEspruino, board: 'PUCKJS' | 'RAK5010', o: { without?: string[] } = {}): Promise<void> {
  // without: globals of the board's build left out (a Puck.js build without Bluetooth has no NRF).
  const code = BOARD_PRELUDE[board]
    .split(';')
    .filter((stmt) => !(o.without ?? []).some((name) => stmt.startsWith(`global.${name}=`)))
    .join(';');
  const c = await openConsole(e.host);
  try {
    await c.eval(`require("Storage").write(".boot0",${JSON.stringify(code)})`);
    let last: unknown = null;
    // The reset runs .boot0. Input queued during reset() is partly dropped, so nothing else is sent
    // until the console answers again; a reset line lost on the way is sent again.
    for (let attempt = 0; attempt < 4; attempt++) {
      await c.send('\x10reset()\n');
      for (let poll = 0; poll < 3; poll++) {
        try {
          last = await c.eval<string>('process.env.BOARD', 1000);
          if (last === board) return;
        } catch (err) {
          last = err;
        }
      }
    }
    throw new Error(`the interpreter did not come back as ${board} after reset(): ${String(last)}`);
  } finally {
    await c.close();
  }
}
