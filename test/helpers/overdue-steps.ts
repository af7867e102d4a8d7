/**
 * A database left by a hub that was down while escalation steps fell due: `n` open missed-check-in
 * alarms, each with its next step overdue (issue 17 item 4). Written straight into SQLite in one
 * transaction, as fast as the schema allows, for the catch-up test and bench.
 */
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { DEFAULT_POLICIES } from '../../hub/rules/escalation-policy.js';
import { TEST_CONTACTS } from './hub-harness.js';

/** Alarm `a<i>` is due at `now - n + i` ms: all overdue, in a known order. */
export async function seedOverdueSteps(dbPath: string, n: number, now: number): Promise<void> {
  const store = new SqliteStore(dbPath);
  try {
    await store.transaction(async (tx) => {
      for (const c of TEST_CONTACTS) await tx.upsertContact({ ...c, phone: null });
      await tx.upsertWorker({ id: 'w-load', name: 'Load Worker', phone: null, homeAddress: null, medicalNotes: null, car: null, emergencyContacts: null, description: null, buddyId: null, lineManagerId: 'lm-1', trainingDate: '2026-01-01', newStarter: false });
    });
    const putAlarm = store.db.prepare(
      `INSERT INTO alarms (id, kind, state, priority, worker_id, device_id, reason, raised_at, drill, policy, level, round, next_step_at, due_at)
       VALUES (?, 'missed_checkin', 'notifying', 2, 'w-load', NULL, 'seeded overdue step', ?, 0, ?, 0, 0, ?, ?)`,
    );
    // The schedule is due work (schema v7), written beside the alarm as the runtime does.
    const putDue = store.db.prepare(`INSERT INTO due_work (kind, key, due_at) VALUES ('alarm', ?, ?)`);
    const policy = JSON.stringify(DEFAULT_POLICIES.missed_checkin);
    store.db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const due = now - n + i;
        putAlarm.run(`a${i}`, due - 5 * 60_000, policy, due, due);
        putDue.run(`a${i}`, due);
      }
    })();
  } finally {
    await store.close();
  }
}
