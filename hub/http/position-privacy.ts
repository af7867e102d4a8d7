/**
 * R22 for positions (issue 20): where a worker is, is private. Shown only to the roles that need it,
 * only while they need it, and every view and every refusal is in the audit log (`position.view`,
 * `position.refused`), like the other private details (privacy.ts).
 *
 * | asked for                         | admin    | duty officer                                      | manager                         |
 * | --------------------------------- | -------- | ------------------------------------------------- | ------------------------------- |
 * | an alarm's positions              | any time | while that alarm is open                          | while that alarm is open        |
 * | a worker's latest position        | any time | during the worker's shift, or an open alarm of    | only during an open alarm of    |
 * |                                   |          | theirs (SOS, covert, man-down, missed check-in)   | theirs                          |
 *
 * Why: the duty officer watches the shift (R13's ladder starts with them) and handles the alarm; a
 * manager needs to know where their worker is only when something is wrong (docs/dashboard.md, the
 * roles table: a manager's any-time view is the phone and emergency contacts, never a whereabouts);
 * the admin keeps the records (R19, R20). A closed alarm's track is part of its record: for an admin.
 */
import type { Principal } from './auth.js';

export interface PositionContext {
  /** What is asked: an alarm's track, or the worker's latest. */
  scope: 'alarm' | 'worker';
  /** scope alarm: that alarm is open; scope worker: the worker has an open alarm about their safety. */
  alarmOpen: boolean;
  /** The worker is on shift (checked in or on a visit, end of shift not yet reported). */
  onShift: boolean;
}

export type PositionDecision = { allowed: true; because: string } | { allowed: false; reason: string };

/** Pure: may this role see this position now? The reason is the 403's words. */
export function decidePositionView(role: Principal['role'], c: PositionContext): PositionDecision {
  if (role === 'admin') return { allowed: true, because: 'admin' };
  if (role === 'duty_officer') {
    if (c.alarmOpen) return { allowed: true, because: 'open alarm' };
    if (c.scope === 'worker' && c.onShift) return { allowed: true, because: 'on shift' };
    return {
      allowed: false,
      reason:
        c.scope === 'alarm'
          ? "a duty officer sees an alarm's positions only while it is open; a closed alarm's track is on the record, for an admin"
          : "a duty officer sees a worker's position only during their shift or an open alarm, and this worker has neither now",
    };
  }
  if (role === 'manager') {
    if (c.alarmOpen) return { allowed: true, because: 'open alarm' };
    return {
      allowed: false,
      reason: c.scope === 'alarm' ? "a manager sees an alarm's positions only while it is open" : "a manager sees a worker's position only during an open alarm of that worker",
    };
  }
  return { allowed: false, reason: 'a worker account cannot see positions on the dashboard' };
}
