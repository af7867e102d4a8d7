/**
 * The power budget of docs/fob.md as numbers, so the bench reports the modelled battery life from
 * the same figures the document gives (change both together). Average currents in µA.
 */
import type { Board } from '../../shared/protocol-core.js';

interface Cell {
  capacityMah: number;
  usable: number;
}

const PUCK = {
  cell: { capacityMah: 230, usable: 0.85 } as Cell,
  // docs/fob.md, "Puck.js (CR2032)": averages over a day of 10 h shifts.
  averagesUa: { floor: 12.0, connected: 5.0, advertising: 2.9, accelerometer: 16.5, watchdog: 0.7, heartbeats: 0.2, events: 0.1, haptics: 1.9 },
};

const RAK = {
  cell: { capacityMah: 1200, usable: 1 } as Cell,
  // docs/fob.md, "RAK5010 (Li-ion, charged daily)".
  averagesUa: { mcu: 10, modemIdle: 1700, keepAlive: 1700, heartbeats: 300 },
};

/**
 * The RAK5010's GNSS (docs/fob.md, "GNSS" and "RAK5010"): the receiver on for about one hot-start fix
 * per visit period (`cfg` gp), at an ASSUMED ~30 mA while on (to be measured on the bench like the
 * rest). An open alarm keeps it on: GNSS_ON_UA for as long as the alarm lasts.
 */
export const GNSS_ON_UA = 30000;
/** Seconds a fix takes with the receiver warm (hot start, open sky): an assumed ~30 s. */
export const GNSS_FIX_S = 30;

/** Average current of periodic fixes every periodS seconds (0 = off). */
export function gnssAverageUa(periodS: number): number {
  return periodS > 0 ? (GNSS_ON_UA * Math.min(GNSS_FIX_S, periodS)) / periodS : 0;
}

/** gnssPeriodS: the RAK5010's visit fix period (cfg gp), 0 (the default, what the hub sends today) = off. */
export function averageCurrentUa(board: Board, gnssPeriodS = 0): number {
  const parts = board === 'puck' ? PUCK.averagesUa : RAK.averagesUa;
  return Object.values(parts).reduce((a, b) => a + b, 0) + (board === 'rak5010' ? gnssAverageUa(gnssPeriodS) : 0);
}

export function batteryLifeDays(board: Board, gnssPeriodS = 0): number {
  const cell = board === 'puck' ? PUCK.cell : RAK.cell;
  const hours = (cell.capacityMah * cell.usable * 1000) / averageCurrentUa(board, gnssPeriodS);
  return hours / 24;
}
