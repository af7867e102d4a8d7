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
