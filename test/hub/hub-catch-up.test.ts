// After a restart with 10,000 overdue escalation steps the hub serves while it catches up (issue 17
// item 4): a new SOS from a real MQTT fob is committed and acknowledged, and /healthz answers, while
// steps are still pending. Ordering, not wall-clock time, is asserted (the latency is in the bench).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hub/clock.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { seedOverdueSteps } from '../helpers/overdue-steps.js';
import { makeEventId } from '../../shared/protocol-core.js';

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);
const STEPS = 10_000;

let t: TestHub | null = null;
let fob: TestFob | null = null;
let dataDir = '';
afterEach(async () => {
  await fob?.close();
  await t?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  t = null;
  fob = null;
});

const escalatedCount = (store: SqliteStore): number => (store.db.prepare(`SELECT COUNT(*) AS n FROM alarm_timeline WHERE type = 'escalated'`).get() as { n: number }).n;

describe('catch-up after a restart', () => {
  it('R3: a new SOS is acked while 10,000 overdue steps are still being processed, and /healthz says how many are left', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-catchup-'));
    await seedOverdueSteps(join(dataDir, 'lonewatch.db'), STEPS, T0);
    t = await startTestHub({ dataDir, clock: new ManualClock(T0) });
    const hub = t.hub;
    expect(hub.runtime.overdueSteps).toBeGreaterThan(0);

    const health = (await fetch(`${t.httpUrl}/healthz`).then((r) => r.json())) as { ok: boolean; status: string; overdueSteps: number };
    expect(health.ok).toBe(true);
    expect(health.overdueSteps).toBeGreaterThan(0);
    expect(health.status).toBe(`catching up: ${health.overdueSteps} overdue steps left`);

    const { secret } = await t.addDevice('fob-1', { workerId: 'w1' });
    fob = await connectFob(t.mqttUrl, 'fob-1', secret);
    const id = makeEventId(1, 1);
    await fob.send({ i: id, k: 'sos', ag: 0 });
    const leftAtPuback = hub.runtime.overdueSteps;
    // Read straight from the database, not from the counter: steps not yet processed at the PUBACK.
    const escalatedAtPuback = escalatedCount(hub.store as SqliteStore);
    const ack = await fob.waitFor((c) => c.k === 'ack');
    const leftAtAck = hub.runtime.overdueSteps;
    expect(ack).toEqual({ k: 'ack', i: id });
    // The SOS did not wait for the catch-up: steps were still pending when its acks arrived.
    expect(leftAtPuback).toBeGreaterThan(0);
    expect(leftAtAck).toBeGreaterThan(0);
    expect(escalatedAtPuback).toBeLessThan(STEPS);
    const sos = await hub.store.read((tx) => tx.listAlarms({ kind: 'sos' }));
    expect(sos).toHaveLength(1);

    // What the catch-up did so far it did in due order, each step once; the rest waits, durably, for
    // the next start (its full run in order is in deadline-scheduler.test.ts and the restart tests).
    await t.stop();
    t = null;
    const store = new SqliteStore(join(dataDir, 'lonewatch.db'));
    try {
      const escalated = (store.db.prepare(`SELECT alarm_id FROM alarm_timeline WHERE type = 'escalated' ORDER BY seq`).all() as { alarm_id: string }[]).map((r) => r.alarm_id);
      expect(escalated.length).toBeGreaterThan(0);
      expect(escalated.length).toBeLessThan(STEPS);
      expect(escalated).toEqual(Array.from({ length: escalated.length }, (_, i) => `a${i}`));
      const stillDue = store.db.prepare(`SELECT COUNT(*) AS n FROM alarms WHERE kind = 'missed_checkin' AND due_at <= ?`).get(T0) as { n: number };
      expect(stillDue.n).toBe(STEPS - escalated.length);
    } finally {
      await store.close();
    }
  }, 120_000);
});
