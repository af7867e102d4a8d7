/**
 * Positions at the hub (issue 20): what a wire fix becomes when stored, which alarm it belongs to,
 * and the latest fix per device kept hot in memory for the views and the forwarding.
 *
 * The hot copy is bounded by the devices the hub knows: only fixes from a registered device reach it
 * (the broker refuses unknown ones at CONNECT), one entry per device, dropped when the device is
 * revoked or reassigned. A miss falls back to the store, so a restart loses nothing.
 */
import { POSITION_SOURCE, type Position, type PositionSource } from '../../shared/protocol-core.js';
import type { StoreTx } from '../store/store.js';
import type { AlarmRecord, PositionRecord, PositionSourceName } from '../store/store-types.js';
import { isOpen } from '../rules/escalation-engine.js';

export const SOURCE_NAME: Record<PositionSource, PositionSourceName> = {
  [POSITION_SOURCE.gnss]: 'gnss',
  [POSITION_SOURCE.phone]: 'phone',
  [POSITION_SOURCE.cell]: 'cell',
};

/** The wire fix, dated by the hub: `fa` seconds before it arrived (docs/protocol.md, Positions). */
export function toPositionRecord(p: Position, at: { deviceId: string; workerId: string | null; alarmId: string | null; receivedAt: number }): PositionRecord {
  return {
    deviceId: at.deviceId,
    workerId: at.workerId,
    alarmId: at.alarmId,
    fixAt: at.receivedAt - p.fa * 1000,
    receivedAt: at.receivedAt,
    lat: p.la,
    lon: p.lo,
    accuracyM: p.ac,
    source: SOURCE_NAME[p.s],
  };
}

/**
 * The alarm a fix from this device belongs to: the latest-raised open alarm about the worker's
 * safety (SOS, covert SOS, man-down, missed check-in; priority 1-2) raised by this device or about its
 * worker. Device-health alarms (silent, low battery) are not where a worker is looked for.
 */
export async function openAlarmFor(tx: StoreTx, deviceId: string, workerId: string | null): Promise<AlarmRecord | null> {
  const byDevice = await tx.listAlarms({ open: true, deviceId, limit: 20 });
  const byWorker = workerId ? await tx.listAlarms({ open: true, workerId, limit: 20 }) : [];
  const candidates = [...byDevice, ...byWorker].filter((a) => isOpen(a) && a.priority <= 2);
  candidates.sort((a, b) => b.raisedAt - a.raisedAt);
  return candidates[0] ?? null;
}

/** The latest fix per device, in memory. */
export class LatestPositions {
  private readonly latest = new Map<string, PositionRecord>();

  /** Keeps `p` if it is the device's newest fix (a late QoS 0 fix never replaces a newer one). */
  remember(p: PositionRecord): void {
    const had = this.latest.get(p.deviceId);
    if (!had || p.fixAt >= had.fixAt) this.latest.set(p.deviceId, p);
  }

  /** The device's newest fix: from memory, else from the store (and kept). */
  async get(tx: StoreTx, deviceId: string): Promise<PositionRecord | null> {
    const hot = this.latest.get(deviceId);
    if (hot) return hot;
    const stored = await tx.latestPosition(deviceId);
    if (stored) this.remember(stored);
    return stored;
  }

  forget(deviceId: string): void {
    this.latest.delete(deviceId);
  }

  get size(): number {
    return this.latest.size;
  }
}

export interface AlarmTrack {
  /** Oldest first: the last fix before the alarm was raised (if any), then the alarm's own fixes. */
  positions: PositionRecord[];
  /** The newest of them by fix time, or null when there is none. */
  latest: PositionRecord | null;
}

/** Most fixes of one alarm a view or a hand-over reads (a fix every 10 s for about 3 hours). */
export const ALARM_TRACK_MAX = 1000;

/**
 * An alarm's track: its own fixes (sent with it, or while it was open) and the last known place
 * before it, from the alarm's device or, for an alarm with none (a missed check-in), the worker's.
 */
export async function alarmTrack(tx: StoreTx, alarm: AlarmRecord): Promise<AlarmTrack> {
  const own = await tx.listAlarmPositions(alarm.id, ALARM_TRACK_MAX);
  const devices = alarm.deviceId ? [alarm.deviceId] : alarm.workerId ? (await tx.listWorkerDevices(alarm.workerId)).map((d) => d.id) : [];
  let before: PositionRecord | null = null;
  for (const id of devices) {
    const p = await tx.positionBefore(id, alarm.raisedAt, alarm.id);
    if (p && (!before || p.fixAt > before.fixAt)) before = p;
  }
  const positions = (before ? [before, ...own] : own).sort((a, b) => a.fixAt - b.fixAt);
  return { positions, latest: positions.at(-1) ?? null };
}
