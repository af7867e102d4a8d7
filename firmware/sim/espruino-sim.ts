/**
 * A simulated Espruino board that runs the EMITTED firmware bundle (firmware/dist/<board>.js) in a
 * node:vm context whose globals behave as Espruino's do: pins, setWatch, the buzzer and motor
 * outputs, E (battery, watchdog, console), NRF and Bluetooth (the Nordic UART), Puck's
 * accelerometer, Serial1 (to a simulated modem), require("Storage") and timers on a virtual clock.
 *
 * The script is compiled once and run in a new context per board, so a simulator can run thousands.
 * Storage is a plain object the caller keeps: handing it to a new board is a reboot.
 */
import vm from 'node:vm';
import { VirtualClock } from './virtual-clock.js';
import { DEFAULT_WIRING, type Wiring } from '../src/wiring.js';
import { OPEN_SECURITY, UNENCRYPTED, connectCentral, parseSetSecurity, uartAllowed, type BleCentral, type BleSecurity, type LinkSecurity } from './ble-security.js';

export type StorageFiles = Record<string, string>;

/** A pin, as Espruino's: `D19 instanceof Pin`, and String(pin) is its name (`LED1` is `D12`). */
export class Pin {
  constructor(readonly name: string) {}
  toString(): string {
    return this.name;
  }
}

/**
 * What each real board's Espruino build defines, from its board file (Espruino 2v29 boards/*.py):
 * the number of GPIOs (`get_pins`) and the `devices` that are pins. Nothing more: the RAK5010 has
 * LED1 and NO button (issue 14: a simulated BTN there hid a bundle that died at boot).
 * test/firmware/board-files.test.ts checks these tables against the board files.
 */
export const BOARD_PINS: Record<string, { gpios: number; devices: Record<string, string> }> = {
  // PUCKJS.py: pinutils.generate_pins(0,31); LED1 D5, LED2 D4, LED3 D3, BTN1 D0 (BTN is its alias).
  PUCKJS: { gpios: 32, devices: { LED1: 'D5', LED2: 'D4', LED3: 'D3', BTN1: 'D0', BTN: 'D0' } },
  // RAK5010.py: pinutils.generate_pins(0,47); LED1 D12.
  RAK5010: { gpios: 48, devices: { LED1: 'D12' } },
};

const WIRING_OF: Record<string, Wiring> = { PUCKJS: DEFAULT_WIRING.puck, RAK5010: DEFAULT_WIRING.rak5010 };

export interface BoardEvents {
  /** A line the firmware wrote to Bluetooth (the Nordic UART). */
  uart?(data: string): void;
  /** Bytes the firmware wrote to Serial1 (to the modem). */
  serial1?(data: string): void;
  /** The watchdog fired: the board resets. */
  watchdogReset?(): void;
  error?(err: unknown): void;
}

export class SimulatedBoard {
  readonly clock = new VirtualClock();
  readonly storage: StorageFiles;
  readonly pins: Record<string, Pin> = {};
  /** Every output change: [uptime ms, pin, value]. */
  readonly outputs: [number, string, number][] = [];
  battery = 90;
  watchdog: { timeoutS: number; auto: boolean } | null = null;
  lastKick = 0;
  consoleDevice: string | null = 'Bluetooth';
  /** What reached the REPL over Bluetooth while the console was still on it (should stay empty). */
  readonly replInput: string[] = [];
  advertising: { data: unknown; opts: { manufacturerData?: number[]; interval?: number; [k: string]: unknown } } | null = null;
  /** Wall clock, ms since 1970, at uptime 0: 0 means unset (a Puck.js after a battery change). */
  wallClockAtBoot = 0;
  /** The accelerometer's current reading (raw units, 8192 = 1 g). */
  acc = { x: 0, y: 0, z: 8192 };
  buttonDown = false;
  /** Lines the firmware printed with console.log. */
  readonly consoleLines: string[] = [];
  private initHandlers: (() => void)[] = [];
  errors: unknown[] = [];
  private watches: { id: number; pin: string; fn: (e: { state: boolean; time: number }) => void }[] = [];
  private nrf: Record<string, (() => void)[]> = {};
  private btData: ((d: string) => void)[] = [];
  private serialData: ((d: string) => void)[] = [];
  private accel: ((a: { acc: { x: number; y: number; z: number } }) => void)[] = [];
  private context: vm.Context;
  private bleConnected = false;
  /** What NRF.setSecurity set (issue 17); open until the firmware calls it. */
  security: BleSecurity = { ...OPEN_SECURITY };
  /** The current link's security (unencrypted while nobody is connected). */
  link: LinkSecurity = { ...UNENCRYPTED };
  /**
   * Bonds, by central id: on a real nRF52 the peer manager keeps them in flash, so they survive a
   * reboot; the caller hands the same map to the next board (SimulatedPuck does).
   */
  bonds: Map<string, { mitm: boolean; lesc: boolean }> = new Map();
  /** Every pairing that failed, with why (issue 17 tests). */
  readonly pairingFailures: string[] = [];
  /** UART writes the phone made that the fob's UART service refused (not encrypted), and fob writes that reached no one for the same reason. */
  uartRefused = { fromPhone: 0, toPhone: 0 };

