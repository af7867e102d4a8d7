/**
 * The REAL Espruino 2v29 interpreter (Linux build, `../shared/espruino/espruino`) running an emitted
 * firmware bundle UNMODIFIED, loaded from Storage as a board loads it: the bundle is written to
 * `.bootcde`, and a prelude written to `.boot0` defines what the real board's build has and the
 * Linux build lacks. Espruino runs `.boot0` before `.bootcde` at every start, so the prelude is in
 * place before the first line of the firmware runs, as a board's built-ins are.
 *
 * The prelude follows the board file (`boards/PUCKJS.py`, `boards/RAK5010.py`, parsed below):
 *   - each `devices` entry that is one pin (`'LED1' : { 'pin' : 'D12' }`) becomes that global, and
 *     `BTN` is BTN1's alias where the board has a BTN1 (as Espruino's own builds define it). Nothing
 *     else: the RAK5010's board file has LED1 and no button, so neither `BTN` nor `BTN1` exists.
 *   - the Linux build has pins D0..D32 only and `Pin(34)` is undefined there: a board pin above D32
 *     (the RAK5010's IO3 = D34, IO4 = D33) cannot be made, stays undefined, and `missingPins` names it.
 *   - Puck.js (nRF52 build): `NRF`, `Bluetooth`, `Puck` and `E.getBattery` as stand-ins for the radio
 *     and the sensors: the fake at the edge, with Espruino's reference signatures (NRF.on('connect',
 *     fn(addr)) / NRF.on('disconnect', fn(reason)), NRF.setAdvertising(data, options),
 *     NRF.setSecurity(options) (recorded as a `sec` line: the Linux build has no radio, so no
 *     pairing happens here; firmware/sim/ble-security.ts models it on the simulated board),
 *     Bluetooth.on('data', fn(string)) / Bluetooth.write(string), Puck.accelOn(hz) / Puck.on('accel',
 *     fn({acc, gyro})), E.getBattery() in percent). `E.setConsole` is recorded, not obeyed: the Linux
 *     console is the test's only handle on the interpreter (a Puck.js moves it to its wired Serial1).
 *   - RAK5010: `Serial1.setup(baud, {tx, rx})` is recorded and opens the pty instead (the Linux build
 *     takes `{path}`): its other end is the simulated BG96; `analogRead` (the Linux build has no ADC)
 *     reads the battery divider's voltage the test sets (a healthy 90 % cell by default); `Serial1.write` is wrapped to report the
 *     GNSS session commands (AT+QGPS=1, AT+QGPSEND) as `tx` lines, in order with the pin probes.
 *
 * Probes, not stand-ins: digitalWrite / analogWrite / digitalPulse are wrapped (`global.x = f`, the
 * only way the Linux build lets a built-in be replaced) to report every output, like a logic
 * analyser on the pins, then call the real function. setWatch is wrapped to record the callback:
 * Linux pins do not loop back (a digitalWrite on a watched pin fires no watch; checked on 2v29), so
 * a button press is the recorded callback called with Espruino's event ({state, time, lastTime}),
 * timed by the interpreter's own setTimeout (`__t.gesture`).
 *
 * Everything the prelude reports is one console line `@t {"k":...,"v":...}`; the firmware's own
 * console lines (`LW:up ...`, `LW:fault ...`) and `Uncaught ...` errors are kept as they come.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedBg96 } from '../../firmware/sim/bg96-sim.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** `../shared/espruino` beside the clone (the worktree's or CI's). */
export const ESPRUINO_DIR = resolve(REPO, '..', 'shared', 'espruino');
export const ESPRUINO_BIN = join(ESPRUINO_DIR, 'espruino');
/** The build with a fixed 2,630 variables, as a Puck.js has (boards/PUCKJS.py). */
export const ESPRUINO_2630_BIN = join(ESPRUINO_DIR, 'espruino-2630');

export type RealBoard = 'PUCKJS' | 'RAK5010';

/** Why the real interpreter cannot run here, or null when it can. Tests print it and skip. */
export function realEspruinoMissing(board?: RealBoard): string | null {
  if (!existsSync(ESPRUINO_BIN)) return `the real Espruino interpreter is not at ${ESPRUINO_BIN} (../shared/espruino beside the clone)`;
  if (board && !existsSync(boardFilePath(board))) return `the board file ${boardFilePath(board)} is missing`;
  if (board === 'RAK5010' && spawnSync('socat', ['-V']).status !== 0) return 'socat is not installed (apt-get install socat): the RAK5010 modem needs a pty';
  return null;
}

