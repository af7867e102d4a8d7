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

export function averageCurrentUa(board: Board): number {
  const parts = board === 'puck' ? PUCK.averagesUa : RAK.averagesUa;
  return Object.values(parts).reduce((a, b) => a + b, 0);
}

export function batteryLifeDays(board: Board): number {
  const cell = board === 'puck' ? PUCK.cell : RAK.cell;
  const hours = (cell.capacityMah * cell.usable * 1000) / averageCurrentUa(board);
  return hours / 24;
}
