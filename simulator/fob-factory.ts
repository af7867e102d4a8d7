/**
 * Which virtual fob the simulator runs. `firmware` runs the emitted firmware bundle over a simulated
 * board (when the firmware build and its simulated board are present); `wire` speaks the protocol
 * with the shared core only.
 */
import type { VirtualFobFactory } from './virtual-fob.js';
import { WireFob } from './wire-fob.js';

export const FOB_KINDS = ['firmware', 'wire'] as const;
export type FobKind = (typeof FOB_KINDS)[number];

export async function fobFactory(kind: FobKind | 'auto'): Promise<{ kind: FobKind; create: VirtualFobFactory }> {
  if (kind === 'wire') return { kind: 'wire', create: (spec) => new WireFob(spec) };
  try {
    const mod = (await import('./firmware-fob.js' as string)) as { createFirmwareFobFactory(): Promise<VirtualFobFactory> };
    return { kind: 'firmware', create: await mod.createFirmwareFobFactory() };
  } catch (err) {
    if (kind === 'firmware') throw new Error(`the firmware-backed fob is not available: ${(err as Error).message}`);
    return { kind: 'wire', create: (spec) => new WireFob(spec) };
  }
}
