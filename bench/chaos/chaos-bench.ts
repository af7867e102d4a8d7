/**
 * Issue 19's random-kill failure run (`npm run bench -- --only chaos`): the cluster of `lonewatch
 * cluster up` (three nats-server nodes with JetStream, PostgreSQL where Debian's postgresql is
 * installed, two edges, two workers; every one its own process), a fleet of wire fobs given both
 * edges pressing SOS (half of them followed at once by a cancel of it), and every few seconds a part
 * picked at random killed with SIGKILL, then started again before the next kill. After the run every
 * part is up again, the fleet resends what was not acknowledged, and chaos-check.ts judges: every
 * PUBACKed SOS is exactly one alarm, none twice, every event acknowledged, every acknowledged cancel
 * applied. Longer than a test may be (a minute of kills), so it is a run with a report, not in npm test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../hub/cluster/cluster-up.js';
import { postgresBinDir } from '../../hub/cluster/postgres-local.js';
import { loadConfig } from '../../hub/config/load-config.js';
import { openConfiguredStore } from '../../hub/store/open-store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { WireFob } from '../../simulator/wire-fob.js';
import { judgeChaos, pickTarget, seededRandom, type ChaosTarget, type ChaosVerdict, type FobRecord } from './chaos-check.js';

export interface ChaosOptions {
  fobs: number;
  /** Seconds of load with kills. */
  seconds: number;
  sosPerSecond: number;
  seed: number;
  store?: 'postgres' | 'sqlite';
}

export interface ChaosKill {
  /** Seconds into the run. */
  at: number;
  part: string;
  /** Seconds from its kill until it answered again (/readyz, or JetStream for a NATS node) after its restart. */
  downFor: number;
}

export interface ChaosResult {
  options: ChaosOptions;
  store: 'postgres' | 'sqlite';
  partitions: number;
  ackWaitMs: number;
  kills: ChaosKill[];
  /** Seconds from the end of the load until every outbox was empty (or the drain gave up). */
  drainSeconds: number;
  verdict: ChaosVerdict;
}

const TICK_MS = 100;
const ACK_WAIT_MS = 3000;
const PARTITIONS = 8;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function partName(t: ChaosTarget): string {
  return t.kind === 'nats' ? `nats-n${t.index + 1}` : t.id;
}

export async function benchChaos(o: ChaosOptions, progress: (s: string) => void): Promise<ChaosResult> {
  const store = o.store ?? (postgresBinDir() ? 'postgres' : 'sqlite');
  const dir = mkdtempSync(join(tmpdir(), 'lw-chaos-'));
  progress(`starting the cluster (3 NATS nodes, ${store}, 2 edges, 2 workers; ${PARTITIONS} partitions, ack_wait ${ACK_WAIT_MS} ms)`);
  const cluster = await LocalCluster.start({ dir, edges: 2, workers: 2, httpNode: false, store, cluster: { ack_wait_ms: ACK_WAIT_MS, publish_timeout_ms: 2000, partitions: PARTITIONS }, logLevel: 'warn' });
  const db = await openConfiguredStore(loadConfig(cluster.configFile));
  const fobs: WireFob[] = [];
  try {
    const edges = cluster.edges;
    for (let i = 0; i < o.fobs; i++) {
      const { secret } = await addDevice(db, `chaos-${i}`, { now: Date.now() });
      fobs.push(new WireFob({ deviceId: `chaos-${i}`, secret, board: 'rak5010', hubHost: edges[0]!.host, hubPort: edges[0]!.port, hubs: i % 2 === 0 ? edges : [...edges].reverse(), battery: 90, clockStart: Date.now() }));
    }
    await Promise.all(fobs.map((f) => f.start()));
    const pressed = new Map<string, { id: string; cancelId: string | null }[]>();
    const random = seededRandom(o.seed);
    const kills: ChaosKill[] = [];
    const started = Date.now();
    const until = started + o.seconds * 1000;

    // The kills, beside the load: one part down at a time, killed 2-5 s after the last came back,
    // restarted 1-3 s after its kill.
    const chaos = (async () => {
      await sleep(2000);
      while (Date.now() < until) {
        const t = pickTarget(random, ['edge-1', 'edge-2'], ['worker-1', 'worker-2'], cluster.nats.nodes.length);
        const killedAt = Date.now();
        const at = (killedAt - started) / 1000;
        progress(`${at.toFixed(1)} s: kill -9 ${partName(t)}`);
        if (t.kind === 'nats') await cluster.nats.kill(t.index);
        else await cluster.kill(t.id);
        await sleep(1000 + random() * 2000);
        const back = Date.now();
        if (t.kind === 'nats') await cluster.nats.restart(t.index);
        else await cluster.restart(t.id);
        kills.push({ at: Math.round(at * 10) / 10, part: partName(t), downFor: Math.round((Date.now() - killedAt) / 100) / 10 });
        progress(`${partName(t)} back after ${((Date.now() - back) / 1000).toFixed(1)} s of restart`);
        await sleep(2000 + random() * 3000);
      }
    })();

    let presses = 0;
    while (Date.now() < until) {
      const due = Math.floor(((Date.now() - started) / 1000) * o.sosPerSecond);
      for (; presses < due; presses++) {
        const f = fobs[Math.floor(random() * fobs.length)]!;
        f.press('loud_sos');
        const id = f.outboxIds().at(-1)!;
        let cancelId: string | null = null;
        if (presses % 2 === 1) {
          f.press('cancel');
          cancelId = f.outboxIds().at(-1)!;
        }
        pressed.set(f.deviceId, [...(pressed.get(f.deviceId) ?? []), { id, cancelId }]);
      }
      await Promise.all(fobs.map((f) => f.advance(TICK_MS)));
      await sleep(TICK_MS);
    }
    await chaos;
    progress(`load over: ${presses} SOS pressed, ${kills.length} kills; every part is up; draining the outboxes`);
    const drainStarted = Date.now();
    while (fobs.some((f) => f.outboxSize() > 0) && Date.now() - drainStarted < 120_000) {
      await Promise.all(fobs.map((f) => f.advance(TICK_MS * 10)));
      await sleep(TICK_MS);
    }
    const drainSeconds = Math.round((Date.now() - drainStarted) / 100) / 10;
    const alarms = await db.read((tx) => tx.listAlarms({ kind: 'sos', limit: 1_000_000 }));
    const records: FobRecord[] = fobs.map((f) => ({ deviceId: f.deviceId, sos: pressed.get(f.deviceId) ?? [], pubacked: new Set(f.pubackedEvents()), acked: new Set(f.ackedEvents()), outbox: f.outboxSize() }));
    const verdict = judgeChaos(records, alarms);
    return { options: o, store, partitions: PARTITIONS, ackWaitMs: ACK_WAIT_MS, kills, drainSeconds, verdict };
  } finally {
    await Promise.all(fobs.map((f) => f.stop().catch(() => undefined)));
    await db.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
