/**
 * Measures the variables (JsVars) an emitted bundle really uses, on the real Espruino 2v29 Linux
 * interpreter with a Puck.js's fixed 2,630 variables (`espruino-2630`, ../shared/espruino/README.md),
 * instead of estimating them (issue 14: the estimate was ~40% low).
 *
 * How, as a board runs it:
 * - a temporary folder per run (the interpreter keeps its emulated flash, `espruino.flash`, in its
 *   working directory); the resizable `espruino` writes the bundle, a provisioned identity (with the
 *   board's default wiring) and the loader to Storage;
 * - `espruino-2630` then evaluates the bundle from Storage, so function bodies stay in flash as they
 *   do on a board (a file run from disk keeps its source in variables: higher counts);
 * - before the bundle runs, the loader defines only what the board's file in
 *   ../shared/espruino/boards gives it (pins BTN1, LED1..3 on the Puck.js; LED1 on the RAK5010, whose
 *   button is wherever the wiring puts it), plus stand-ins at the true edge: the radio (NRF,
 *   Bluetooth: never connected, so the link is down and events stay queued), the accelerometer, the
 *   battery gauge (Linux has no ADC), and E.setConsole (kept on standard output so the figures can be
 *   read). The RAK5010's Serial1 has no device: its modem never answers, its link stays down;
 * - standard input is a pipe this process holds open and never writes (an idle FIFO: at end of file
 *   the Linux build stops reading);
 * - it reads `process.memory().usage` (which collects garbage first) before the bundle, right after
 *   it booted, once idle (2 s later: the first heartbeat has run and the hello waits in the outbox),
 *   and with a full outbox, filled through the firmware's own path: check-ins raised with the link
 *   down through `LW.core` (the names the build mangled are looked up in its mangle cache).
 *
 * The nRF52 builds have smaller variable blocks (16 bytes here 17): a board holds fewer characters
 * per variable, so a figure measured here is a floor for the board, not its exact count.
 *
 * Where the interpreter is not there (a clone without ../shared), nothing is measured: the result says
 * so and why. The product never needs ../shared at run time; only this measurement does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OUTBOX_MAX } from '../src/core/outbox-size.js';
import { DEFAULT_WIRING } from '../src/wiring.js';
import type { Board } from '../../shared/protocol-core.js';

/** ../shared/espruino beside the checkout (the team's reference folder), unless told otherwise. */
export const DEFAULT_ESPRUINO_DIR = fileURLToPath(new URL('../../../shared/espruino', import.meta.url));

export interface VariableMeasurement {
  measured: true;
  /** What ran it: the interpreter build and its variable store. */
  interpreter: string;
  /** Variables the interpreter has in all (2,630). */
  total: number;
  /** Bytes per variable on this build (17; 16 on the nRF52). */
  blockSize: number;
  /** Before the bundle ran: the interpreter and the loader's stand-ins. */
  before: number;
  afterBoot: number;
  /** 2 s after boot: first heartbeat done, the hello waiting in the outbox. */
  idle: number;
  /** With OUTBOX_MAX events waiting. */
  fullOutbox: number;
  outboxEntries: number;
}

export interface Unmeasured {
  measured: false;
  /** Why not, in words an engineer can act on. */
  reason: string;
}

export interface MeasureOptions {
  /** Folder holding `espruino` and `espruino-2630`; default ../shared/espruino, or LONEWATCH_ESPRUINO_DIR. */
  espruinoDir?: string;
  /** The whole run, ms (default 15 s). */
  timeoutMs?: number;
}

/** The names the build mangled (esbuild's mangle cache: original -> short, or false). */
export type MangleCache = Record<string, string | false>;

