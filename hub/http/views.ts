/** Shapes the API returns, built from store records (never a worker's private fields). */
import type { StoreTx } from '../store/store.js';
import type { AlarmRecord, StoredTimelineEntry, VisitRecord, WorkerRecord } from '../store/store-types.js';
import { ALARM_KIND, alarmKindRank, type TimelineStepType } from '../../shared/vocabulary.js';
import { isOpen } from '../rules/escalation-engine.js';
import { pendingCallbackAt } from '../rules/callback-due.js';
import { summarise } from '../presentation/alarm-presentation.js';

const DAY = 24 * 3600_000;

/**
 * Office contacts who can be a worker's line manager (issue 15 item 13): the duty officer and the
 * director are other rungs of the ladder (R13), not a worker's manager.
 */
export const LINE_MANAGER_ROLES: readonly string[] = ['line_manager', 'head_of_service'];

/** The purple-file script (R4, policy 004), in the order the officer asks. */
export const SCRIPT_QUESTIONS = [
  { id: 'at_address', text: 'FIRST: check they are at the address on their calendar. "Are you at ...?" (the visit below)' },
  { id: 'in_danger', text: 'Are you in danger?' },
  { id: 'need_police', text: 'Do you need the police?' },
  { id: 'weapon', text: 'Is there a weapon?' },
  { id: 'need_staff', text: 'Do you need a member of staff?' },
  { id: 'call_back', text: 'Do you want me to call you back in 5 minutes?' },
] as const;
/** What the script says after the questions (policy 004, appendix B). */
export const SCRIPT_AFTER = ['If there is no answer, dial 999 and call the police.', 'After the call, update the relevant manager on the situation.'];
export const SCRIPT_IDS = SCRIPT_QUESTIONS.map((q) => q.id) as [string, ...string[]];
export const SCRIPT_ANSWERS = ['yes', 'no', 'no_answer'] as const;

export function compareAlarms(a: AlarmRecord, b: AlarmRecord): number {
  const openA = isOpen(a) ? 0 : 1;
  const openB = isOpen(b) ? 0 : 1;
  if (openA !== openB) return openA - openB;
  // Open alarms loudest first (shared/vocabulary.ts ALARM_KINDS order), then newest first.
  const rank = alarmKindRank(a.kind) - alarmKindRank(b.kind);
  if (openA === 0 && rank !== 0) return rank;
  return b.raisedAt - a.raisedAt;
}

export function alarmView(a: AlarmRecord, workerName: string | null) {
  return {
    id: a.id,
    kind: a.kind,
    kindLabel: ALARM_KIND[a.kind].label,
    state: a.state,
    open: isOpen(a),
    priority: a.priority,
    workerId: a.workerId,
    workerName,
    deviceId: a.deviceId,
    visitRef: a.visitRef,
    reason: a.reason,
    summary: summarise(a, workerName),
    raisedAt: a.raisedAt,
    acknowledgedAt: a.acknowledgedAt,
    acknowledgedBy: a.acknowledgedBy,
    closedAt: a.closedAt,
    closedBy: a.closedBy,
    outcome: a.outcome,
    workerCancelledAt: a.workerCancelledAt,
    drill: a.drill,
    /** Raised from an event more than 7 days old (by its age): it happened long before it arrived. */
    stale: a.stale === true,
    level: a.level,
    /** The ladder step the alarm is on, as the policy names it ("call the contact at the visit address"). */
    step: a.policy.levels[a.level]?.name ?? null,
    steps: a.policy.levels.length,
    /** SOS-style policies tell every level at once; the "next step" is then the ladder repeating. */
    allAtOnce: a.policy.mode === 'all_at_once',
    nextStepAt: a.nextStepAt,
    policy: a.policy.name,
    policeAt: a.policeAt,
    lastSightingAt: a.lastSightingAt,
  };
}

export function visitView(v: VisitRecord) {
  return {
    id: v.id,
    ref: v.ref,
    scheduledStart: v.scheduledStart,
    expectedEnd: v.expectedEnd,
    riskCategory: v.riskCategory,
    rag: v.rag,
    checkinIntervalMin: v.checkinIntervalMin,
    nextLocation: v.nextLocation,
    secondWorkerId: v.secondWorkerId,
    status: v.status,
    startedAt: v.startedAt,
    endedAt: v.endedAt,
    unplanned: v.unplanned,
    policyFlags: v.policyFlags,
    contactName: v.contactName,
    contactPhone: v.contactPhone,
  };
}