export function boardFilePath(board: RealBoard): string {
  return join(ESPRUINO_DIR, 'boards', `${board}.py`);
}

export interface BoardFile {
  /** GPIOs D0..D(n-1), from `pinutils.generate_pins(0, n-1)`. */
  gpios: number;
  /** Devices that are one pin: name -> pin (`LED1` -> `D12`). */
  devices: Record<string, string>;
}

/** Reads an Espruino board file: its `devices` that are a single pin, and its GPIO count. */
export function parseBoardFile(text: string): BoardFile {
  const gp = /pinutils\.generate_pins\(\s*0\s*,\s*(\d+)\s*\)/.exec(text);
  if (!gp) throw new Error('board file: no pinutils.generate_pins(0,N) in get_pins()');
  const start = text.search(/^devices\s*=\s*\{/m);
  if (start < 0) throw new Error('board file: no devices = { ... }');
  const devices: Record<string, string> = {};
  for (const line of text.slice(start).split('\n').slice(1)) {
    if (/^\s*\}\s*;?\s*$/.test(line)) break;
    if (/^\s*#/.test(line)) continue;
    const m = /^\s*'(\w+)'\s*:\s*\{\s*'pin'\s*:\s*'(D\d+)'/.exec(line);
    if (m) devices[m[1]] = m[2];
  }
  // Espruino's builds give BTN as BTN1's alias (the Puck.js reference: "BTN ... same as BTN1").
  if (devices.BTN1) devices.BTN = devices.BTN1;
  return { gpios: Number(gp[1]) + 1, devices };
}

export function readBoardFile(board: RealBoard): BoardFile {
  return parseBoardFile(readFileSync(boardFilePath(board), 'utf8'));
}

/** The Linux build's pins: D0..D32 (checked: `typeof D33` is undefined, Pin(34) is undefined). */
const LINUX_MAX_PIN = 32;

function pinNumber(pin: string): number {
  return Number(pin.slice(1));
}

export interface PreludeOptions {
  board: RealBoard;
  /** RAK5010: the pty Serial1 opens instead of {tx, rx}. */
  serialPath?: string;
}

/** The `.boot0` prelude for a board: see the header. */
export function prelude(o: PreludeOptions): { code: string; missingPins: string[] } {
  const file = readBoardFile(o.board);
  const missingPins: string[] = [];
  const lines: string[] = [
    'var __t={w:[],batt:90,adc:{}};',
    'function __o(k,v){print("@t "+JSON.stringify({k:k,v:v}));}',
  ];
  for (const [name, pin] of Object.entries(file.devices)) {
    if (pinNumber(pin) > LINUX_MAX_PIN) missingPins.push(`${name} (${pin})`);
    else lines.push(`global.${name}=${pin};`);
  }
  for (let n = LINUX_MAX_PIN + 1; n < file.gpios; n++) missingPins.push(`D${n}`);
  lines.push(
    // Probes on the outputs.
    'var __dw=digitalWrite,__aw=analogWrite,__dp=digitalPulse,__sw=setWatch;',
    'global.digitalWrite=function(p,v){__o("io",[String(p),+v]);__dw(p,v);};',
    'global.analogWrite=function(p,v,x){__o("io",[String(p),v]);__aw(p,v,x);};',
    'global.digitalPulse=function(p,v,ms){__o("pulse",[String(p),+v,ms]);__dp(p,v,ms);};',
    // The button: the watch is real; its edge is the recorded callback (no loop-back on Linux).
    'global.setWatch=function(f,p,x){var id=__sw(f,p,x);__t.w.push({f:f,p:String(p)});__o("watch",[String(p),x]);return id;};',
    '__t.edge=function(p,s){var t=getTime();__t.w.forEach(function(w){if(w.p===p)w.f({state:s,time:t,lastTime:t});});};',
    // S short 150 ms, L long 1.5 s, H hold 3.2 s, 250 ms apart (docs/fob.md), on the interpreter's clock.
    '__t.gesture=function(p,g){var i=0;function n(){if(i>=g.length)return __o("gesture",g);var c=g[i++];__t.edge(p,true);' +
      'setTimeout(function(){__t.edge(p,false);setTimeout(n,250);},c==="S"?150:c==="L"?1500:3200);}n();};',
  );
  if (o.board === 'PUCKJS') {
    lines.push(
      'var __nrf={},__bt=[],__acc=[];',
      'global.NRF={on:function(e,f){(__nrf[e]=__nrf[e]||[]).push(f);},setAdvertising:function(d,x){__o("adv",x);},' +
        'disconnect:function(){__t.link(false);},setConnectionInterval:function(){},setSecurity:function(x){__o("sec",x);}};',
      '__t.link=function(up){(__nrf[up?"connect":"disconnect"]||[]).forEach(function(f){f(up?"aa:bb:cc:dd:ee:ff random":19);});};',
      'global.Bluetooth={on:function(e,f){if(e==="data")__bt.push(f);},write:function(d){__o("bt",d);}};',
      '__t.bt=function(d){__bt.forEach(function(f){f(d);});};',
      'global.Puck={accelOn:function(hz){__o("accelOn",hz);},accelOff:function(){},on:function(e,f){if(e==="accel")__acc.push(f);}};',
      '__t.move=function(){__acc.forEach(function(f){f({acc:{x:4000,y:1000,z:8000},gyro:{x:0,y:0,z:0}});});};',
      'E.getBattery=function(){return __t.batt;};',
      'E.setConsole=function(d,x){__o("console",[d,x]);};',
    );
  }
  if (o.board === 'RAK5010') {
    if (!o.serialPath) throw new Error('RAK5010 prelude: serialPath (the modem pty) is required');
    lines.push(
      'var __s1=Serial1.setup;',
      `Serial1.setup=function(b,x){__o("serial1",[b,String(x.tx),String(x.rx)]);__s1.call(Serial1,b,{path:${JSON.stringify(o.serialPath)}});};`,
      // A healthy cell unless a test sets the pin: 0.618 of 3.3 V behind the board's 1:2 divider is
      // 4.08 V, 90 % by the firmware's own curve (firmware/src/boards/rak5010.ts), as the Puck.js's
      // E.getBattery answers 90. It read 0 V before, a flat battery: when a run was slow enough for
      // the fob's battery to be reported, the hub rightly raised low_battery beside the SOS under test.
      'global.analogRead=function(p){var v=__t.adc[String(p)];return v===undefined?0.618:v;};',
      // The GNSS session commands as they leave on Serial1 (issue 20), on the same console stream as
      // the pin probes, so their order against GPS_EN's writes is the interpreter's own order.
      'var __w1=Serial1.write;',
      'Serial1.write=function(d){if(typeof d==="string"&&(d.indexOf("AT+QGPS=1")===0||d.indexOf("AT+QGPSEND")===0))__o("tx",d.trim());return __w1.apply(Serial1,arguments);};',
    );
  }
  return { code: lines.join('\n') + '\n', missingPins };
}

export interface ProbeLine {
  k: string;
  v: unknown;
  /** ms since the interpreter was spawned, by the test's clock (for ordering only). */
  at: number;
}

export interface RealFobOptions {
  board: RealBoard;
  /** The emitted bundle, exactly as `lonewatch firmware build` writes it. */
  bundle: string;
  /** lw.json; omitted: not provisioned. */
  identity?: Record<string, unknown>;
  /** Other Storage files the flashing tool writes (e.g. lw.ca, the pinned CA of a RAK5010 over TLS). */
  files?: Record<string, string>;
  /** RAK5010: called with each boot's simulated BG96 (the fob's `h`/`p` are used as given). */
  onModem?(modem: SimulatedBg96): void;
  /** Run on `espruino-2630` (a Puck.js's fixed 2,630 variables) instead of the resizable build. */
  fixedVariables?: boolean;
}

/**
 * One fob on the real interpreter. `boot()` writes the Storage (first time) and starts the
 * interpreter; `powerCycle()` kills it and starts it again on the same Storage (espruino.flash).
 */
export class RealFob {
  readonly dir: string;
  /** Every `@t` report, in order, across boots. */
  readonly probes: ProbeLine[] = [];
  /** The firmware's own console lines (LW:up / LW:fault), across boots. */
  readonly consoleLines: string[] = [];
  /** `Uncaught ...` and `ERROR: ...` lines from the interpreter. */
  readonly errors: string[] = [];
  boots = 0;
  missingPins: string[] = [];
  modem: SimulatedBg96 | null = null;
  private proc: ChildProcess | null = null;
  private socat: ChildProcess | null = null;
  private partial = '';
  private spawnedAt = 0;
  private seq = 0;

  constructor(private readonly o: RealFobOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'lw-real-espruino-'));
  }

  /** First boot: Storage written as the flashing tool would (bundle in .bootcde, lw.json), then power on. */
  async boot(): Promise<void> {
    const serialPath = join(this.dir, 'modem-pty');
    const p = prelude({ board: this.o.board, ...(this.o.board === 'RAK5010' ? { serialPath } : {}) });
    this.missingPins = p.missingPins;
    writeFileSync(join(this.dir, 'prelude.js'), p.code);
    writeFileSync(join(this.dir, 'bundle.js'), this.o.bundle);
    const writes = ['S.write(".boot0",fs.readFileSync("prelude.js"));', 'S.write(".bootcde",fs.readFileSync("bundle.js"));'];
    if (this.o.identity) {
      writeFileSync(join(this.dir, 'lw.json'), JSON.stringify(this.o.identity));
      writes.push('S.write("lw.json",fs.readFileSync("lw.json"));');
    }
    for (const [name, content] of Object.entries(this.o.files ?? {})) {
      const local = `file-${name.replace(/[^\w.-]/g, '_')}`;
      writeFileSync(join(this.dir, local), content, 'latin1');
      writes.push(`S.write(${JSON.stringify(name)},fs.readFileSync(${JSON.stringify(local)}));`);
    }
    const setup = spawnSync(ESPRUINO_BIN, ['-e', `var fs=require("fs"),S=require("Storage");${writes.join('')}`], { cwd: this.dir, timeout: 20_000, input: '' });
    if (setup.status !== 0) throw new Error(`writing Storage on the interpreter failed: ${setup.stderr?.toString()}`);
    await this.powerOn();
  }

  private async powerOn(): Promise<void> {
    if (this.o.board === 'RAK5010') await this.attachBg96(join(this.dir, 'modem-pty'));
    this.boots++;
    this.spawnedAt = Date.now();
    // Standard input is a pipe held open: at end-of-file the Linux build stops reading Serial1.
    // Not held to one CPU (test/helpers/one-cpu.ts): this console gets whole lines from a pipe. While
    // it was held to one CPU, a clean-clone CI run (2026-12-02, a slow one) saw a RAK5010 cancel's ack
    // miss its 15 s; that the pinning caused it is not shown, so it is back as it was when it passed.
    const proc = spawn(this.o.fixedVariables ? ESPRUINO_2630_BIN : ESPRUINO_BIN, [], { cwd: this.dir, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.setEncoding('latin1');
    proc.stdout!.on('data', (d: string) => this.onOutput(d));
    proc.stderr!.resume();
    // The console: no echo, no `=result` (only our probes and the firmware's lines come back).
    proc.stdin!.write('echo(0)\n');
  }

  /**
   * The only use of the BG96 simulator: a socat pty whose other end is this process's pipes, and
   * the simulated modem on it. A board power cycle powers the modem down too, so each boot gets a
   * new one.
   */
  private async attachBg96(path: string): Promise<void> {
    rmSync(path, { force: true });
    const socat = spawn('socat', [`pty,raw,echo=0,link=${path}`, 'STDIO'], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.socat = socat;
    // The simulated modem answers on timers (its delayed QIACT/QIOPEN URCs); one that fires after
    // the board was powered off or the test ended writes into a pipe whose socat is gone: EPIPE,
    // which would otherwise surface as an unhandled error in whichever test runs then. A modem
    // with no board on its UART loses its bytes, as the real one would.
    socat.stdin!.on('error', () => undefined);
    const modem = new SimulatedBg96((d) => {
      if (socat.exitCode === null && socat.stdin!.writable) socat.stdin!.write(Buffer.from(d, 'latin1'));
    });
    socat.stdout!.on('data', (d: Buffer) => modem.input(d.toString('latin1')));
    this.modem = modem;
    this.o.onModem?.(modem);
    const until = Date.now() + 5000;
    while (!existsSync(path)) {
      if (Date.now() > until) throw new Error(`socat did not create the pty ${path}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private onOutput(data: string): void {
    this.partial += data;
    let nl = this.partial.indexOf('\n');
    while (nl >= 0) {
      // eslint-disable-next-line no-control-regex -- the console's erase-line escape and prompt
      const line = this.partial.slice(0, nl).replace(/\x1b\[J/g, '').replace(/\r/g, '').replace(/^>+/, '');
      this.partial = this.partial.slice(nl + 1);
      this.onLine(line);
      nl = this.partial.indexOf('\n');
    }
  }

  private onLine(line: string): void {
    const at = line.indexOf('@t ');
    if (at >= 0) {
      const p = JSON.parse(line.slice(at + 3)) as { k: string; v: unknown };
      this.probes.push({ k: p.k, v: p.v, at: Date.now() - this.spawnedAt });
      return;
    }
    const lw = line.indexOf('LW:');
    if (lw >= 0) this.consoleLines.push(line.slice(lw));
    if (/Uncaught|^ERROR:/.test(line)) this.errors.push(line);
  }

  /** Types one line at the console (JavaScript, as an engineer would). */
  send(js: string): void {
    if (!this.proc?.stdin) throw new Error('the interpreter is not running');
    this.proc.stdin.write(js.replace(/\n/g, ' ') + '\n');
  }

  /** Evaluates an expression on the interpreter and resolves with its JSON value. */
  async evaluate<T = unknown>(expr: string, timeoutMs = 5000): Promise<T> {
    const key = `r${++this.seq}`;
    this.send(`__o(${JSON.stringify(key)},(${expr}))`);
    const p = await this.waitFor((l) => l.k === key, timeoutMs, `the value of ${expr}`);
    return p.v as T;
  }

  /** Resolves with the first probe (from `since`) that matches, or fails after timeoutMs. */
  async waitFor(pred: (p: ProbeLine) => boolean, timeoutMs: number, what: string, since = 0): Promise<ProbeLine> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.probes.slice(since).find(pred);
      if (hit) return hit;
      if (Date.now() > until) throw new Error(`waited ${timeoutMs} ms for ${what}; last reports: ${JSON.stringify(this.probes.slice(-8))}; errors: ${this.errors.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Resolves when a console line (from index `since`, across boots) matches, or fails after timeoutMs. */
  async waitForConsole(re: RegExp, timeoutMs: number, since = 0): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.consoleLines.slice(since).find((l) => re.test(l));
      if (hit) return hit;
      if (Date.now() > until) throw new Error(`waited ${timeoutMs} ms for a console line ${re}; got ${JSON.stringify(this.consoleLines)}; errors: ${this.errors.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** A worker's gesture on the button wired to `pin`; resolves once the presses are done. */
  async gesture(pin: string, pattern: string): Promise<void> {
    const since = this.probes.length;
    this.send(`__t.gesture(${JSON.stringify(pin)},${JSON.stringify(pattern)})`);
    await this.waitFor((l) => l.k === 'gesture' && l.v === pattern, 20_000, `the gesture ${pattern}`, since);
  }

  /** Output reports on one pin: [value] of each digitalWrite / analogWrite / digitalPulse. */
  outputs(pin: string): { k: string; v: unknown[] }[] {
    return this.probes.filter((p) => (p.k === 'io' || p.k === 'pulse') && (p.v as unknown[])[0] === pin).map((p) => ({ k: p.k, v: p.v as unknown[] }));
  }

  /** Times the pin was driven high (a write > 0, or a pulse). */
  drivenOn(pin: string): number {
    return this.outputs(pin).filter((o) => Number(o.v[1]) > 0).length;
  }

  /** Power off: the interpreter and its modem stop; Storage (espruino.flash) stays. */
  async powerOff(): Promise<void> {
    const procs = [this.proc, this.socat].filter((p): p is ChildProcess => !!p && p.exitCode === null && p.signalCode === null);
    this.modem?.close();
    this.proc = null;
    this.socat = null;
    // SIGKILL: the Linux build catches SIGTERM. A power cut is what a board sees anyway.
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((r) => {
            p.once('exit', () => r());
            p.kill('SIGKILL');
          }),
      ),
    );
    this.partial = '';
  }

  async powerCycle(): Promise<void> {
    await this.powerOff();
    await this.powerOn();
  }

  async destroy(): Promise<void> {
    await this.powerOff();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
