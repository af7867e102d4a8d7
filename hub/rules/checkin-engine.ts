/**
 * A worker's day: visits, check-ins, extensions, end of shift, and the last confirmed sighting (R7,
 * R10-R14), as a pure function of (state, visits, input, now).
 *
 * When something is due (a half-hourly check-in on a higher-risk visit, the expected end of a visit,
 * the end-of-shift report after the final visit) the fob is prompted first; if the worker has not
 * answered within the grace period a missed-check-in alarm is raised and its escalation ladder runs.
 * Contact from the worker (check-in, visit end, end of shift) closes that alarm, on the record.
 */
import type { Sighting, VisitRecord } from '../store/store-types.js';

const MINUTE = 60_000;

export interface CheckinRules {
  /** Minutes the worker has to answer a prompt before the missed-check-in alarm is raised. */
  graceMin: number;
  /** Minutes after the final visit ends by which the end-of-shift report is expected (R12). */
  endOfShiftAfterMin: number;
  /**
   * Minutes after a planned visit's scheduled start by which it must have been started; then the
   * missed-check-in ladder runs for it (issue 15 item 6: policy 003 3a "the scheduled time of
   * entering the address" and R13 "at the expected time the office tries the worker"). Null: off.
   */
  startGraceMin: number | null;
  /**
   * Minutes until the next check-in is due after the worker (or an officer's close of the alarm) has
   * answered an overdue visit end, a missed start or a missing end-of-shift report without changing
   * it (issue 15 item 12): the overdue state is cleared, and asked again this much later. A visit
   * with its own check-in interval uses that instead.
   */
  overdueRecheckMin: number;
}

export type DueReason = 'checkin' | 'visit_end' | 'end_of_shift' | 'visit_not_started';

export interface CheckinState {
  workerId: string;
  onShift: boolean;
  activeVisitId: string | null;
  lastCheckInAt: number | null;
  due: { at: number; reason: DueReason; visitId: string | null } | null;
  promptedAt: number | null;
  /** The open missed-check-in alarm, if any (set by the runtime when it raises it). */
  missedAlarmId: string | null;
  lastSighting: Sighting | null;
  shiftEndedAt: number | null;
  /**
   * When an officer last closed this worker's missed-check-in alarm (a call-back found them safe):
   * like a check-in it answers what was overdue. Absent in states stored by an older hub.
   */
  clearedAt?: number | null;
}

export type CheckinInput =
  | { type: 'visit_start'; ref?: string; source: string }
  | { type: 'visit_end'; ref?: string; source: string }
  | { type: 'checkin'; source: string; prompted?: boolean }
  | { type: 'extend'; minutes: number; source: string }
  | { type: 'end_of_shift'; source: string }
  /** Evidence the worker is safe without being a check-in: a heartbeat from a worn fob (R14). */
  | { type: 'sighting'; kind: string; at: number }
  /** Visits were added, edited or removed: recompute what is due. */
  | { type: 'itinerary_changed' }
  /** An officer (or the hub) closed the worker's missed-check-in alarm: the overdue item is answered. */
  | { type: 'alarm_closed'; alarmId: string }
  | { type: 'tick' };

export type CheckinEffect =
  | { type: 'prompt'; workerId: string; seconds: number; reason: DueReason; visitId: string | null }
  | { type: 'raise_missed'; workerId: string; reason: DueReason; visitId: string | null; summary: string; lastSightingAt: number | null }
  | { type: 'close_missed'; workerId: string; alarmId: string; why: string }
  | { type: 'log'; workerId: string; event: string; detail: Record<string, unknown> };

export interface VisitChange {
  id: string;
  changes: Partial<Pick<VisitRecord, 'status' | 'startedAt' | 'endedAt' | 'expectedEnd'>>;
}

export interface CheckinResult {
  state: CheckinState;
  visitChanges: VisitChange[];
  effects: CheckinEffect[];
  /** When the runtime must call back with a tick; null when nothing is due. */
  nextWakeAt: number | null;
  /** The input made no sense (e.g. extend with no visit running); recorded, state unchanged otherwise. */
  warning?: string;
}

export function initialCheckinState(workerId: string): CheckinState {
  return {
    workerId,
    onShift: false,
    activeVisitId: null,
    lastCheckInAt: null,
    due: null,
    promptedAt: null,
    missedAlarmId: null,
    lastSighting: null,
    shiftEndedAt: null,
    clearedAt: null,
  };
}