/** A worker without R22's private fields. */
export function workerPublic(w: WorkerRecord) {
  return { id: w.id, name: w.name, buddyId: w.buddyId, lineManagerId: w.lineManagerId, trainingDate: w.trainingDate, newStarter: w.newStarter };
}

export async function workerNames(tx: StoreTx): Promise<Map<string, string>> {
  return new Map((await tx.listWorkers()).map((w) => [w.id, w.name]));
}

/** The visit an alarm is about: the one running now, else the one named when it was raised. */
export async function currentVisit(tx: StoreTx, alarm: AlarmRecord, now: number): Promise<VisitRecord | null> {
  if (!alarm.workerId) return null;
  const st = await tx.getCheckinState(alarm.workerId);
  if (st?.activeVisitId && isOpen(alarm)) {
    const v = await tx.getVisit(st.activeVisitId);
    if (v) return v;
  }
  if (alarm.visitRef) {
    const visits = await tx.listVisits(alarm.workerId, Math.min(alarm.raisedAt, now) - DAY, Math.max(alarm.raisedAt, now) + DAY);
    return visits.find((v) => v.ref === alarm.visitRef) ?? null;
  }
  return null;
}

/** The latest recorded answer to each script question, from the timeline (which keeps every answer). */
export function scriptState(timeline: StoredTimelineEntry[]) {
  const latest = new Map<string, StoredTimelineEntry>();
  // Step types are the vocabulary's: a misspelt one is a compile error, not a script that never fills in.
  const is = (e: StoredTimelineEntry, type: TimelineStepType): boolean => e.type === type;
  for (const e of timeline) {
    if (is(e, 'script_answer') && typeof e.detail.question === 'string') latest.set(e.detail.question, e);
  }
  return {
    questions: SCRIPT_QUESTIONS.map((q) => {
      const e = latest.get(q.id);
      return { id: q.id, text: q.text, answer: (e?.detail.answer as string | undefined) ?? null, note: (e?.detail.note as string | undefined) ?? null, at: e?.at ?? null, by: e?.actor ?? null };
    }),
    callbackDueAt: pendingCallbackAt(timeline),
    after: SCRIPT_AFTER,
    noAnswer: [...latest.values()].some((e) => e.detail.answer === 'no_answer'),
  };
}

/**
 * The one formatter every local time is written with, made on first use. Making an
 * Intl.DateTimeFormat is expensive (ICU loads the locale's patterns and the zone's names: about 1 ms
 * of CPU each on the fuzz machine, against about 0.05 ms to format with one) and its ICU object lives
 * outside the JavaScript heap, so the collector does not see its size. A formatter per call, two per
 * CSV row, made one records export of a few thousand timeline rows hold the event loop for over 10 s
 * and took the hub's RSS from about 500 MB to 1 GB with a small heap: the fuzz harness's stall
 * (issue 17, docs/benchmarks.md "Fuzz and fault harness"). Its zone is the process's (TZ), fixed
 * for the life of the process, so one is the same as many.
 */
let stampFormat: Intl.DateTimeFormat | null = null;

function stampFormatter(): Intl.DateTimeFormat {
  stampFormat ??= new Intl.DateTimeFormat('en-GB', { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });
  return stampFormat;
}

/**
 * A time as the office reads it: "2026-11-23 09:00 GMT", in the hub's own time zone (the TZ it runs
 * with), for records people read (issue 15 item 15); the ISO column beside it stays exact.
 */
export function localStamp(ms: number | null): string | null {
  if (ms === null) return null;
  const parts = stampFormatter().formatToParts(new Date(ms));
  const p = (t: string) => parts.find((x) => x.type === t)?.value ?? '';
  return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')} ${p('timeZoneName')}`;
}

/** "taken after 2 min 5 s", "not taken", for records (response time, issue 15 item 15). */
export function responseWords(a: AlarmRecord): string {
  if (a.acknowledgedAt === null) return isOpen(a) ? 'not taken yet' : 'closed without being taken';
  const s = Math.max(0, Math.round((a.acknowledgedAt - a.raisedAt) / 1000));
  const d = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `taken after ${d}`;
}

export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  // Quote everything; neutralise spreadsheet formulas (a cell starting with = + - @).
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return `"${safe.replace(/"/g, '""')}"`;
}
