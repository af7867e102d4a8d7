/**
 * The SQL of listing and counting alarms, the same on SQLite and PostgreSQL (both stores build on it):
 * the WHERE of an AlarmFilter and the two orders. `loudest` is the dashboard's order
 * (hub/http/views.ts compareAlarms): open alarms first, loudest kind first (shared/vocabulary.ts
 * ALARM_KINDS), then newest first; closed ones after, newest first. Done in SQL so that a limit
 * keeps the loudest open alarms, not the newest: with more open alarms than the board reads, an old
 * SOS still open must not give way to newer low batteries (R3).
 */
import { ALARM_KINDS, ALARM_STATES, isOpenState } from '../../shared/vocabulary.js';
import type { AlarmFilter } from './store.js';

// The kinds and states are the vocabulary's own literals (lower-case words and underscores), never input.
const sqlList = (words: readonly string[]) => `(${words.map((w) => `'${w}'`).join(',')})`;
const OPEN_STATES = sqlList(ALARM_STATES.filter(isOpenState));
const CLOSED_STATES = sqlList(ALARM_STATES.filter((s) => !isOpenState(s)));
const KIND_RANK = `CASE kind ${ALARM_KINDS.map((k, i) => `WHEN '${k}' THEN ${i}`).join(' ')} ELSE ${ALARM_KINDS.length} END`;
const IS_OPEN = `state IN ${OPEN_STATES}`;

const ORDER: Record<NonNullable<AlarmFilter['order']>, string> = {
  newest: 'raised_at DESC',
  loudest: `CASE WHEN ${IS_OPEN} THEN 0 ELSE 1 END, CASE WHEN ${IS_OPEN} THEN ${KIND_RANK} ELSE 0 END, raised_at DESC`,
};

/** `WHERE ...` (or '') and its arguments; `param(n)` writes the n-th (1-based) placeholder. */
function alarmWhere(f: AlarmFilter, param: (n: number) => string): { where: string; args: unknown[] } {
  const clauses: string[] = [];
  const args: unknown[] = [];
  if (f.open !== undefined) clauses.push(f.open ? IS_OPEN : `state IN ${CLOSED_STATES}`);
  for (const [column, value] of [
    ['worker_id', f.workerId],
    ['device_id', f.deviceId],
    ['kind', f.kind],
  ] as const) {
    if (!value) continue;
    args.push(value);
    clauses.push(`${column} = ${param(args.length)}`);
  }
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', args };
}

export function listAlarmsSql(f: AlarmFilter, param: (n: number) => string): { sql: string; args: unknown[] } {
  const { where, args } = alarmWhere(f, param);
  args.push(f.limit ?? 1000);
  return { sql: `SELECT * FROM alarms ${where} ORDER BY ${ORDER[f.order ?? 'newest']} LIMIT ${param(args.length)}`, args };
}

export function countAlarmsSql(f: AlarmFilter, param: (n: number) => string): { sql: string; args: unknown[] } {
  const { where, args } = alarmWhere(f, param);
  return { sql: `SELECT COUNT(*) AS n FROM alarms ${where}`, args };
}
