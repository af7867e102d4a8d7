/**
 * 4. Rules engine: the cost to arm, move and cancel one of N scheduled check-in deadlines, the
 *    wake-up drift of due deadlines on the real clock, and hub restart time with N deadlines and M
 *    open alarms in the database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadlineScheduler } from '../hub/rules/deadline-scheduler.js';
import { ManualClock, systemClock } from '../hub/clock.js';
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

function perOp(n: number, fn: (i: number) => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Math.round(Number(process.hrtime.bigint() - t0) / n);
}

export async function benchRules(deadlines: number, openAlarms: number, progress: (s: string) => void): Promise<RulesResult> {
  // Drift: 2,000 deadlines due over 2 s on the real clock, among `deadlines` far-future ones.
  progress('rules: measuring wake-up drift (2 s)');
  const lateness: number[] = [];
  const start = Date.now();
  const due = new Map<string, number>();
  const real = new DeadlineScheduler(systemClock, (key) => {
    const at = due.get(key);
    if (at !== undefined) lateness.push(Date.now() - at);
  });
  for (let i = 0; i < deadlines; i++) real.set(`worker:w${i}`, start + 3_600_000 + i);
  // Let the collector promote the freshly armed deadlines first: a hub arms them once at start-up
  // and then runs for months; the drift that matters is the steady state's.
  await new Promise((r) => setTimeout(r, 3000));
  for (let i = 0; i < 2000; i++) {
    const at = Date.now() + 200 + Math.floor(Math.random() * 1800);
    due.set(`drift:${i}`, at);
    real.set(`drift:${i}`, at);
  }
  await new Promise((r) => setTimeout(r, 2300));
  real.stop();

  // Arm, move, cancel: on a clock that does not move, so nothing fires while we measure.
  progress(`rules: arming ${deadlines} deadlines`);
  const clock = new ManualClock(0);
  const sched = new DeadlineScheduler(clock, () => undefined);
  const keys = Array.from({ length: deadlines }, (_, i) => `worker:w${i}`);
  const armNs = perOp(deadlines, (i) => sched.set(keys[i], 1_000_000 + ((i * 7919) % 3_600_000)));
  progress('rules: moving deadlines');
  const moveNs = perOp(deadlines, (i) => sched.set(keys[i], 2_000_000 + ((i * 104729) % 3_600_000)));
  progress('rules: cancelling deadlines');
  const cancelNs = perOp(deadlines, (i) => sched.set(keys[i], null));

  // Restart: a database with the deadlines and open alarms, then time Hub.start.
  progress(`rules: writing ${deadlines} deadlines and ${openAlarms} open alarms`);
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-bench-restart-'));
  try {
    const store = new SqliteStore(join(dir, 'lonewatch.db'));
    const now = Date.now();
    const putState = store.db.prepare('INSERT INTO worker_state (worker_id, state, due_at) VALUES (?, ?, ?)');
    const putAlarm = store.db.prepare(
      `INSERT INTO alarms (id, kind, state, priority, worker_id, device_id, reason, raised_at, drill, policy, level, round, next_step_at, due_at)
       VALUES (?, 'missed_checkin', 'notifying', 2, ?, NULL, 'bench', ?, 0, ?, 0, 0, ?, ?)`,
    );
    const policy = JSON.stringify(DEFAULT_POLICIES.missed_checkin);
    store.db.transaction(() => {
      for (let i = 0; i < deadlines; i++) {
        const st = { ...initialCheckinState(`w${i}`), onShift: true };
        putState.run(`w${i}`, JSON.stringify(st), now + 3_600_000 + i);
      }
      for (let i = 0; i < openAlarms; i++) putAlarm.run(`a${i}`, `w${i}`, now, policy, now + 3_600_000 + i, now + 3_600_000 + i);
    })();
    await store.close();
    progress('rules: restarting the hub');
    const config = parseConfig({ hub: { data_dir: dir }, mqtt: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, log: { level: 'silent' } }, 'bench');
    const t0 = performance.now();
    const hub = await Hub.start({ config, log: silentLogger });
    const seconds = Math.round((performance.now() - t0) / 10) / 100;
    const loaded = hub.runtime.scheduler.size;
    await hub.stop();
    return { deadlines, armNs, moveNs, cancelNs, drift: summarise(lateness), restart: { deadlines: loaded, openAlarms, seconds } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