export function stepCheckin(
  current: CheckinState,
  visitsIn: VisitRecord[],
  input: CheckinInput,
  now: number,
  rules: CheckinRules,
): CheckinResult {
  const state: CheckinState = { ...current };
  const visits = visitsIn.map((v) => ({ ...v }));
  const visitChanges: VisitChange[] = [];
  const effects: CheckinEffect[] = [];
  let warning: string | undefined;
  const workerId = state.workerId;

  const change = (v: VisitRecord, changes: VisitChange['changes']): void => {
    Object.assign(v, changes);
    visitChanges.push({ id: v.id, changes });
  };
  const active = (): VisitRecord | undefined => visits.find((v) => v.id === state.activeVisitId && v.status === 'active');
  const place = (): string | null => {
    const a = active();
    if (a) return a.ref;
    const lastEnded = visits.filter((v) => v.status === 'ended').sort((x, y) => (y.endedAt ?? 0) - (x.endedAt ?? 0))[0];
    return lastEnded ? (lastEnded.nextLocation ?? `after ${lastEnded.ref}`) : null;
  };
  const sighted = (kind: string, at = now): void => {
    if (!state.lastSighting || at >= state.lastSighting.at) state.lastSighting = { at, kind, place: place() };
  };
  /** The worker made contact: whatever was due is answered, and an open missed alarm is closed. */
  const contact = (kind: string): void => {
    state.lastCheckInAt = now;
    state.promptedAt = null;
    if (state.missedAlarmId) {
      effects.push({ type: 'close_missed', workerId, alarmId: state.missedAlarmId, why: `worker made contact (${kind})` });
      state.missedAlarmId = null;
    }
  };

  switch (input.type) {
    case 'visit_start': {
      const planned = visits
        .filter((v) => v.status === 'planned' && (!input.ref || v.ref === input.ref))
        .sort((a, b) => a.scheduledStart - b.scheduledStart);
      const current = active();
      if (current) {
        // Starting the next visit ends the current one: the worker is plainly safe and moving on.
        change(current, { status: 'ended', endedAt: now });
      }
      state.onShift = true;
      state.shiftEndedAt = null;
      if (planned.length === 0) {
        warning = input.ref ? `no planned visit ${input.ref}` : 'no planned visit to start: unplanned visits must be recorded first (R7)';
        state.activeVisitId = null;
      } else {
        change(planned[0], { status: 'active', startedAt: now });
        state.activeVisitId = planned[0].id;
      }
      contact('visit start');
      sighted('visit start');
      break;
    }
    case 'visit_end': {
      const a = active();
      if (!a || (input.ref && a.ref !== input.ref)) {
        warning = input.ref ? `visit ${input.ref} is not running` : 'no visit running';
      } else {
        change(a, { status: 'ended', endedAt: now });
      }
      state.activeVisitId = null;
      state.onShift = true;
      contact('visit end');
      sighted('visit end');
      break;
    }
    case 'checkin': {
      contact(input.prompted ? 'check-in (prompted)' : 'check-in');
      sighted('check-in');
      break;
    }
    case 'extend': {
      const a = active();
      if (!a) {
        warning = 'no visit running to extend';
      } else {
        const from = Math.max(a.expectedEnd, now);
        change(a, { expectedEnd: from + input.minutes * MINUTE });
        effects.push({ type: 'log', workerId, event: 'visit_extended', detail: { visit: a.ref, minutes: input.minutes, expectedEnd: a.expectedEnd } });
      }
      contact('extend');
      sighted('extend');
      break;
    }
    case 'end_of_shift': {
      const a = active();
      if (a) change(a, { status: 'ended', endedAt: now });
      state.activeVisitId = null;
      contact('end of shift');
      sighted('end of shift');
      state.onShift = false;
      state.shiftEndedAt = now;
      break;
    }
    case 'sighting': {
      sighted(input.kind, input.at);
      break;
    }
    case 'alarm_closed': {
      if (state.missedAlarmId === input.alarmId) state.missedAlarmId = null;
      state.clearedAt = now;
      state.promptedAt = null;
      break;
    }
    case 'itinerary_changed':
    case 'tick':
      break;
  }

  // What is due now, given the (possibly changed) visits.
  const wasDue = state.due;
  state.due = computeDue(state, visits, rules);
  if (!sameDue(wasDue, state.due)) state.promptedAt = null;

  let nextWakeAt: number | null = null;
  if (state.due && !state.missedAlarmId) {
    const due = state.due;
    if (now >= due.at && state.promptedAt === null) {
      state.promptedAt = now;
      effects.push({ type: 'prompt', workerId, seconds: rules.graceMin * 60, reason: due.reason, visitId: due.visitId });
    }
    if (state.promptedAt !== null && now >= state.promptedAt + rules.graceMin * MINUTE) {
      const visit = visits.find((v) => v.id === due.visitId);
      effects.push({
        type: 'raise_missed',
        workerId,
        reason: due.reason,
        visitId: due.visitId,
        summary: describeMissed(due.reason, visit),
        lastSightingAt: state.lastSighting ? state.lastSighting.at : null,
      });
      // The ladder takes over; nothing more is due until the worker makes contact.
      nextWakeAt = null;
    } else {
      nextWakeAt = state.promptedAt !== null ? state.promptedAt + rules.graceMin * MINUTE : due.at;
    }
  }
  return { state, visitChanges, effects, nextWakeAt, ...(warning ? { warning } : {}) };
}

