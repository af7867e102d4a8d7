/** Shapes the API returns, built from store records (never a worker's private fields). */
import type { StoreTx } from '../store/store.js';
import type { AlarmRecord, StoredTimelineEntry, VisitRecord, WorkerRecord } from '../store/store-types.js';
import { ALARM_KIND, alarmKindRank, type TimelineStepType } from '../../shared/vocabulary.js';
import { isOpen } from '../rules/escalation-engine.js';
import { summarise } from '../rules/rules-runtime.js';

const DAY = 24 * 3600_000;

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
  let callbackDueAt: number | null = null;
  // Step types are the vocabulary's: a misspelt one is a compile error, not a script that never fills in.
  const is = (e: StoredTimelineEntry, type: TimelineStepType): boolean => e.type === type;
  for (const e of timeline) {
    if (is(e, 'script_answer') && typeof e.detail.question === 'string') latest.set(e.detail.question, e);
    if (is(e, 'callback_scheduled') && typeof e.detail.dueAt === 'number') callbackDueAt = e.detail.dueAt;
    if (is(e, 'callback_done')) callbackDueAt = null;
  }
  return {
    questions: SCRIPT_QUESTIONS.map((q) => {
      const e = latest.get(q.id);
      return { id: q.id, text: q.text, answer: (e?.detail.answer as string | undefined) ?? null, note: (e?.detail.note as string | undefined) ?? null, at: e?.at ?? null, by: e?.actor ?? null };
    }),
    callbackDueAt,
    after: SCRIPT_AFTER,
    noAnswer: [...latest.values()].some((e) => e.detail.answer === 'no_answer'),
  };
}

export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  // Quote everything; neutralise spreadsheet formulas (a cell starting with = + - @).
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return `"${safe.replace(/"/g, '""')}"`;
}
