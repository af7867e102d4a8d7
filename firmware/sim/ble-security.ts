/**
 * Espruino's `NRF.setSecurity` on an nRF52 (Puck.js), as the simulated board models it: which
 * options are taken and how, and what a phone (the BLE central) gets when it connects and pairs.
 *
 * Sources, cited at each rule:
 *   [REF] Espruino reference, `NRF.setSecurity` (the options display, keyboard, bond, mitm, lesc,
 *         passkey, oob, encryptUart; "supplying a passkey without display:1 is not allowed"; "If
 *         passkey or oob is specified, the Nordic UART service ... will automatically be set to
 *         require encryption").
 *   [C]   Espruino's source, targets/nrf5x/bluetooth.c: get_gap_sec_params() (display/keyboard to
 *         the SoftDevice's IO capabilities, bond defaults to 1, mitm/lesc/oob) and
 *         jsble_update_security() (a passkey is read only when it is a string, into 6 characters +
 *         NUL, so a longer one is cut to its first 6; a passkey or oob or encryptUart makes the UART
 *         need encryption); libs/bluetooth/jswrap_bluetooth.c (an argument that is not an object or
 *         undefined is a TypeError).
 *   [BT]  Bluetooth Core Specification, Vol 3 Part H §2.3.5.1 (pairing method from the IO
 *         capabilities: a display-only responder and a keyboard initiator use Passkey Entry; with no
 *         IO it is Just Works, which cannot give MITM protection).
 *
 * What is our reading, not a documented fact (and said so in docs/fob.md): a passkey that is not 6
 * digits is refused by the SoftDevice's sd_ble_opt_set (NRF_ERROR_INVALID_PARAM, shown by Espruino
 * as "ERR 0x7 (INVALID_PARAM)"); a passkey without display:1 makes every pairing fail (the
 * reference says only that it "is not allowed").
 */

/** The options as Espruino reads them (anything else in the object is ignored, as [C] ignores it). */
export interface BleSecurity {
  display: boolean;
  keyboard: boolean;
  bond: boolean;
  mitm: boolean;
  lesc: boolean;
  oob: boolean;
  /** The static passkey the SoftDevice uses, '' for none. */
  passkey: string;
  /** The Nordic UART service requires an encrypted link ([C]: passkey, oob or encryptUart). */
  encryptUart: boolean;
}

export const OPEN_SECURITY: BleSecurity = { display: false, keyboard: false, bond: true, mitm: false, lesc: false, oob: false, passkey: '', encryptUart: false };

/** An error Espruino throws from NRF.setSecurity (its class and message). */
export class BleSecurityError extends Error {
  constructor(
    readonly kind: 'TypeError' | 'Error',
    message: string,
  ) {
    super(message);
    this.name = kind;
  }
}

/** Espruino's %t: the type name it prints in "Expecting ..., got <type>". */
function espruinoType(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return 'String';
  if (typeof v === 'number') return Number.isInteger(v) ? 'Integer' : 'Float';
  if (typeof v === 'boolean') return 'Boolean';
  if (typeof v === 'function') return 'Function';
  if (Array.isArray(v)) return 'Array';
  return typeof v;
}

/** JavaScript truthiness as jsvGetBool gives it (1, true, "x" are true). */
const bool = (v: unknown): boolean => !!v;

/**
 * NRF.setSecurity(options): the security the board now has, or a BleSecurityError as Espruino
 * throws it (the board's security is then unchanged).
 */
