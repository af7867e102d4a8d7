/**
 * Keeps the running hub in step with device registrations changed behind its back (issue 17,
 * item 9). `lonewatch devices revoke|assign` opens the SQLite file directly while the hub runs, so
 * the hub did not hear of it: a revoked fob stayed connected and a reassigned fob's heartbeats kept
 * counting as sightings of its old worker.
 *
 * Cheap by design: every `intervalMs` the hub asks the store whether another process has committed
 * anything (SQLite PRAGMA data_version, no table read); only then does it re-read the devices and
 * compare each one's revocation and worker with what it knew. The dashboard's own changes are told
 * directly (`deviceChanged`). The set of revoked devices is what the broker checks on every publish.
 *
 * Polling runs on real time (unref'd), not the hub's clock: it is I/O, not a rule, and a ManualClock
 * moved through hours of a drill must not stop at thousands of polls.
 */
import type { DeviceRosterDigest, Store } from '../store/store.js';
import type { Logger } from '../logger.js';

export interface DeviceWatchOptions {
  store: Store;
  log: Logger;
  intervalMs: number;
  /** A device was revoked: drop its connection. */
  onRevoked(deviceId: string): void;
  /** A device's worker changed (or it was unassigned): forget what was cached about it. */
  onReassigned(deviceId: string, from: string | null, to: string | null): void;
}

interface Known {
  workerId: string | null;
  revoked: boolean;
}

export class DeviceWatch {
  private readonly known = new Map<string, Known>();
  private readonly revoked = new Set<string>();
  private version: number | null = null;
  /** The roster's fingerprint at the last re-read, where the store has one (DeviceRosterDigest). */
  private digest: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;

  constructor(private readonly o: DeviceWatchOptions) {}

  async start(): Promise<void> {
    this.version = await this.o.store.externalChangeCounter();
    // Taken before the read: a change after it makes the next digest differ, and is read then.
    this.digest = (await rosterDigest(this.o.store)?.()) ?? null;
    await this.reload(false);
    this.timer = setInterval(() => {
      this.check().catch((err: Error) => this.o.log.error({ err }, 'could not check the database for device changes made outside the hub'));
    }, this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  isRevoked(deviceId: string): boolean {
    return this.revoked.has(deviceId);
  }

  /** Looks for changes another process committed; re-reads the devices only when there are some. */
  async check(): Promise<void> {
    if (this.checking) return this.checking;
    this.checking = (async () => {
      const v = await this.o.store.externalChangeCounter();
      if (v === this.version) return;
      this.version = v;
      // On PostgreSQL every other node's commit counts (each heartbeat batch of a cluster): the
      // devices are re-read only when their roster changed (issue 19: re-reading 50,000 devices in
      // every node every intervalMs took a large share of the cluster's CPU).
      const rosterOf = rosterDigest(this.o.store);
      if (rosterOf) {
        const d = await rosterOf();
        if (d === this.digest) return;
        this.digest = d;
      }
      await this.reload(true);
    })();
    try {
      await this.checking;
    } finally {
      this.checking = null;
    }
  }

  /** The hub itself changed one device (dashboard revoke or assign): act on it now. */
  async deviceChanged(deviceId: string): Promise<void> {
    const d = await this.o.store.read((tx) => tx.getDevice(deviceId));
    if (d) this.compare(d.id, { workerId: d.workerId, revoked: d.revokedAt !== null }, true);
  }

  private async reload(act: boolean): Promise<void> {
    const devices = await this.o.store.read((tx) => tx.listDevices());
    for (const d of devices) this.compare(d.id, { workerId: d.workerId, revoked: d.revokedAt !== null }, act);
  }

  private compare(id: string, now: Known, act: boolean): void {
    const before = this.known.get(id);
    this.known.set(id, now);
    if (now.revoked) this.revoked.add(id);
    else this.revoked.delete(id);
    if (!act) return;
    // A device the hub had not seen yet (registered since the last read) is acted on as well:
    // dropping a connection that does not exist, or forgetting nothing, costs nothing.
    if (now.revoked && !before?.revoked) {
      this.o.log.warn({ deviceId: id }, 'device revoked: its connection, if any, is dropped and it can no longer publish');
      this.o.onRevoked(id);
    }
    if (!before || now.workerId !== before.workerId) {
      if (before) this.o.log.info({ deviceId: id, from: before.workerId, to: now.workerId }, 'device reassigned: its heartbeats now count for the new worker only');
      this.o.onReassigned(id, before?.workerId ?? null, now.workerId);
    }
  }
}

/** The store's roster fingerprint, when it has one. */
function rosterDigest(store: Store): (() => Promise<string>) | null {
  const s = store as Store & Partial<DeviceRosterDigest>;
  return typeof s.deviceRosterDigest === 'function' ? () => s.deviceRosterDigest!() : null;
}
