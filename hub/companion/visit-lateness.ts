/**
 * Whether a planned visit is late to start, as the worker's phone must say it (issue 15 item 6): a
 * visit past its scheduled start and not started is overdue; once the hub has raised the
 * missed-check-in ladder for it (rules.visit_start_grace_min after the start, policy 003 3a, R13)
 * the office has been told. The phone then offers "Start now" with those words instead of a plain
 * Start, so the worker knows the office is already looking for them. Pure.
 */
import type { AlarmRecord, VisitRecord } from '../store/store-types.js';
import type { CheckinState } from '../rules/checkin-engine.js';

export interface VisitLateness {
  /** The scheduled start that passed. */
  since: number;
  /** The worker's open missed-check-in alarm is for this visit not being started: the office has been told. */
  officeTold: boolean;
}

export function visitLateness(v: VisitRecord, now: number, state: CheckinState | null, openAlarms: readonly AlarmRecord[]): VisitLateness | null {
  if (v.status !== 'planned' || v.scheduledStart > now) return null;
  // The check-in engine says what the overdue item is (due: visit_not_started for this visit) and the
  // runtime which alarm it raised for it (missedAlarmId); the alarm must still be open.
  const chased = state?.due?.reason === 'visit_not_started' && state.due.visitId === v.id;
  const officeTold = chased && state.missedAlarmId !== null && openAlarms.some((a) => a.id === state.missedAlarmId);
  return { since: v.scheduledStart, officeTold };
}
