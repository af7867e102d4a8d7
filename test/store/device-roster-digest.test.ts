// The device roster's fingerprint on PostgreSQL (issue 19, docs/cluster.md "Where an SOS's time
// goes"): DeviceWatch re-reads every device only when a device was added, removed, revoked or given
// to another worker, not on every other node's commit (a cluster's heartbeat batches). Real
// PostgreSQL 15, two store instances on one database (two nodes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../hub/store/postgres-store.js';
import { DeviceWatch } from '../../hub/ingest/device-watch.js';
import { createLogger } from '../../hub/logger.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { device, worker } from './store-contract.js';

const available = requirePostgresOrSkip();

describe.skipIf(!available)('PostgreSQL store: device roster digest', () => {
  let server: PostgresServer;
  let url: string;
  let a: PostgresStore;
  let b: PostgresStore;
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createSchema();
    a = await PostgresStore.open(url, { poolMax: 4 });
    b = await PostgresStore.open(url, { poolMax: 4 });
    await a.transaction(async (tx) => {
      await tx.upsertWorker(worker('w-1', 'One'));
      await tx.upsertWorker(worker('w-2', 'Two'));
      await tx.insertDevice(device('fob-1', { workerId: 'w-1' }));
      await tx.insertDevice(device('fob-2', { workerId: 'w-1' }));
    });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await server?.dropSchema(url).catch(() => undefined);
    await server?.stop();
  });

  it('changes with a device added, revoked or reassigned, and not with heartbeats', async () => {
    const d0 = await b.deviceRosterDigest();
    await a.recordHeartbeats([{ deviceId: 'fob-1', at: 5_000, battery: 70 }]);
    expect(await b.deviceRosterDigest()).toBe(d0);
    await a.transaction((tx) => tx.insertDevice(device('fob-3', { workerId: 'w-2' })));
    const d1 = await b.deviceRosterDigest();
    expect(d1).not.toBe(d0);
    await a.transaction((tx) => tx.updateDevice('fob-2', { workerId: 'w-2' }));
    const d2 = await b.deviceRosterDigest();
    expect(d2).not.toBe(d1);
    await a.transaction((tx) => tx.updateDevice('fob-2', { revokedAt: 9_000 }));
    expect(await b.deviceRosterDigest()).not.toBe(d2);
  });

  it('DeviceWatch re-reads the devices for another node’s revocation, not for its heartbeats', async () => {
    const revoked: string[] = [];
    const watch = new DeviceWatch({ store: b, log: createLogger({ level: 'silent', pretty: 'never' }), intervalMs: 60_000, onRevoked: (id) => revoked.push(id), onReassigned: () => undefined });
    let reads = 0;
    const read = b.read.bind(b);
    b.read = ((fn) => {
      reads++;
      return read(fn);
    }) as typeof b.read;
    try {
      await watch.start();
      const afterStart = reads;
      // Another node's commits that leave the roster as it was: nothing re-read.
      await a.recordHeartbeats([{ deviceId: 'fob-1', at: 6_000, battery: 69 }]);
      await a.transaction((tx) => tx.updateDevice('fob-1', { online: true }));
      await watch.check();
      expect(reads).toBe(afterStart);
      // A revocation by another node: re-read and acted on.
      await a.transaction((tx) => tx.updateDevice('fob-1', { revokedAt: 10_000 }));
      await watch.check();
      expect(reads).toBe(afterStart + 1);
      expect(revoked).toEqual(['fob-1']);
      expect(watch.isRevoked('fob-1')).toBe(true);
    } finally {
      watch.stop();
      b.read = read;
    }
  });
});