  constructor(
    private readonly script: vm.Script,
    storage: StorageFiles,
    private readonly events: BoardEvents = {},
    readonly envBoard = 'PUCKJS',
  ) {
    this.storage = storage;
    const board = BOARD_PINS[envBoard] ?? BOARD_PINS.PUCKJS;
    for (let n = 0; n < board.gpios; n++) this.pins[`D${n}`] = new Pin(`D${n}`);
    for (const [name, pin] of Object.entries(board.devices)) this.pins[name] = this.pins[pin];
    this.context = vm.createContext(this.globals());
  }

  static compile(code: string, filename: string): vm.Script {
    return new vm.Script(code, { filename });
  }

  /** Powers the board: runs the bundle (as Espruino runs .bootcde at boot). */
  boot(): void {
    try {
      this.script.runInContext(this.context);
      // As Espruino does after running the boot code.
      for (const f of this.initHandlers) f();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    this.errors.push(err);
    this.events.error?.(err);
  }

  /** Moves the board's clock; a watchdog that is not kicked in time resets the board. */
  advance(ms: number): void {
    const step = 1000;
    for (let left = ms; left > 0; left -= step) {
      this.clock.advance(Math.min(step, left), (err) => this.fail(err));
      if (this.watchdog && !this.watchdog.auto && this.clock.now() - this.lastKick > this.watchdog.timeoutS * 1000) {
        this.events.watchdogReset?.();
        return;
      }
    }
  }

  /**
   * The pin a role is wired to on this board, by its pin name (`D0` for the Puck.js's BTN1): the
   * identity's `w` in lw.json, else the board's default (firmware/src/wiring.ts); undefined when the
   * name is not a pin of this board.
   */
  wired(role: keyof Wiring): string | undefined {
    let w: Partial<Wiring> = {};
    try {
      w = (JSON.parse(this.storage['lw.json'] ?? '{}') as { w?: Partial<Wiring> }).w ?? {};
    } catch {
      // no identity: the defaults
    }
    const name = w[role] ?? (WIRING_OF[this.envBoard] ?? DEFAULT_WIRING.puck)[role];
    return name === undefined ? undefined : this.pins[name]?.name;
  }

  /** The button: pressed or released now, on the pin the button is wired to. */
  button(pressed: boolean): void {
    this.buttonDown = pressed;
    const pin = this.wired('btn');
    for (const w of this.watches) if (w.pin === pin) w.fn({ state: pressed, time: this.clock.now() / 1000 });
  }

  /** Presses for `ms`, advancing the clock while held. */
  press(ms: number): void {
    this.button(true);
    this.advance(ms);
    this.button(false);
  }

  /** The worker moves: a new accelerometer reading, delivered to the firmware's 'accel' handlers. */
  move(): void {
    this.acc = { x: Math.round(Math.random() * 4000), y: Math.round(Math.random() * 4000), z: 8000 };
    for (const f of this.accel) f({ acc: { ...this.acc } });
  }

  /**
   * A phone connects (and pairs, when the central says what its user types: see BleCentral), or the
   * link drops. Without a central: an unpaired phone, which is all a fob without security needs.
   */
  bleConnect(up: boolean, central: BleCentral = { id: 'phone' }): void {
    if (this.bleConnected === up) return;
    this.bleConnected = up;
    if (up) {
      this.link = connectCentral(this.security, central, this.bonds.get(central.id));
      if (this.link.failure) this.pairingFailures.push(`${central.id}: ${this.link.failure}`);
      if (this.link.encrypted && this.link.bonded) this.bonds.set(central.id, { mitm: this.link.mitm, lesc: this.link.lesc });
    } else this.link = { ...UNENCRYPTED };
    for (const f of this.nrf[up ? 'connect' : 'disconnect'] ?? []) f();
  }

  /** Data arriving over the Nordic UART from the phone. */
  uartReceive(data: string): void {
    // Issue 17: with the UART requiring encryption, an unencrypted central's write is refused by the
    // GATT server (the characteristic's permission), so it never reaches the firmware or the REPL.
    if (!uartAllowed(this.security, this.link)) {
      this.uartRefused.fromPhone++;
      return;
    }
    // As on Espruino: while the console is on Bluetooth, what the phone writes goes to the REPL.
    if (this.consoleDevice === 'Bluetooth') {
      this.replInput.push(data);
      return;
    }
    for (const f of this.btData) f(data);
  }

  /** Bytes arriving on Serial1 from the modem. */
  serialReceive(data: string): void {
    for (const f of this.serialData) f(data);
  }

  /** Times the buzzer was driven on (on the pin the buzzer is wired to). */
  buzzerOnCount(): number {
    const buzz = this.wired('buzz');
    return this.outputs.filter(([, pin, v]) => pin === buzz && v > 0).length;
  }

  motorPulses(): number {
    const motor = this.wired('motor');
    return this.outputs.filter(([, pin, v]) => pin === motor && v > 0).length;
  }

  /** Evaluates an expression in the board, as an engineer at the console would. */
  evaluate(expr: string): unknown {
    return vm.runInContext(expr, this.context);
  }

  private globals(): Record<string, unknown> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the globals close over the board
    const b = this;
    const clock = this.clock;
    // As Espruino's: a value that is not a pin is an error ("Expecting a pin").
    const pinName = (p: unknown): string => {
      if (!(p instanceof Pin)) throw new Error(`Expecting a pin, got ${typeof p}`);
      return p.name;
    };
    const g: Record<string, unknown> = {
      ...this.pins,
      // What the firmware prints (the boot record LW:up / LW:fault), as Espruino's console would show it.
      console: { log: (...a: unknown[]) => b.consoleLines.push(a.map(String).join(' ')) },
      Pin,
      JSON,
      Math,
      parseInt,
      parseFloat,
      isNaN,
      String,
      Number,
      Object,
      Array,
      Error,
      setTimeout: (fn: () => void, ms: number) => clock.set(fn, ms),
      clearTimeout: (id: number) => clock.clear(id),
      setInterval: (fn: () => void, ms: number) => clock.set(fn, ms, Math.max(1, ms)),
      clearInterval: (id: number) => clock.clear(id),
      getTime: () => clock.now() / 1000,
      setWatch: (fn: (e: { state: boolean; time: number }) => void, pin: unknown) => {
        const id = b.watches.length + 1;
        b.watches.push({ id, pin: pinName(pin), fn });
        return id;
      },
      clearWatch: (id?: number) => {
        b.watches = id === undefined ? [] : b.watches.filter((w) => w.id !== id);
      },
      digitalRead: (pin: unknown) => (pinName(pin) === b.wired('btn') && b.buttonDown ? 1 : 0),
      // Espruino's setTime sets the wall clock (seconds); Date reads it, getTime stays uptime-based here.
      setTime: (s: number) => {
        b.wallClockAtBoot = s * 1000 - clock.now();
      },
      Date: makeDate(() => b.wallClockAtBoot + clock.now()),
      digitalWrite: (pin: unknown, v: number | boolean) => b.outputs.push([clock.now(), pinName(pin), Number(v)]),
      digitalPulse: (pin: unknown, v: number | boolean, ms: number) => {
        b.outputs.push([clock.now(), pinName(pin), Number(v)]);
        clock.set(() => b.outputs.push([clock.now(), pinName(pin), 0]), ms);
      },
      analogWrite: (pin: unknown, v: number) => b.outputs.push([clock.now(), pinName(pin), v]),
      // The RAK5010's battery divider: 3.0 V (empty) to 4.2 V (full), halved, on a 3.3 V ADC.
      analogRead: () => (b.envBoard === 'RAK5010' ? (3.0 + (1.2 * b.battery) / 100) / 6.6 : b.battery / 100),
      require: (name: string) => {
        if (name !== 'Storage') throw new Error(`Module ${name} not found`);
        return {
          read: (f: string) => b.storage[f],
          readJSON: (f: string, noExceptions: boolean) => {
            try {
              return b.storage[f] === undefined ? undefined : JSON.parse(b.storage[f]);
            } catch (err) {
              if (noExceptions) return undefined;
              throw err;
            }
          },
          write: (f: string, data: string) => {
            b.storage[f] = String(data);
            return true;
          },
          erase: (f: string) => {
            delete b.storage[f];
          },
          // Storage.list(regex): the names that match, as Espruino's Storage library does.
          list: (match?: RegExp) => Object.keys(b.storage).filter((f) => !match || match.test(f)),
        };
      },
      E: {
        getBattery: () => b.battery,
        enableWatchdog: (timeoutS: number, auto: boolean) => {
          b.watchdog = { timeoutS, auto };
          b.lastKick = clock.now();
        },
        kickWatchdog: () => {
          b.lastKick = clock.now();
        },
        setConsole: (device: string | null) => {
          b.consoleDevice = device;
        },
        getTemperature: () => 21,
        on: (ev: string, fn: () => void) => {
          if (ev === 'init') b.initHandlers.push(fn);
        },
      },
      NRF: {
        on: (ev: string, fn: () => void) => {
          (b.nrf[ev] ??= []).push(fn);
        },
        setAdvertising: (data: unknown, opts: { manufacturerData?: number[] }) => {
          b.advertising = { data, opts: { ...opts } };
        },
        setConnectionInterval: () => undefined,
        disconnect: () => b.bleConnect(false),
        // firmware/sim/ble-security.ts: options as Espruino reads them, bad ones thrown as it throws.
        // The SoftDevice takes new settings for the next connection (Espruino restarts it once no
        // one is connected when the UART's encryption changes), so the current link keeps its own.
        setSecurity: (opts: unknown) => {
          try {
            b.security = parseSetSecurity(opts);
          } catch (err) {
            const e = err as Error & { kind?: string };
            // Thrown as the context's own error class, as the firmware would catch it on a board.
            throw e.kind === 'TypeError' ? new (vm.runInContext('TypeError', b.context) as ErrorConstructor)(e.message) : new (vm.runInContext('Error', b.context) as ErrorConstructor)(e.message);
          }
        },
      },
      Bluetooth: {
        on: (_ev: string, fn: (d: string) => void) => b.btData.push(fn),
        // With the UART requiring encryption an unencrypted central cannot enable its notifications
        // (the CCCD write needs the same permission), so what the fob writes reaches no one.
        write: (d: string) => {
          if (!uartAllowed(b.security, b.link)) {
            b.uartRefused.toPhone++;
            return;
          }
          b.events.uart?.(d);
        },
      },
      Puck: {
        accelOn: () => undefined,
        accelOff: () => undefined,
        accel: () => ({ acc: { ...b.acc }, gyro: { x: 0, y: 0, z: 0 } }),
        mag: () => ({ x: 0, y: 0, z: 0 }),
        on: (_ev: string, fn: (a: { acc: { x: number; y: number; z: number } }) => void) => b.accel.push(fn),
      },
      Serial1: {
        setup: () => undefined,
        on: (_ev: string, fn: (d: string) => void) => b.serialData.push(fn),
        // Espruino's EventEmitter method (every object has it): the flashing tool's modem uploader uses it.
        removeAllListeners: (ev?: string) => {
          if (ev === undefined || ev === 'data') b.serialData = [];
        },
        write: (d: string) => b.events.serial1?.(d),
      },
      process: { env: { BOARD: b.envBoard, VERSION: '2v29' } },
    };
    g.global = g;
    return g;
  }
}

/** A Date whose "now" is the board's wall clock (unset: 1970), so the firmware never sees the host's. */
function makeDate(now: () => number): DateConstructor {
  const SimDate = function (this: unknown, ...args: unknown[]) {
    if (!new.target) return new Date(now()).toString();
    return args.length === 0 ? new Date(now()) : new (Date as unknown as new (...a: unknown[]) => Date)(...args);
  } as unknown as DateConstructor;
  Object.assign(SimDate, { now, UTC: Date.UTC, parse: Date.parse });
  (SimDate as unknown as { prototype: Date }).prototype = Date.prototype;
  return SimDate;
}
