/**
 * The verdict of the cluster's random-kill run (issue 19's failure test, `npm run bench -- --only
 * chaos`): pure, over what the fobs saw and what the store holds. An SOS the fob got a PUBACK for
 * must be exactly one alarm (MQTT 3.1.1 §4.3.2: the PUBACK hands the message's ownership to the
 * receiver, so the hub may not lose it); no event may raise two alarms; every event must in the end
 * be acknowledged to its fob; and an SOS whose cancel was acknowledged must carry that cancel.
 */

export interface FobRecord {
  deviceId: string;
  /** SOS event ids pressed, with the id of the cancel pressed straight after (or null). */
  sos: { id: string; cancelId: string | null }[];
  /** Event ids the fob got a PUBACK for. */
  pubacked: ReadonlySet<string>;
  /** Event ids the hub acknowledged (application ack). */
  acked: ReadonlySet<string>;
  /** Events still in the fob's outbox (not acknowledged). */
  outbox: number;
}

export interface AlarmRow {
  deviceId: string | null;
  sourceEventId: string | null;
  workerCancelledAt: number | null;
}

export interface ChaosVerdict {
  sosPressed: number;
  sosPubacked: number;
  /** PUBACKed SOS with no alarm in the store. */
  lost: string[];
  /** Events with more than one alarm. */
  duplicated: string[];
  /** Fobs with events never acknowledged. */
  unacked: { deviceId: string; outbox: number }[];
  cancelsAcked: number;
  /** SOS whose cancel the hub acknowledged, but whose alarm does not carry it. */
  cancelNotApplied: string[];
  ok: boolean;
}

export function judgeChaos(fobs: FobRecord[], alarms: AlarmRow[]): ChaosVerdict {
  const count = new Map<string, number>();
  const cancelled = new Map<string, boolean>();
  for (const a of alarms) {
    if (!a.deviceId || !a.sourceEventId) continue;
    const key = `${a.deviceId}/${a.sourceEventId}`;
    count.set(key, (count.get(key) ?? 0) + 1);
    cancelled.set(key, (cancelled.get(key) ?? false) || a.workerCancelledAt !== null);
  }
  const v: ChaosVerdict = { sosPressed: 0, sosPubacked: 0, lost: [], duplicated: [], unacked: [], cancelsAcked: 0, cancelNotApplied: [], ok: false };
  for (const f of fobs) {
    if (f.outbox > 0) v.unacked.push({ deviceId: f.deviceId, outbox: f.outbox });
    for (const s of f.sos) {
      v.sosPressed++;
      const key = `${f.deviceId}/${s.id}`;
      if (f.pubacked.has(s.id)) {
        v.sosPubacked++;
        if (!count.has(key)) v.lost.push(key);
      }
      if (s.cancelId && f.acked.has(s.cancelId)) {
        v.cancelsAcked++;
        if (count.has(key) && !cancelled.get(key)) v.cancelNotApplied.push(key);
      }
    }
  }
  for (const [key, n] of count) if (n > 1) v.duplicated.push(key);
  v.ok = v.lost.length === 0 && v.duplicated.length === 0 && v.unacked.length === 0 && v.cancelNotApplied.length === 0 && v.sosPubacked > 0;
  return v;
}

/** A small seeded generator (mulberry32), so a run's kill schedule can be replayed with --seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type ChaosTarget = { kind: 'edge' | 'worker'; id: string } | { kind: 'nats'; index: number };

/**
 * The next part to kill: an edge, a worker or a NATS node, picked at random, one part down at a
 * time (the run restarts it before the next kill), so a fob always has an edge, the stream a quorum
 * (2 of 3), and the stream a worker.
 */
export function pickTarget(random: () => number, edges: string[], workers: string[], natsNodes: number): ChaosTarget {
  const all: ChaosTarget[] = [...edges.map((id) => ({ kind: 'edge' as const, id })), ...workers.map((id) => ({ kind: 'worker' as const, id })), ...Array.from({ length: natsNodes }, (_, index) => ({ kind: 'nats' as const, index }))];
  return all[Math.min(all.length - 1, Math.floor(random() * all.length))]!;
}
