// The random-kill run's verdict (bench/chaos/chaos-check.ts), pure: each failure it must catch, and
// the pass when there is none; the kill picker is seeded, spread over every part.
import { describe, expect, it } from 'vitest';
import { judgeChaos, pickTarget, seededRandom, type FobRecord } from '../../bench/chaos/chaos-check.js';

const fob = (o: Partial<FobRecord> = {}): FobRecord => ({
  deviceId: 'f1',
  sos: [
    { id: '1-1', cancelId: null },
    { id: '1-2', cancelId: '1-3' },
  ],
  pubacked: new Set(['1-1', '1-2', '1-3']),
  acked: new Set(['1-1', '1-2', '1-3']),
  outbox: 0,
  ...o,
});
const alarm = (sourceEventId: string, workerCancelledAt: number | null = null) => ({ deviceId: 'f1', sourceEventId, workerCancelledAt });

describe('chaos verdict', () => {
  it('passes when every PUBACKed SOS is one alarm, every event acked and every acked cancel applied', () => {
    const v = judgeChaos([fob()], [alarm('1-1'), alarm('1-2', 5)]);
    expect(v).toMatchObject({ ok: true, sosPressed: 2, sosPubacked: 2, cancelsAcked: 1, lost: [], duplicated: [], unacked: [], cancelNotApplied: [] });
  });

  it('fails on a lost PUBACKed SOS, an alarm twice, an unacked outbox and an unapplied cancel', () => {
    expect(judgeChaos([fob()], [alarm('1-2', 5)])).toMatchObject({ ok: false, lost: ['f1/1-1'] });
    expect(judgeChaos([fob()], [alarm('1-1'), alarm('1-1'), alarm('1-2', 5)])).toMatchObject({ ok: false, duplicated: ['f1/1-1'] });
    expect(judgeChaos([fob({ outbox: 2 })], [alarm('1-1'), alarm('1-2', 5)])).toMatchObject({ ok: false, unacked: [{ deviceId: 'f1', outbox: 2 }] });
    expect(judgeChaos([fob()], [alarm('1-1'), alarm('1-2')])).toMatchObject({ ok: false, cancelNotApplied: ['f1/1-2'] });
    // Nothing PUBACKed at all is no proof of anything.
    expect(judgeChaos([fob({ pubacked: new Set(), acked: new Set() })], []).ok).toBe(false);
  });

  it('does not count an SOS never PUBACKed as lost (the fob still holds it; the outbox check covers it)', () => {
    const v = judgeChaos([fob({ pubacked: new Set(['1-2', '1-3']) })], [alarm('1-2', 5)]);
    expect(v).toMatchObject({ ok: true, sosPubacked: 1, lost: [] });
  });

  it('picks parts with a seeded generator: the same seed, the same schedule; every part is picked', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const x = pickTarget(a, ['edge-1', 'edge-2'], ['worker-1', 'worker-2'], 3);
      expect(pickTarget(b, ['edge-1', 'edge-2'], ['worker-1', 'worker-2'], 3)).toEqual(x);
      seen.add(x.kind === 'nats' ? `nats-${x.index}` : x.id);
    }
    expect([...seen].sort()).toEqual(['edge-1', 'edge-2', 'nats-0', 'nats-1', 'nats-2', 'worker-1', 'worker-2']);
  });
});