export function parseSetSecurity(options: unknown): BleSecurity {
  if (options === undefined) return { ...OPEN_SECURITY };
  // [C] jswrap_bluetooth.c: "Expecting an object or undefined, got %t".
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new BleSecurityError('TypeError', `Expecting an object or undefined, got ${espruinoType(options)}`);
  }
  const o = options as Record<string, unknown>;
  // [C]: only a string passkey is read, into a 7-byte buffer (6 characters and the NUL): a number is
  // ignored (no passkey at all, and so no UART encryption), a longer string is cut to 6 characters.
  const passkey = typeof o.passkey === 'string' ? o.passkey.slice(0, 6) : '';
  // Our reading: the SoftDevice takes exactly 6 ASCII digits (its BLE_GAP_OPT_PASSKEY, "6-digit
  // ASCII string (digit 0..9 only)"); anything else is NRF_ERROR_INVALID_PARAM.
  if (typeof o.passkey === 'string' && o.passkey !== '' && !/^\d{6}$/.test(passkey)) {
    throw new BleSecurityError('Error', 'ERR 0x7 (INVALID_PARAM)');
  }
  const oob = bool(o.oob);
  return {
    display: bool(o.display),
    keyboard: bool(o.keyboard),
    // [C]: bond is 1 unless the option is given and false.
    bond: o.bond === undefined ? true : bool(o.bond),
    mitm: bool(o.mitm),
    lesc: bool(o.lesc),
    oob,
    passkey,
    encryptUart: passkey !== '' || oob || bool(o.encryptUart),
  };
}

/** A phone connecting to the fob: its identity (for bonds) and what its user does at pairing. */
export interface BleCentral {
  /** Its address (bonds are kept per central). */
  id: string;
  /** The passkey the worker types when the phone's pairing dialog asks; undefined: no pairing (dialog cancelled, or a phone that never asks). */
  passkey?: string;
  /** The phone supports LE Secure Connections (default true: Android 6+ and iOS 9+ phones do). */
  lesc?: boolean;
}

/** What the link is after connecting (and pairing, if any). */
export interface LinkSecurity {
  encrypted: boolean;
  /** Authenticated against a man in the middle (passkey entry). */
  mitm: boolean;
  bonded: boolean;
  /** LE Secure Connections (else legacy pairing) when encrypted. */
  lesc: boolean;
  /** Why pairing failed, when it was attempted and failed. */
  failure: string | null;
}

export const UNENCRYPTED: LinkSecurity = { encrypted: false, mitm: false, bonded: false, lesc: false, failure: null };

/**
 * A central connects. A bonded central re-encrypts with its stored keys (no passkey asked); one
 * that pairs gets passkey entry when the fob has a display and a passkey or requires MITM, else
 * Just Works ([BT] §2.3.5.1); a central that does not pair stays unencrypted.
 */
export function connectCentral(sec: BleSecurity, central: BleCentral, bonded: { mitm: boolean; lesc: boolean } | undefined): LinkSecurity {
  if (bonded) return { encrypted: true, mitm: bonded.mitm, bonded: true, lesc: bonded.lesc, failure: null };
  if (central.passkey === undefined) return { ...UNENCRYPTED };
  const lesc = sec.lesc && central.lesc !== false;
  const fail = (failure: string): LinkSecurity => ({ ...UNENCRYPTED, failure });
  // [REF]: "supplying a passkey without display:1 is not allowed" (our reading: the pairing fails).
  if (sec.passkey && !sec.display) return fail('a passkey without display:1');
  const passkeyEntry = sec.display && (sec.passkey !== '' || sec.mitm);
  if (!passkeyEntry) {
    // [BT]: Just Works has no MITM protection; a fob requiring it cannot pair this way.
    if (sec.mitm) return fail('MITM protection required but the fob has no display or keyboard (Just Works)');
    return { encrypted: true, mitm: false, bonded: sec.bond, lesc, failure: null };
  }
  // Passkey entry: the phone's user types what the fob "displays", the static passkey. Without a
  // static one the SoftDevice would make a random one and Espruino would emit it as an event for
  // the code to show: not modelled (the firmware always gives one).
  if (!sec.passkey) return fail('no static passkey (a random displayed passkey is not modelled)');
  if (central.passkey !== sec.passkey) return fail('wrong passkey (confirm value failed)');
  return { encrypted: true, mitm: true, bonded: sec.bond, lesc, failure: null };
}

/** The UART may carry data on this link ([C]: with encryptUart, only an encrypted link). */
export function uartAllowed(sec: BleSecurity, link: LinkSecurity): boolean {
  return !sec.encryptUart || link.encrypted;
}
