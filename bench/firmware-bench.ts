/**
 * 5. Firmware: bundle size per board against its budget, estimated Espruino variables after
 *    start-up, and the modelled battery life (firmware/build/power-model.ts, from docs/fob.md).
 */
import { buildFirmware } from '../firmware/build/build.js';
import type { Board } from '../shared/protocol-core.js';

export interface FirmwareResult {
  board: string;
  bytes: number;
  budgetBytes: number;
  variables: number | null;
  batteryLifeDays: number | null;
  note?: string;
}

export async function benchFirmware(progress: (s: string) => void): Promise<FirmwareResult[]> {
  progress('firmware: building bundles');
  let model: { batteryLifeDays?: (board: Board) => number } = {};
  try {
    model = (await import('../firmware/build/power-model.js' as string)) as typeof model;
  } catch {
    // No power model: the figure stays empty rather than invented.
  }
  const out: FirmwareResult[] = [];
  for (const board of ['puck', 'rak5010'] as const) {
    const r = await buildFirmware(board, { write: false });
    out.push({
      board,
      bytes: r.bytes,
      budgetBytes: r.budgetBytes,
      variables: r.variables,
      batteryLifeDays: model.batteryLifeDays ? Math.round(model.batteryLifeDays(board)) : null,
      ...(r.problems.length ? { note: `NOT Espruino-safe: ${r.problems.map((p) => p.what).join(', ')}` } : {}),
    });
  }
  return out;
}
