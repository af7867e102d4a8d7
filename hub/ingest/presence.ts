/**
 * A fob's presence (its MQTT connection up or down) stored with a `device` change on the change
 * feed, so the workers board's "online/offline" follows it live over /api/events instead of a
 * 30-second poll (issue 15, docs/dashboard.md "Workers"). Connections come and go rarely, so the
 * feed (bounded, `[feed]` retention) carries one change per connect or disconnect; heartbeats are
 * not put on it (one per fob per interval would crowd out the alarm changes).
 */
import type { StoreTx } from '../store/store.js';

export async function recordPresence(tx: StoreTx, deviceId: string, online: boolean, at: number): Promise<void> {
  await tx.updateDevice(deviceId, online ? { online: true, lastSeenAt: at } : { online: false });
  await tx.appendChange({ at, topic: 'device', alarmId: null, detail: { deviceId, change: online ? 'online' : 'offline' } });
}

/**
 * The same, for a presence that may arrive out of order (the cluster's bulk lane, docs/cluster.md
 * "Alarms ahead of bulk traffic": a dead worker's batch is redelivered after newer messages were
 * written, and a fob that moved edges can have the old edge's "offline" stored after the new one's
 * "online"). `at` is the edge's time. A presence older than the last one applied to the device
 * (StoreTx.advancePresence) is stale and changes nothing, whichever way round; an "online" never
 * moves the last sighting back; an "offline" older than the device's last sign of life (a heartbeat
 * since) is stale too. Answers whether it changed anything.
 */
export async function recordStreamedPresence(tx: StoreTx, deviceId: string, online: boolean, at: number): Promise<boolean> {
  const device = await tx.getDevice(deviceId);
  if (!device) return false;
  const seen = device.lastSeenAt;
  if (!online && seen !== null && seen > at) return false;
  // A presence no newer than the last one applied (an "online" redelivered after a newer "offline",
  // or the reverse) is stale: applied, it would leave the device in the older state until its next
  // connection or disconnection.
  if (!(await tx.advancePresence(deviceId, at))) return false;
  await tx.updateDevice(deviceId, online ? { online: true, lastSeenAt: Math.max(seen ?? at, at) } : { online: false });
  await tx.appendChange({ at, topic: 'device', alarmId: null, detail: { deviceId, change: online ? 'online' : 'offline' } });
  return true;
}
