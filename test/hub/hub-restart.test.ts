/**
 * kill -9 the hub mid-escalation, restart it, and the escalation continues with no step lost or
 * repeated; steps that fell due while it was down fire at once, once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { addDevice, addVisit } from '../../hub/admin/admin-service.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { killHubChildren, startHubChild } from '../helpers/hub-child-process.js';
import { TEST_CONTACTS } from '../helpers/hub-harness.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);

afterEach(() => {
  killHubChildren();
});

async function ladder(dbPath: string) {
  const store = new SqliteStore(dbPath);
  try {
    const alarms = await store.read((tx) => tx.listAlarms({ kind: 'missed_checkin' }));
    expect(alarms).toHaveLength(1);
    const timeline = await store.read((tx) => tx.getTimeline(alarms[0].id));
    return {
      alarm: alarms[0],
      notified: timeline.filter((e) => e.type === 'notify').map((e) => e.detail.level as number),
      escalated: timeline.filter((e) => e.type === 'escalated').map((e) => e.detail.level as number),
    };
  } finally {
    await store.close();
  }
}

describe('hub restart after SIGKILL', () => {
  it('R3, R20: resumes a running escalation where it stopped: nothing lost, nothing repeated', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-kill-'));
    const dbPath = join(dataDir, 'lonewatch.db');
    try {
      // Set-up straight into the database, as the admin CLI does.
      const setup = new SqliteStore(dbPath);
      await setup.transaction(async (tx) => {
        for (const c of TEST_CONTACTS) await tx.upsertContact({ ...c, phone: null });
        await tx.upsertWorker({ id: 'w1', name: 'Sam', phone: null, homeAddress: null, medicalNotes: null, car: null, emergencyContacts: null, buddyId: null, lineManagerId: 'lm-1', trainingDate: '2026-01-01', newStarter: false, description: null });
      });
      const { secret } = await addDevice(setup, 'fob-1', { workerId: 'w1', now: T0 });
      await addVisit(
        setup,
        { workerId: 'w1', ref: 'V-1', scheduledStart: T0, expectedEnd: T0 + 20 * MIN, riskCategory: 1, rag: 'green', checkinIntervalMin: null, nextLocation: null, secondWorkerId: null, unplanned: false },
        { onBreach: 'refuse', trainingValidYears: 3 },
      );
      await setup.close();

      const first = await startHubChild(dataDir, T0);
      const fob = await connectFob(`mqtt://127.0.0.1:${first.mqttPort}`, 'fob-1', secret);
      await fob.send({ i: '1-1', k: 'vs', ag: 0 });
      await fob.close();
      await first.advance(20 * MIN); // visit end due: prompt
      await first.advance(5 * MIN); // grace over: alarm, level 0
      await first.advance(5 * MIN); // level 1
      let l = await ladder(dbPath);
      expect(l.notified).toEqual([0, 1]);

      first.proc.kill('SIGKILL');
      await new Promise((r) => first.proc.once('exit', r));

      // Down for 17 minutes: level 2 (due +5) and level 3 (due +15) fell due meanwhile.
      const second = await startHubChild(dataDir, T0 + 30 * MIN + 17 * MIN);
      await second.advance(0);
      l = await ladder(dbPath);
      expect(l.notified).toEqual([0, 1, 2, 3]);
      expect(l.escalated).toEqual([1, 2, 3]);
      expect(l.alarm.level).toBe(3);

      // And it keeps climbing on schedule: level 4 is due 10 minutes after level 3 was due (T0+45).
      await second.advance(7 * MIN);
      expect((await ladder(dbPath)).notified).toEqual([0, 1, 2, 3]);
      await second.advance(1 * MIN);
      expect((await ladder(dbPath)).notified).toEqual([0, 1, 2, 3, 4]);
      second.proc.kill('SIGKILL');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
