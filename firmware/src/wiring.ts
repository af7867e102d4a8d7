/**
 * Which pins of the board the fob's button, buzzer, motor, LED and battery sense are wired to.
 *
 * Issue 14: the RAK5010 has no user button (Espruino's boards/RAK5010.py defines LED1 on D12 and no
 * BTN), so the wearable wires one to a header pin. The wiring is therefore not compiled in: it is
 * written to the fob's identity file (`w` in lw.json) at provisioning time, with these defaults, and
 * a board that cannot resolve a pin fails loudly at boot instead of sitting silently dead.
 *
 * Pin names are the board file's names (`D19`, `LED1`, `BTN1`). An empty string means "not fitted"
 * (a Puck.js reads its battery from E.getBattery(), not from a pin).
 *
 * Shared by the firmware (compiled to ES5) and the flashing tool (Node): keep it dependency-free.
 */
export interface Wiring {
  /** The alarm button (input, pressed = high). */
  btn: string;
  /** The buzzer (PWM output). */
  buzz: string;
  /** The vibration motor (output). */
  motor: string;
  /** The status LED (output). */
  led: string;
  /** Battery sense (analog input through the board's divider); '' when the board measures it itself. */
  batt: string;
  /**
   * RAK5010 only: the GNSS power enable (output, high = on), driven high before AT+QGPS=1 and low
   * after AT+QGPSEND (issue 20). Absent on a Puck.js (no GNSS), so its bundle carries none of it.
   */
  gps?: string;
}

/**
 * The roles, in the order the flashing tool lists them (and the order of the firmware's resolved
 * pins, board-common.ts resolveWiring).
 */
export const WIRING_ROLES: (keyof Wiring)[] = ['btn', 'buzz', 'motor', 'led', 'batt', 'gps'];

// The keys are quoted so that the firmware build's property mangling (firmware/build/build.ts
// shortens `buzz` and `led`) leaves them as lw.json's `w` spells them.
// boards/PUCKJS.py: BTN1 is D0, LED1 the red LED; D1 and D2 are pads on the Puck.js's edge.
export const PUCK_WIRING: Wiring = { 'btn': 'BTN1', 'buzz': 'D1', 'motor': 'D2', 'led': 'LED1', 'batt': '' };

// boards/RAK5010.py: header IO1 = D19, IO2 = D20, IO3 = D34, LED1 = D12. Battery: D4, the board's
// own divider on the cell (ADC_VBAT in Espruino's libs/js/rak/RAK5010.js; P0.04 is ADC1_IN2 in the
// board file), so a wearable needs no wire for it; D5 is the header's free "AIN" input, which the
// firmware read before (issue 14 leftovers: it measured nothing unless the wearable wired a divider
// there). The 1:2 ratio the firmware assumes for that divider is still to be confirmed on a board. IO4 (D33) is left free: with IO3 it is the UART console's pair that the
// board file has commented out. Never D0/D1 (XL1/XL2, the 32 kHz crystal in the board file's
// get_pins) nor D2 (the BG96's PWRKEY in Espruino's libs/js/rak/RAK5010.js), which the firmware
// used before issue 14.
// GNSS power: D39, `GPS_EN` in Espruino's libs/js/rak/RAK5010.js (PINS.GPS_EN = D39), whose setGPSOn
// writes it high before turning the modem on and sending AT+QGPS=1, and low when turning GNSS off.
// RAK5010.py itself names no GPS pin (only its NFC define: "the pins are used for GPS").
export const RAK5010_WIRING: Wiring = { 'btn': 'D19', 'buzz': 'D20', 'motor': 'D34', 'led': 'LED1', 'batt': 'D4', 'gps': 'D39' };

/**
 * Each board's defaults. The board bundles import their own constant above (so a bundle does not
 * carry the other board's defaults); the flashing tool reads this table.
 */
export const DEFAULT_WIRING: { puck: Wiring; rak5010: Wiring } = { puck: PUCK_WIRING, rak5010: RAK5010_WIRING };
