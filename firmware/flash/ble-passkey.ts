/**
 * The Puck.js's BLE passkey (issue 17): six digits the worker types on the phone once, when it
 * pairs with the fob; the firmware gives it to NRF.setSecurity (firmware/src/boards/puck.ts). The
 * SoftDevice takes exactly six ASCII digits (BLE_GAP_OPT_PASSKEY), and Espruino reads only a string
 * passkey (targets/nrf5x/bluetooth.c), so it is always kept as a 6-character string, "000123" included.
 */
import { randomInt } from 'node:crypto';

export const PASSKEY_FORM = /^\d{6}$/;

export function isPasskey(s: unknown): s is string {
  return typeof s === 'string' && PASSKEY_FORM.test(s);
}

/** A new passkey from the OS's CSPRNG: uniform over 000000-999999. */
export function newPasskey(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}
