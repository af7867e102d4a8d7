/** What both boards do the same way with Espruino's globals: identity, storage, time, watchdog. */
import { STORAGE, type Identity } from '../hal';
import type { Wiring } from '../wiring';
import { FIRMWARE_VERSION } from '../version';
import type { FobCore } from '../core/fob-core';

const bootedAt = getTime();
/** Espruino's Storage module, required once (its name was ~18 bytes at each of five calls). */
const storage = __espruino_require('Storage');

// The helpers used more than once are function expressions, not declarations (issue 14): terser
// writes an expression with no `this` as an arrow (`f=()=>...`, ~12 bytes less than
// `function f(){return ...}`), and never a declaration. Each is defined before main() runs.

export const uptime = function (): number {
  return Math.round((getTime() - bootedAt) * 1000);
};

export const storageRead = function (name: string): string | undefined {
  return storage.read(name);
};

export const storageWrite = function (name: string, data: string): void {
  storage.write(name, data);
};

export const storageErase = function (name: string): void {
  storage.erase(name);
};

export const storageList = function (match: RegExp): string[] {
  return storage.list(match);
};

/** The identity written at flashing time; null (and a slow red blink) when the fob was never provisioned. */
export function readIdentity(): Identity | null {
  const id = storage.readJSON(STORAGE.identity, true) as Identity | undefined;
  if (!id || typeof id.id !== 'string' || typeof id.pw !== 'string') return null;
  return id;
}

/**
 * A hung fob is reset by the watchdog (not kicked automatically: only a running main loop kicks it);
 * the outbox and the boot counter are in flash, so nothing is lost by the reset.
 */
export function startWatchdog(): void {
  E.enableWatchdog(20, false);
  setInterval(E.kickWatchdog, 5000);
}

/**
 * Issue 14: the pins come from the identity's wiring (`w`, written at provisioning), each role not
 * given there from the board's defaults, and are resolved by name at boot. A name that is not a pin
 * of this board (the RAK5010 has no `BTN`; `D34` on a Puck.js) is a fault, `btn=BTN not a pin`, so
 * the fob says so instead of dying with a ReferenceError before its core starts. Every role but the
 * button may be '' (not fitted, as firmware/src/wiring.ts defines it and `lonewatch flash --pins
 * motor=` writes it: docs/flashing.md "Wiring"): a Puck.js measures its battery with E.getBattery(),
 * a fob built without a motor just does not vibrate. The button never: it is how a worker raises
 * an alarm (R1), so `btn=''` is a fault.
 *
 * Returns the pins in the defaults' key order (btn, buzz, motor, led, batt: WIRING_ROLES), 0 where
 * the name did not resolve, then (at index 5) the fault: '' when every role resolved.
 */
export function resolveWiring(identity: Identity | null, defaults: Wiring): unknown[] {
  const w: { [role: string]: unknown } = (identity && identity.w) || {};
  const p: unknown[] = [];
  let f = '';
  for (const role in defaults) {
    const name = role in w ? w[role] : defaults[role as keyof Wiring];
    let pin = global[name as string];
    if (!(pin instanceof Pin)) {
      pin = 0;
      if (name || role === 'btn') f += (f ? ', ' : '') + role + '=' + name + ' not a pin';
    }
    p.push(pin);
  }
  p.push(f);
  return p;
}

/** What a fob with no valid identity file (lw.json) says; it sends nothing. */
export const NOT_PROVISIONED = 'not provisioned';

/**
 * The boot record, once the hardware is set up and the core has started: the `LW` global (for
 * engineers at the console and for the flashing tool's read-back) and exactly one console line.
 * `LW:up <version> <board> <deviceId>` (and LW.up = 1) when every pin resolved. Otherwise
 * `LW:fault <reason>` (LW.fault), never `LW:up`, and the LED (if it resolved) blinks every `ms`:
 * fast (250 ms) for a wiring fault, slow (2 s) when never provisioned, so a fob that cannot work as
 * built is never silently dead. The core still runs on a wiring fault: the hub hears it in the
 * hello (`wf`), and a fob whose button resolved can still raise an alarm.
 */
export const booted = function (board: string, identity: Identity | null, core: FobCore | null, reason: string, led: unknown, ms: number): void {
  const id = identity ? identity.id : '';
  global.LW = { v: FIRMWARE_VERSION, id: id, core: core, fault: reason, up: reason ? 0 : 1 };
  if (!reason) return console.log('LW:up ' + FIRMWARE_VERSION + ' ' + board + ' ' + id);
  console.log('LW:fault ' + reason);
  // The blink is a write and a timeout, not digitalPulse: a pulse goes through the utility timer's
  // queue, which the Linux build's timer thread lets fill when the host is starved ("Timeout on
  // Utility Timer"), and a 40 ms flash needs no microsecond precision (Espruino's reference for
  // digitalPulse points at setTimeout for anything longer than a few ms).
  if (led)
    setInterval(function () {
      digitalWrite(led, 1);
      setTimeout(function () {
        digitalWrite(led, 0);
      }, 40);
    }, ms);
};
