/**
 * 4. Rules engine: the cost to arm, move and cancel one of N scheduled check-in deadlines (rows of
 *    the store's due work, issue 18), the wake-up drift of due deadlines through the one due-work
 *    loop on the real clock, and hub restart time with N deadlines and M open alarms in the database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DueWorkLoop } from '../hub/rules/due-work-loop.js';
import { systemClock } from '../hub/clock.js';
import { SqliteStore } from '../hub/store/sqlite-store.js';
import { Hub } from '../hub/hub.js';
import { parseConfig } from '../hub/config/load-config.js';
import { silentLogger } from '../hub/logger.js';
import { DEFAULT_POLICIES } from '../hub/rules/escalation-policy.js';
import { initialCheckinState } from '../hub/rules/checkin-engine.js';
import { summarise, type LatencySummary } from './stats.js';

export interface RulesResult {
  deadlines: number;
  armNs: number;
  moveNs: number;
  cancelNs: number;
  drift: LatencySummary;
  restart: { deadlines: number; openAlarms: number; seconds: number };
}

/** Per-operation cost of `fn` over n keys, in transactions of 10,000 (a hub writes a deadline inside the transaction of its state). */
async function perOp(store: SqliteStore, n: number, fn: (tx: Parameters<Parameters<SqliteStore['transaction']>[0]>[0], i: number) => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let from = 0; from < n; from += 10_000) {
    await store.transaction(async (tx) => {
      for (let i = from; i < Math.min(n, from + 10_000); i++) await fn(tx, i);
    });
  }
  return Math.round(Number(process.hrtime.bigint() - t0) / n);
}

export async function benchRules(deadlines: number, openAlarms: number, progress: (s: string) => void): Promise<RulesResult> {
  const scratch = mkdtempSync(join(tmpdir(), 'lonewatch-bench-due-'));
  let armNs: number;
  let moveNs: number;
  let cancelNs: number;
  const lateness: number[] = [];
  try {
    const store = new SqliteStore(join(scratch, 'lonewatch.db'));
    // Arm, move, cancel: nothing is due, so nothing fires while we measure.
    progress(`rules: arming ${deadlines} deadlines`);
    const far = Date.now() + 3_600_000;
    armNs = await perOp(store, deadlines, (tx, i) => tx.scheduleWork('worker', `w${i}`, far + ((i * 7919) % 3_600_000)));
    progress('rules: moving deadlines');
    moveNs = await perOp(store, deadlines, (tx, i) => tx.scheduleWork('worker', `w${i}`, far + 1_000_000 + ((i * 104729) % 3_600_000)));
    progress('rules: cancelling deadlines');
    cancelNs = await perOp(store, deadlines, (tx, i) => tx.scheduleWork('worker', `w${i}`, null));
    await perOp(store, deadlines, (tx, i) => tx.scheduleWork('worker', `w${i}`, far + i));

    // Drift: 2,000 deadlines due over 2 s on the real clock, among `deadlines` far-future ones, each
    // completed in its own fsynced transaction as the hub's steps are.
    progress('rules: measuring wake-up drift (2 s)');
    const due = new Map<string, number>();
    const loop = new DueWorkLoop({
      store,
      clock: systemClock,
      log: silentLogger,
      owner: 'bench',
      handlers: {
        device: async (work) => {
          const at = due.get(work.key);
          if (at !== undefined) lateness.push(Date.now() - at);
          await store.complete(work);
        },
      },
    });
    // Written in one transaction (one fsync) before the loop starts: the figure is the loop's
    // wake-up and claim, not the cost of 2,000 separate commits.
    const base = Date.now();
    for (let i = 0; i < 2000; i++) due.set(`drift${i}`, base + 200 + Math.floor(Math.random() * 1800));
    await store.transaction(async (tx) => {
      for (const [key, at] of due) await tx.scheduleWork('device', key, at);
    });
    await loop.start();
    await new Promise((r) => setTimeout(r, 2300));
    await loop.stop();
    await store.close();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  // Restart: a database with the deadlines and open alarms, then time Hub.start.
  progress(`rules: writing ${deadlines} deadlines and ${openAlarms} open alarms`);
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-bench-restart-'));
  try {
    const store = new SqliteStore(join(dir, 'lonewatch.db'));
    const now = Date.now();
    const putState = store.db.prepare('INSERT INTO worker_state (worker_id, state, due_at) VALUES (?, ?, ?)');
    const putDue = store.db.prepare('INSERT INTO due_work (kind, key, due_at) VALUES (?, ?, ?)');
    const putAlarm = store.db.prepare(
      `INSERT INTO alarms (id, kind, state, priority, worker_id, device_id, reason, raised_at, drill, policy, level, round, next_step_at, due_at)
       VALUES (?, 'missed_checkin', 'notifying', 2, ?, NULL, 'bench', ?, 0, ?, 0, 0, ?, ?)`,
    );
    const policy = JSON.stringify(DEFAULT_POLICIES.missed_checkin);
    store.db.transaction(() => {
      for (let i = 0; i < deadlines; i++) {
        const st = { ...initialCheckinState(`w${i}`), onShift: true };
        putState.run(`w${i}`, JSON.stringify(st), now + 3_600_000 + i);
        putDue.run('worker', `w${i}`, now + 3_600_000 + i);
      }
      for (let i = 0; i < openAlarms; i++) {
        putAlarm.run(`a${i}`, `w${i}`, now, policy, now + 3_600_000 + i, now + 3_600_000 + i);
        putDue.run('alarm', `a${i}`, now + 3_600_000 + i);
      }
    })();
    await store.close();
    progress('rules: restarting the hub');
    const config = parseConfig({ hub: { data_dir: dir }, mqtt: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, log: { level: 'silent' } }, 'bench');
    const t0 = performance.now();
    const hub = await Hub.start({ config, log: silentLogger });
    const seconds = Math.round((performance.now() - t0) / 10) / 100;
    const loaded = await hub.store.countWork();
    await hub.stop();
    return { deadlines, armNs, moveNs, cancelNs, drift: summarise(lateness), restart: { deadlines: loaded, openAlarms, seconds } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
