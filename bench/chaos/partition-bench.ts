/**
 * What per-device order costs (`npm run bench -- --only partitions`, docs/cluster.md "Order per
 * device"): the cluster of `cluster up` with no edges (three NATS nodes, the store, two workers),
 * for each partition count asked for, a backlog of check-in events from `devices` devices put on the
 * stream at once the way an edge puts them (hub/cluster/inbound.ts), then the time until the workers
 * have stored and acked every one (every partition consumer with nothing pending and nothing
 * unacked). A fresh cluster per count. Events, not heartbeats: each one is a transaction in the store,
 * as an alarm or a cancel is.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { LocalCluster } from '../../hub/cluster/cluster-up.js';
import { postgresBinDir } from '../../hub/cluster/postgres-local.js';
import { loadConfig } from '../../hub/config/load-config.js';
import { openConfiguredStore } from '../../hub/store/open-store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { encodeInbound, inboundSubject } from '../../hub/cluster/inbound.js';
import { partitionConsumer } from '../../hub/cluster/partition.js';
import { makeEventId } from '../../shared/protocol-core.js';

export interface PartitionRun {
  partitions: number;
  events: number;
  devices: number;
  /** Seconds from the first publish until every event was stored and acked. */
  seconds: number;
  perSecond: number;
}

export async function benchPartitions(o: { partitionCounts: number[]; events: number; devices: number; store?: 'postgres' | 'sqlite' }, progress: (s: string) => void): Promise<{ store: 'postgres' | 'sqlite'; runs: PartitionRun[] }> {
  const store = o.store ?? (postgresBinDir() ? 'postgres' : 'sqlite');
  const runs: PartitionRun[] = [];
  for (const partitions of o.partitionCounts) {
    const dir = mkdtempSync(join(tmpdir(), 'lw-partitions-'));
    progress(`partitions ${partitions}: starting 3 NATS nodes, ${store}, 2 workers`);
    const cluster = await LocalCluster.start({ dir, edges: 0, workers: 2, httpNode: false, store, cluster: { partitions, ack_wait_ms: 10_000 }, logLevel: 'warn' });
    const config = loadConfig(cluster.configFile);
    const db = await openConfiguredStore(config);
    const nc = await connect({ servers: cluster.nats.urls, user: cluster.nats.user, pass: cluster.nats.password });
    try {
      const c = config.cluster!;
      for (let d = 0; d < o.devices; d++) await addDevice(db, `pb-${d}`, { now: Date.now() });
      const js = jetstream(nc);
      const started = Date.now();
      const acks: Promise<unknown>[] = [];
      for (let i = 0; i < o.events; i++) {
        const deviceId = `pb-${i % o.devices}`;
        const m = encodeInbound({ deviceId, leaf: 'ev', payload: Buffer.from(JSON.stringify({ i: makeEventId(1, 1 + Math.floor(i / o.devices)), k: 'chk', ag: 0 })), receivedAt: Date.now(), edgeId: 'bench' });
        acks.push(js.publish(inboundSubject(c.subject_prefix, c.partitions, deviceId, 'ev'), m.data, { headers: m.headers, timeout: 30_000 }));
        if (acks.length >= 500) await Promise.all(acks.splice(0));
      }
      await Promise.all(acks);
      progress(`partitions ${partitions}: ${o.events} events on the stream after ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for the workers`);
      const jsm = await jetstreamManager(nc);
      for (;;) {
        const infos = await Promise.all(Array.from({ length: partitions }, (_, p) => jsm.consumers.info(c.stream, partitionConsumer(c.consumer, p))));
        if (infos.every((x) => x.num_pending === 0 && x.num_ack_pending === 0)) break;
        if (Date.now() - started > 600_000) throw new Error(`partitions ${partitions}: the workers had not handled the backlog after 10 minutes`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const seconds = (Date.now() - started) / 1000;
      const stored = await db.read(async (tx) => {
        let n = 0;
        for (let d = 0; d < o.devices; d++) n += await tx.countFobEvents(`pb-${d}`);
        return n;
      });
      if (stored !== o.events) throw new Error(`partitions ${partitions}: ${stored} of ${o.events} events stored once the consumers were empty`);
      runs.push({ partitions, events: o.events, devices: o.devices, seconds: Math.round(seconds * 10) / 10, perSecond: Math.round(o.events / seconds) });
      progress(`partitions ${partitions}: ${o.events} events stored and acked in ${seconds.toFixed(1)} s (${Math.round(o.events / seconds)}/s)`);
    } finally {
      await nc.close();
      await db.close();
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { store, runs };
}
