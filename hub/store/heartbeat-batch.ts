/**
 * The batched heartbeat methods of StoreTx (issue 19, docs/cluster.md "Heartbeat cost on
 * PostgreSQL"): what both stores share. `newestBeats` is the batch's one rule (pure); `rowByRow`
 * implements the methods with a store's own single-row ones, for the SQLite store, where a statement
 * is a function call in this process and batching buys nothing. PostgreSQL has set-based statements
 * of its own (postgres-store.ts), since there each statement is a round trip.
 */
import type { BeatContext, DueWorkKind, HeartbeatIn, StoreTx } from './store.js';
import type { CheckinState } from '../rules/checkin-engine.js';
import type { DeviceHealthState } from '../rules/device-health-engine.js';
import type { VisitRecord } from './store-types.js';

/**
 * Each device's newest beat (by `at`; on a tie the later in the list, as a device's beats arrive in
 * order), in device id order: the order both stores lock and write rows in, so two hubs' batches
 * take their row locks the same way round (no deadlock between them).
 */
export function newestBeats(beats: readonly HeartbeatIn[]): HeartbeatIn[] {
  const newest = new Map<string, HeartbeatIn>();
  for (const b of beats) {
    const held = newest.get(b.deviceId);
    if (!held || held.at <= b.at) newest.set(b.deviceId, b);
  }
  return [...newest.values()].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
}

type Single = Pick<StoreTx, 'getDevice' | 'updateDevice' | 'getDeviceHealth' | 'putDeviceHealth' | 'getCheckinState' | 'putCheckinState' | 'scheduleWork' | 'listVisits'>;
type Batched = Pick<StoreTx, 'recordBeats' | 'putDeviceHealths' | 'putCheckinStates' | 'scheduleWorkMany' | 'listVisitsOf'>;

/** The batched methods, one row at a time with the single-row ones (same transaction, same rules). */
export function rowByRow(tx: Single): Batched {
  return {
    recordBeats: async (beats) => {
      const out: BeatContext[] = [];
      const shifts = new Map<string, CheckinState | null>();
      for (const beat of newestBeats(beats)) {
        const device = await tx.getDevice(beat.deviceId);
        // Unknown or revoked: a revoked fob's heartbeat is no sign of the worker (docs/devices.md).
        if (!device || device.revokedAt !== null) continue;
        // Only forward: a dead worker's redelivered batch after newer beats (docs/cluster.md).
        if (device.lastSeenAt !== null && device.lastSeenAt > beat.at) continue;
        await tx.updateDevice(device.id, { lastSeenAt: beat.at, battery: beat.battery });
        const health: DeviceHealthState | null = await tx.getDeviceHealth(device.id);
        let shift: CheckinState | null = null;
        if (device.workerId) {
          if (!shifts.has(device.workerId)) shifts.set(device.workerId, await tx.getCheckinState(device.workerId));
          shift = shifts.get(device.workerId)!;
        }
        out.push({ device: { ...device, lastSeenAt: beat.at, battery: beat.battery }, beat, health, shift });
      }
      return out;
    },
    putDeviceHealths: async (rows) => {
      for (const r of rows) await tx.putDeviceHealth(r.state, r.dueAt);
    },
    putCheckinStates: async (rows) => {
      for (const r of rows) await tx.putCheckinState(r.state, r.dueAt);
    },
    scheduleWorkMany: async (kind: DueWorkKind, rows) => {
      for (const r of rows) await tx.scheduleWork(kind, r.key, r.dueAt);
    },
    listVisitsOf: async (workerIds, from, to) => {
      const out: VisitRecord[] = [];
      for (const id of [...new Set(workerIds)].sort()) out.push(...(await tx.listVisits(id, from, to)));
      return out;
    },
  };
}