export async function measureVariables(board: Board, code: string, names: MangleCache, opts: MeasureOptions = {}): Promise<VariableMeasurement | Unmeasured> {
  const dir = opts.espruinoDir ?? process.env.LONEWATCH_ESPRUINO_DIR ?? DEFAULT_ESPRUINO_DIR;
  const fixed = join(dir, 'espruino-2630');
  const resizable = join(dir, 'espruino');
  for (const exe of [fixed, resizable]) {
    if (!existsSync(exe)) return { measured: false, reason: `no Espruino interpreter at ${exe} (the measurement needs ../shared/espruino beside the checkout, or LONEWATCH_ESPRUINO_DIR)` };
  }
  const work = mkdtempSync(join(tmpdir(), `lw-measure-${board}-`));
  try {
    const setup = spawnSync(resizable, [writeSetup(work, board, code, names)], { cwd: work, input: '', encoding: 'utf8', timeout: 10_000 });
    if (!/LWM setup-ok/.test(setup.stdout ?? '')) return { measured: false, reason: `could not write the bundle to the interpreter's Storage: ${lastLines(`${setup.stdout}${setup.stderr}`) || String(setup.error)}` };
    const out = await runLoader(fixed, work, opts.timeoutMs ?? 15_000);
    return parseFigures(out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Reads the loader's `LWM <tag> <n>` lines; any error the bundle raised makes the run unmeasured. */
export function parseFigures(out: string): VariableMeasurement | Unmeasured {
  const fig = (tag: string): number | undefined => {
    const m = new RegExp(`LWM ${tag} (-?\\d+)`).exec(out);
    return m ? Number(m[1]) : undefined;
  };
  const error = /Uncaught [^\r\n]*|LWM error [^\r\n]*/.exec(out);
  if (error) return { measured: false, reason: `the bundle failed on the interpreter: ${error[0]}` };
  const [total, blockSize, before, afterBoot, idle, fullOutbox, outboxEntries] = ['total', 'block', 'before', 'boot', 'idle', 'full', 'entries'].map(fig);
  if ([total, blockSize, before, afterBoot, idle, fullOutbox, outboxEntries].some((v) => v === undefined)) {
    return { measured: false, reason: `the interpreter did not report every figure: ${lastLines(out)}` };
  }
  if (outboxEntries !== OUTBOX_MAX) return { measured: false, reason: `the outbox held ${outboxEntries} events, not ${OUTBOX_MAX}: the full-outbox figure would be wrong` };
  return {
    measured: true,
    interpreter: `Espruino 2v29 Linux, fixed ${total} variables of ${blockSize} bytes (espruino-2630)`,
    total: total!,
    blockSize: blockSize!,
    before: before!,
    afterBoot: afterBoot!,
    idle: idle!,
    fullOutbox: fullOutbox!,
    outboxEntries: outboxEntries!,
  };
}

function writeSetup(work: string, board: Board, code: string, names: MangleCache): string {
  const name = (n: string): string => {
    const m = names[n];
    return typeof m === 'string' ? m : n;
  };
  // A Puck.js identity has its BLE passkey (issue 17), as `lonewatch flash` writes it: its NRF.setSecurity call is measured too.
  const identity = JSON.stringify({ id: 'fob-measure', pw: 'measure-secret', h: '127.0.0.1', p: 1883, w: DEFAULT_WIRING[board], ...(board === 'puck' ? { pk: '123456' } : {}) });
  const core = 'LW.core';
  const queued = `${core}.${name('outbox')}.${name('_i')}.length`;
  const loader = [
    boardGlobals(board),
    'var m=process.memory();print("LWM total "+m.total);print("LWM block "+m.blocksize);print("LWM before "+m.usage);',
    'eval(require("Storage").read("lw-fw"));',
    `if(!${core})print("LWM error the firmware did not start its core (LW.core is "+${core}+")");`,
    'print("LWM boot "+process.memory().usage);',
    'setTimeout(function(){',
    'print("LWM idle "+process.memory().usage);',
    // Check-ins raised with the link down: each waits in the outbox, as a worker's would.
    `for(var j=0;j<${OUTBOX_MAX};j++)${core}.${name('raise')}("chk","\\"p\\":1");`,
    `print("LWM full "+process.memory().usage);print("LWM entries "+${queued});`,
    '},2000);',
  ].join('\n');
  const file = join(work, 'setup.js');
  writeFileSync(
    file,
    `var s=require("Storage");s.write("lw-fw",${JSON.stringify(code)});s.write("lw.json",${JSON.stringify(identity)});s.write("lw-ld",${JSON.stringify(loader)});print("LWM setup-ok");`,
  );
  return file;
}

/**
 * What the board's file (../shared/espruino/boards/*.py, `devices`) defines that the Linux build
 * lacks, and the stand-ins at the edge. `BTN` is Espruino's alias of BTN1 on a board that has one;
 * the RAK5010 has no button (boards/RAK5010.py), so it is the pin the wiring gives it
 * (firmware/src/wiring.ts).
 */
function boardGlobals(board: Board): string {
  if (board === 'puck') {
    return [
      'global.BTN1=D0;global.BTN=D0;global.LED1=D5;global.LED2=D4;global.LED3=D3;',
      'E.setConsole=function(){};E.getBattery=function(){return 90};',
      'global.NRF={on:function(){},setAdvertising:function(){},setSecurity:function(){}};',
      'global.Bluetooth={on:function(){},write:function(){}};',
      'global.Puck={accelOn:function(){},on:function(){}};',
    ].join('\n');
  }
  return [
    `global.LED1=D12;global.BTN=${DEFAULT_WIRING.rak5010.btn};`,
    // The battery divider's ADC: ~3.9 V of a Li-ion cell through the 1:2 divider on 3.3 V.
    'global.analogRead=function(){return 0.59};',
  ].join('\n');
}

async function runLoader(exe: string, work: string, timeoutMs: number): Promise<string> {
  const child = spawn(exe, ['-e', 'eval(require("Storage").read("lw-ld"))'], { cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  let out = '';
  try {
    return await new Promise<string>((resolve) => {
      const done = (): void => resolve(out);
      const timer = setTimeout(done, timeoutMs);
      const onData = (d: Buffer): void => {
        out += d.toString('utf8');
        if (/LWM entries \d+|Uncaught|LWM error/.test(out)) {
          clearTimeout(timer);
          // Let the rest of an error's lines arrive.
          setTimeout(done, 100);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
    });
  } finally {
    // Never leave an interpreter behind: kill it and wait for it to be gone.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
}

function lastLines(text: string): string {
  return text.trim().split(/\r?\n/).slice(-3).join(' | ');
}
