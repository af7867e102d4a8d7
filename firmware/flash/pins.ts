/**
 * The pin names a fob's wiring may use, per board, and the parsing of `--pins btn=D19,buzz=D20`.
 *
 * The lists were derived once from Espruino 2v29's board files (boards/PUCKJS.py and
 * boards/RAK5010.py, kept in the team's reference folder): the product never reads those files at
 * run time. Pure: no I/O.
 *   - PUCKJS.py: `generate_pins(0,31)` (D0..D31); devices LED1 (D5), LED2 (D4), LED3 (D3), BTN1 (D0).
 *     Espruino's build also names BTN1 `BTN` (the alias every board with a BTN1 gets).
 *   - RAK5010.py: `generate_pins(0,47)` (D0..D47); devices LED1 (D12) only: no button.
 */
import { DEFAULT_WIRING, WIRING_ROLES, type Wiring } from '../src/wiring.js';

export type FlashBoard = 'puck' | 'rak5010';

function dPins(last: number): string[] {
  return Array.from({ length: last + 1 }, (_v, i) => `D${i}`);
}

export const BOARD_PINS: Record<FlashBoard, readonly string[]> = {
  puck: [...dPins(31), 'LED1', 'LED2', 'LED3', 'BTN1', 'BTN'],
  rak5010: [...dPins(47), 'LED1'],
};

/** The board files' device names for D pins, so that two roles on one pin are caught under either name. */
const ALIASES: Record<FlashBoard, Record<string, string>> = {
  puck: { LED1: 'D5', LED2: 'D4', LED3: 'D3', BTN1: 'D0', BTN: 'D0' },
  rak5010: { LED1: 'D12' },
};

/** Roles that may be left unfitted (`--pins batt=`); the button never: it is how a worker raises an alarm. */
const OPTIONAL_ROLES: readonly (keyof Wiring)[] = ['buzz', 'motor', 'led', 'batt', 'gps'];

/** Roles only some boards have: `gps` (the GNSS power enable) is the RAK5010's; a Puck.js has no GNSS. */
const BOARD_ROLES: Record<FlashBoard, readonly (keyof Wiring)[]> = {
  puck: WIRING_ROLES.filter((r) => r !== 'gps'),
  rak5010: WIRING_ROLES,
};

export class PinsError extends Error {
  override name = 'PinsError';
}

/**
 * The board's default wiring with the engineer's overrides applied. Throws PinsError, naming the
 * bad part and what is allowed, for an unknown role, a pin the board file does not have, a role given
 * twice, or an empty button.
 */
export function resolveWiring(board: FlashBoard, spec: string | undefined): Wiring {
  const wiring: Wiring = { ...DEFAULT_WIRING[board] };
  if (spec === undefined) return wiring;
  const seen = new Set<string>();
  const parts = spec.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.every((p) => p === '')) throw new PinsError(`--pins is empty: give role=pin pairs, e.g. --pins btn=D19,buzz=D20`);
  for (const part of parts) {
    const m = /^([a-z]+)=(\S*)$/.exec(part);
    if (!m) throw new PinsError(`--pins: "${part}" is not role=pin (e.g. btn=D19)`);
    const [, role, pin] = m;
    const roles = BOARD_ROLES[board];
    if (!(roles as string[]).includes(role)) {
      const why = role === 'gps' ? ' (gps is the RAK5010\'s GNSS power enable: a Puck.js has no GNSS)' : '';
      throw new PinsError(`--pins: unknown role "${role}"${why}: the roles are ${roles.join(', ')}`);
    }
    if (seen.has(role)) throw new PinsError(`--pins: ${role} is given twice`);
    seen.add(role);
    const r = role as keyof Wiring;
    if (pin === '') {
      if (!OPTIONAL_ROLES.includes(r)) throw new PinsError(`--pins: the button (btn) must be on a pin: a fob without one cannot raise an alarm`);
      wiring[r] = '';
      continue;
    }
    if (!BOARD_PINS[board].includes(pin)) {
      throw new PinsError(`--pins: ${role}=${pin}: a ${board === 'puck' ? 'Puck.js' : 'RAK5010'} has no pin "${pin}" (${describePins(board)})`);
    }
    wiring[r] = pin;
  }
  const used = new Map<string, string>();
  for (const role of WIRING_ROLES) {
    const pin = wiring[role];
    if (!pin) continue;
    const physical = ALIASES[board][pin] ?? pin;
    const other = used.get(physical);
    if (other) throw new PinsError(`--pins: ${other} and ${role} are both on ${physical}: each role needs its own pin`);
    used.set(physical, role);
  }
  return wiring;
}

function describePins(board: FlashBoard): string {
  return board === 'puck' ? 'its pins are D0-D31, LED1-LED3, BTN1 (BTN)' : 'its pins are D0-D47 and LED1 (its header: D5 AIN, D19 IO1, D20 IO2, D34 IO3, D33 IO4)';
}

/**
 * For the summary: `btn D19, buzz D20, motor D34, led LED1, batt D4, gps D39` ("-" for not fitted;
 * gps only where the board's wiring has the role, so a Puck.js's summary does not mention it).
 */
export function describeWiring(w: Wiring): string {
  return WIRING_ROLES.filter((r) => r in w).map((r) => `${r} ${w[r] || '-'}`).join(', ');
}
