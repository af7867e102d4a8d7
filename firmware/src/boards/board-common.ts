/** What both boards do the same way with Espruino's globals: identity, storage, time, watchdog. */
import { STORAGE, type Identity } from '../hal';
import { FIRMWARE_VERSION } from '../version';
import type { FobCore } from '../core/fob-core';

const bootedAt = getTime();

export function uptime(): number {
  return Math.round((getTime() - bootedAt) * 1000);
}

export function storageRead(name: string): string | undefined {
  return __espruino_require('Storage').read(name);
}

export function storageWrite(name: string, data: string): void {
  __espruino_require('Storage').write(name, data);
}

export function storageErase(name: string): void {
  __espruino_require('Storage').erase(name);
}

export function storageList(match: RegExp): string[] {
  return __espruino_require('Storage').list(match);
}

/** The identity written at flashing time; null (and a slow red blink) when the fob was never provisioned. */
export function readIdentity(): Identity | null {
  const id = __espruino_require('Storage').readJSON(STORAGE.identity, true) as Identity | undefined;
  if (!id || typeof id.id !== 'string' || typeof id.pw !== 'string') return null;
  return id;
}

/**
 * A hung fob is reset by the watchdog (not kicked automatically: only a running main loop kicks it);
 * the outbox and the boot counter are in flash, so nothing is lost by the reset.
 */
export function startWatchdog(): void {
  E.enableWatchdog(20, false);
  setInterval(function () {
    E.kickWatchdog();
  }, 5000);
}

/** For engineers at the console and for the flashing tool's read-back. */
export function exposeGlobal(id: Identity | null, core: FobCore | null): void {
  global.LW = { v: FIRMWARE_VERSION, id: id ? id.id : '', core: core };
}