function computeDue(state: CheckinState, visits: VisitRecord[], rules: CheckinRules): CheckinState['due'] {
  // The latest answer from the worker or an officer: an overdue item answered since it fell due is
  // asked again `overdueRecheckMin` later (or at the visit's own interval), not at once (item 12).
  const answeredAt = Math.max(state.lastCheckInAt ?? -Infinity, state.clearedAt ?? -Infinity);
  const unlessAnswered = (due: NonNullable<CheckinState['due']>, intervalMin: number | null): NonNullable<CheckinState['due']> =>
    answeredAt >= due.at ? { ...due, at: answeredAt + (intervalMin ?? rules.overdueRecheckMin) * MINUTE } : due;
  const a = visits.find((v) => v.id === state.activeVisitId && v.status === 'active');
  if (a) {
    let due: NonNullable<CheckinState['due']> = unlessAnswered({ at: a.expectedEnd, reason: 'visit_end', visitId: a.id }, a.checkinIntervalMin);
    if (a.checkinIntervalMin) {
      const since = Math.max(state.lastCheckInAt ?? 0, a.startedAt ?? 0);
      const checkinAt = since + a.checkinIntervalMin * MINUTE;
      if (checkinAt < due.at) due = { at: checkinAt, reason: 'checkin', visitId: a.id };
    }
    return due;
  }
  // A planned visit not started by its scheduled start plus the grace (item 6). Visits planned before
  // an end-of-shift report are not chased: the worker has reported the day done.
  if (rules.startGraceMin !== null) {
    const next = visits
      .filter((v) => v.status === 'planned' && (state.shiftEndedAt === null || v.scheduledStart > state.shiftEndedAt))
      .sort((x, y) => x.scheduledStart - y.scheduledStart)[0];
    if (next) return unlessAnswered({ at: next.scheduledStart + rules.startGraceMin * MINUTE, reason: 'visit_not_started', visitId: next.id }, null);
  }
  if (!state.onShift) return null;
  const remaining = visits.some((v) => v.status === 'planned');
  if (remaining) return null;
  // Final visit done and no end-of-shift report yet (R12; R13's 90-minute rule is the outer limit).
  const ended = visits.filter((v) => v.status === 'ended').map((v) => v.endedAt ?? 0);
  const lastEnd = ended.length > 0 ? Math.max(...ended) : (state.lastCheckInAt ?? 0);
  const lastVisit = visits.filter((v) => v.status === 'ended').sort((x, y) => (y.endedAt ?? 0) - (x.endedAt ?? 0))[0];
  return unlessAnswered({ at: lastEnd + rules.endOfShiftAfterMin * MINUTE, reason: 'end_of_shift', visitId: lastVisit ? lastVisit.id : null }, null);
}

function sameDue(a: CheckinState['due'], b: CheckinState['due']): boolean {
  if (a === null || b === null) return a === b;
  return a.at === b.at && a.reason === b.reason && a.visitId === b.visitId;
}

function describeMissed(reason: DueReason, visit: VisitRecord | undefined): string {
  const ref = visit ? ` (visit ${visit.ref})` : '';
  switch (reason) {
    case 'checkin':
      return `Missed check-in${ref}`;
    case 'visit_end':
      return `Visit overdue: not ended by its expected time${ref}`;
    case 'end_of_shift':
      return `No end-of-shift report after the final visit${ref}`;
    case 'visit_not_started':
      return `Visit not started: its scheduled start has passed and the worker has not said they are there${ref}`;
  }
}
