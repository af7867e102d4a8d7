// The stream's two lanes (hub/cluster/lanes.ts), pure: events and positions go on their device's
// partition, heartbeats, status and presence on the bulk lane, and neither lane's consumer filter
// takes the other's subjects; and the worker's alarms-first gate (hub/cluster/alarm-first.ts) holds
// a bulk batch while an ordered message is in hand, lets it go when the last one is done, and never
// holds it longer than its bound.
import { describe, expect, it } from 'vitest';
import { partitionFilter, partitionOf } from '../../hub/cluster/partition.js';
import { BULK_LEAVES, bulkConsumer, bulkFilter, bulkMaxAckPending, laneOf, laneSubject, PRESENCE_LEAF } from '../../hub/cluster/lanes.js';
import { inboundSubject } from '../../hub/cluster/inbound.js';
import { AlarmFirst } from '../../hub/cluster/alarm-first.js';
import { TOPIC } from '../../shared/protocol-core.js';

/** NATS subject matching (`*` one token, `>` the rest), as the server applies a consumer's filter. */
function matches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

describe('lanes', () => {
  it('puts events and positions on the partition, heartbeats, status and presence on the bulk lane', () => {
    const p = partitionOf('fob-1', 16);
    expect(laneSubject('lw.in', 16, 'fob-1', TOPIC.event)).toBe(`lw.in.p${p}.fob-1.ev`);
    expect(laneSubject('lw.in', 16, 'fob-1', TOPIC.position)).toBe(`lw.in.p${p}.fob-1.ps`);
    expect(laneSubject('lw.in', 16, 'fob-1', TOPIC.heartbeat)).toBe('lw.in.bulk.fob-1.hb');
    expect(laneSubject('lw.in', 16, 'fob-1', TOPIC.status)).toBe('lw.in.bulk.fob-1.st');
    expect(laneSubject('lw.in', 16, 'fob-1', PRESENCE_LEAF)).toBe('lw.in.bulk.fob-1._presence');
    // The edge's subject is the lane's.
    expect(inboundSubject('lw.in', 16, 'fob-1', 'hb')).toBe('lw.in.bulk.fob-1.hb');
    expect([...BULK_LEAVES].sort()).toEqual(['_presence', 'hb', 'st']);
    expect(laneOf('ev')).toBe('ordered');
    expect(laneOf('ps')).toBe('ordered');
  });

  it('gives each lane only its own subjects', () => {
    const devices = Array.from({ length: 64 }, (_, i) => `fob-${i}`);
    for (const d of devices) {
      for (const leaf of ['ev', 'ps', 'hb', 'st', PRESENCE_LEAF]) {
        const subject = laneSubject('lw.in', 8, d, leaf);
        const partitionsTaking = Array.from({ length: 8 }, (_, p) => p).filter((p) => matches(partitionFilter('lw.in', p), subject));
        const bulkTakes = matches(bulkFilter('lw.in'), subject);
        if (laneOf(leaf) === 'bulk') {
          expect(partitionsTaking, subject).toEqual([]);
          expect(bulkTakes, subject).toBe(true);
        } else {
          expect(partitionsTaking, subject).toEqual([partitionOf(d, 8)]);
          expect(bulkTakes, subject).toBe(false);
        }
      }
    }
    expect(bulkConsumer('lw-workers')).toBe('lw-workers-bulk');
    expect(bulkMaxAckPending(250)).toBe(1000);
  });
});

describe('alarms first', () => {
  it('lets a bulk batch go at once when no ordered message is in hand', async () => {
    expect(await new AlarmFirst().bulkTurn(60_000)).toBe('free');
  });

  it('holds a bulk batch until the last ordered message in hand is done', async () => {
    const gate = new AlarmFirst();
    const order: string[] = [];
    let finishA!: () => void;
    let finishB!: () => void;
    const a = gate.ordered(() => new Promise<void>((r) => (finishA = r)).then(() => void order.push('sos handled')));
    const b = gate.ordered(() => new Promise<void>((r) => (finishB = r)).then(() => void order.push('cancel handled')));
    const turn = gate.bulkTurn(60_000).then((t) => void order.push(`bulk ${t}`));
    expect(gate.busy).toBe(2);
    finishA();
    await a;
    expect(order).toEqual(['sos handled']);
    finishB();
    await Promise.all([b, turn]);
    expect(order).toEqual(['sos handled', 'cancel handled', 'bulk free']);
    expect(gate.busy).toBe(0);
  });

  it('never holds a bulk batch longer than its bound, and counts a failed handling as done', async () => {
    const gate = new AlarmFirst();
    let finish!: () => void;
    const held = gate.ordered(() => new Promise<void>((r) => (finish = r)));
    // 1 ms: the bound itself, not a sleep standing in for an event.
    expect(await gate.bulkTurn(1)).toBe('waited_out');
    finish();
    await held;
    await expect(gate.ordered(() => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect(gate.busy).toBe(0);
    expect(await gate.bulkTurn(60_000)).toBe('free');
  });
});
