/**
 * 5. Firmware: bundle size per board against its budget, estimated Espruino variables after
 *    start-up, and the modelled battery life, from the firmware build.
 */
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
  let build: { buildFirmware?: (board: string) => Promise<Record<string, unknown>> };
  try {
    build = (await import('../firmware/build/build.js' as string)) as typeof build;
  } catch {
    return [{ board: 'all', bytes: 0, budgetBytes: 0, variables: null, batteryLifeDays: null, note: 'firmware build not available' }];
  }
  const out: FirmwareResult[] = [];
  for (const board of ['puck', 'rak5010']) {
    const r = (await build.buildFirmware!(board)) as { bytes?: number; budgetBytes?: number; variables?: number; batteryLifeDays?: number };
    out.push({ board, bytes: r.bytes ?? 0, budgetBytes: r.budgetBytes ?? 12 * 1024, variables: r.variables ?? null, batteryLifeDays: r.batteryLifeDays ?? null });
  }
  return out;
}
