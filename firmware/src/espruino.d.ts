// The Espruino globals the board files use (only they may: the core sees the HAL).
// Pins are looked up by name at boot (the wiring, firmware/src/wiring.ts); only the RAK5010's modem
// UART pins are compiled in.
declare const D6: unknown;
declare const D8: unknown;
/** Espruino's pin type: `D19 instanceof Pin` is true, a name that is not a pin gives undefined. */
declare class Pin {}
declare const console: { log(text: string): void };
declare function setWatch(fn: (e: { state: boolean; time: number }) => void, pin: unknown, opts: { edge: string; repeat: boolean; debounce: number }): number;
declare function digitalWrite(pin: unknown, value: number | boolean): void;
declare function digitalPulse(pin: unknown, value: number | boolean, ms: number): void;
declare function analogWrite(pin: unknown, value: number, opts?: { freq?: number }): void;
declare function analogRead(pin: unknown): number;
declare function getTime(): number;
declare function setTimeout(fn: () => void, ms: number): number;
declare function clearTimeout(id: number): void;
declare function setInterval(fn: () => void, ms: number): number;
/** Espruino's require, for built-in modules only; the build turns it back into `require`. */
declare function __espruino_require(module: 'Storage'): {
  read(name: string): string | undefined;
  readJSON(name: string, noExceptions: boolean): unknown;
  write(name: string, data: string): boolean;
  erase(name: string): void;
  list(match?: RegExp): string[];
};
declare const E: {
  getBattery(): number;
  enableWatchdog(timeout: number, isAuto: boolean): void;
  kickWatchdog(): void;
  setConsole(device: string | null, opts?: { force?: boolean }): void;
  on(event: string, fn: () => void): void;
};
declare const NRF: {
  on(event: 'connect' | 'disconnect', fn: () => void): void;
  setAdvertising(data: object, opts: object): void;
  setSecurity(opts: object): void;
};
declare const Bluetooth: {
  on(event: 'data', fn: (data: string) => void): void;
  write(data: string): void;
};
declare const Puck: {
  accelOn(hz: number): void;
  on(event: 'accel', fn: (a: { acc: { x: number; y: number; z: number } }) => void): void;
};
declare const Serial1: {
  setup(baud: number, opts: object): void;
  on(event: 'data', fn: (data: string) => void): void;
  write(data: string): void;
};
declare const global: { [key: string]: unknown };
