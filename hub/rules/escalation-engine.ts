/**
 * The alarm lifecycle and escalation ladder, as a pure function of (alarm, input, now).
 *
 * raised -> notifying -> acknowledged -> resolved; or cancelled (worker or officer); or exhausted
 * (the whole ladder ran with nobody acknowledging; it stays open for an officer to take). The first
 * acknowledgement wins. Every transition appends to the timeline; nothing is overwritten. The
 * runtime persists the returned alarm, timeline and effects in one transaction and arms a timer for
 * `nextWakeAt(alarm)`.
 */
import type { AlarmOutcome, AlarmRecord, TimelineEntry } from '../store/store-types.js';
import type { Channel, Target } from './escalation-policy.js';
import { isOpenState } from '../../shared/vocabulary.js';

const MINUTE = 60_000;

export type EscalationInput =
  | { type: 'start' }
  | { type: 'tick' }
  | { type: 'acknowledge'; by: string }
  /**
   * Close the alarm. `authority` says on what right (issue 15 item 10): 'taker' is the officer who
   * took the alarm (or anyone while nobody has); 'override' an admin or manager closing an alarm
   * someone else has taken, on the record as an override; 'system' the hub or the worker's own
   * contact closing it (a check-in, the fob heard again). An officer's close carries an outcome.
   */
  | { type: 'resolve'; by: string; note?: string; outcome?: AlarmOutcome; authority?: 'taker' | 'override' | 'system' }
  /** An officer's cancel is a close too: the same taker rule as resolve (`authority`, default 'system'). */
  | { type: 'cancel'; by: string; source: 'fob' | 'officer' | 'worker'; reason?: string; authority?: 'taker' | 'override' | 'system' }
  /** Every channel failed for someone on this level: climb now instead of waiting. */
  | { type: 'undeliverable'; level: number; recipientId: string };

export type NotifyReason = 'raised' | 'escalated' | 'repeat' | 're_alert' | 'police' | 'exhausted';

export type EscalationEffect =
  | {
      type: 'notify';
      alarmId: string;
      level: number;
      levelName: string;
      targets: Target[];
      channels: Channel[];
      reason: NotifyReason;
      /**
       * Which rung this is (round, reason and when it fell due): the same when the effect is re-run
       * after a crash, different at every genuine repeat, so notice ids derived from it dedupe.
       * Absent on effects stored by an older hub.
       */
      step?: string;
    }
  | { type: 'fob_command'; alarmId: string; command: 'hc' | 'stop' | 'clr' }
  /** The alarm's state changed: publish it on lw/alerts/<id> and to live dashboards. */
  | { type: 'alarm_changed'; alarmId: string };

export interface EscalationResult {
  alarm: AlarmRecord;
  timeline: TimelineEntry[];
  effects: EscalationEffect[];
  /** Set when the input was refused (e.g. a second acknowledgement); the refusal is in the timeline. */
  rejected?: string;
}

/** Alarms where a cancel from the fob may be forced (duress): they wait for a call-back (item 11). */
export function needsCallbackOnCancel(alarm: Pick<AlarmRecord, 'kind'>): boolean {
  return alarm.kind === 'sos' || alarm.kind === 'covert_sos' || alarm.kind === 'man_down';
}

export function isOpen(alarm: Pick<AlarmRecord, 'state'>): boolean {
  return isOpenState(alarm.state);
}

/** When the runtime must call back with a tick, or null when nothing is pending. */
export function nextWakeAt(alarm: AlarmRecord): number | null {
  if (!isOpen(alarm)) return null;
  let next: number | null = null;
  for (const t of [alarm.nextStepAt, alarm.reAlertAt, alarm.policeAt]) {
    if (t !== null && (next === null || t < next)) next = t;
  }
  return next;
}

export function stepEscalation(current: AlarmRecord, input: EscalationInput, now: number): EscalationResult {
  const alarm: AlarmRecord = { ...current };
  const timeline: TimelineEntry[] = [];
  const effects: EscalationEffect[] = [];
  const policy = alarm.policy;
  const fromFob = alarm.sourceEventId !== null && alarm.deviceId !== null;

  const record = (type: string, actor: string, detail: Record<string, unknown> = {}): void => {
    timeline.push({ at: now, type, actor, detail });
  };
  const stepOf = (reason: NotifyReason, dueAt: number): string => `r${alarm.round}-${reason}-${dueAt.toString(36)}`;
  const notifyLevel = (level: number, reason: NotifyReason, dueAt: number): void => {
    const l = policy.levels[level];
    effects.push({ type: 'notify', alarmId: alarm.id, level, levelName: l.name, targets: l.targets, channels: l.channels, reason, step: stepOf(reason, dueAt) });
    record('notify', 'hub', { level, name: l.name, targets: l.targets, channels: l.channels, reason, dueAt });
  };
  const notifySenior = (reason: NotifyReason, dueAt: number): void => {
    const channels: Channel[] = ['dashboard', 'email', 'webhook', 'arc'];
    effects.push({ type: 'notify', alarmId: alarm.id, level: alarm.level, levelName: reason, targets: policy.seniorTargets, channels, reason, step: stepOf(reason, dueAt) });
    record('notify', 'hub', { level: alarm.level, name: reason, targets: policy.seniorTargets, channels, reason, dueAt });
  };
  const changed = (): void => {
    effects.push({ type: 'alarm_changed', alarmId: alarm.id });
  };
  const refuse = (why: string, actor: string): EscalationResult => {
    record('refused', actor, { input: input.type, why });
    return { alarm: current, timeline, effects: [], rejected: why };
  };

  switch (input.type) {
    case 'start': {
      if (alarm.state !== 'raised') return refuse(`alarm is already ${alarm.state}`, 'hub');
      alarm.state = 'notifying';
      alarm.level = 0;
      alarm.round = 0;
      if (policy.mode === 'all_at_once') {
        for (let i = 0; i < policy.levels.length; i++) notifyLevel(i, 'raised', now);
        alarm.level = policy.levels.length - 1;
      } else {
        notifyLevel(0, 'raised', now);
      }
      alarm.nextStepAt = now + policy.levels[0].delayMin * MINUTE;
      if (policy.policeAfterSightingMin !== null) {
        alarm.policeAt = (alarm.lastSightingAt ?? alarm.raisedAt) + policy.policeAfterSightingMin * MINUTE;
      }
      changed();
      break;
    }
    case 'tick': {
      if (!isOpen(alarm)) break;
      // Everything that fell due (also while the hub was down) fires now, once each, in time order.
      for (let guard = 0; guard < 10_000; guard++) {
        const due = nextWakeAt(alarm);
        if (due === null || due > now) break;
        if (due === alarm.policeAt) {
          alarm.policeAt = null;
          record('police_advised', 'hub', {
            dueAt: due,
            lastSightingAt: alarm.lastSightingAt,
            advice: 'No contact since the last confirmed sighting: call 999 and inform the Duty Officer, Head of Service and Director.',
          });
          notifySenior('police', due);
        } else if (due === alarm.reAlertAt) {
          record('re_alert', 'hub', { dueAt: due, acknowledgedBy: alarm.acknowledgedBy, why: 'acknowledged but not resolved' });
          notifyLevel(0, 're_alert', due);
          alarm.reAlertAt = due + policy.reAlertAfterAckMin * MINUTE;
        } else {
          climb(due);
        }
      }
      changed();
      break;
    }
    case 'undeliverable': {
      if (alarm.state !== 'notifying' || input.level !== alarm.level || policy.mode !== 'step') break;
      record('undeliverable', 'hub', { level: input.level, recipientId: input.recipientId, action: 'climb now' });
      climb(now);
      changed();
      break;
    }
    case 'acknowledge': {
      if (alarm.state === 'acknowledged') {
        return refuse(`already acknowledged by ${alarm.acknowledgedBy}`, input.by);
      }
      if (!isOpen(alarm)) return refuse(`alarm is ${alarm.state}`, input.by);
      alarm.state = 'acknowledged';
      alarm.acknowledgedAt = now;
      alarm.acknowledgedBy = input.by;
      alarm.nextStepAt = null;
      alarm.reAlertAt = now + policy.reAlertAfterAckMin * MINUTE;
      record('acknowledged', input.by);
      // A discreet haptic pulse: safe even in a covert alarm, never a sound.
      if (fromFob) effects.push({ type: 'fob_command', alarmId: alarm.id, command: 'hc' });
      changed();
      break;
    }
    case 'resolve': {
      if (!isOpen(alarm)) return refuse(`alarm is ${alarm.state}`, input.by);
      const authority = input.authority ?? 'system';
      const takenBySomeoneElse = alarm.state === 'acknowledged' && alarm.acknowledgedBy !== null && alarm.acknowledgedBy !== input.by;
      if (authority === 'taker' && takenBySomeoneElse) {
        return refuse(`${alarm.acknowledgedBy} has taken this alarm: only they may close it, or an admin or manager overriding on the record`, input.by);
      }
      if (alarm.state !== 'acknowledged') {
        alarm.acknowledgedAt = now;
        alarm.acknowledgedBy = input.by;
        record('acknowledged', input.by, { implicit: true });
      }
      close('resolved', input.by);
      alarm.outcome = input.outcome ?? null;
      record('resolved', input.by, {
        ...(input.outcome ? { outcome: input.outcome } : {}),
        ...(input.note ? { note: input.note } : {}),
        ...(authority === 'override' && takenBySomeoneElse ? { override: true, takenBy: current.acknowledgedBy } : {}),
        ...(current.workerCancelledAt !== null ? { workerCancelledAt: current.workerCancelledAt } : {}),
      });
      changed();
      break;
    }
    case 'cancel': {
      if (!isOpen(alarm)) return refuse(`alarm is ${alarm.state}`, input.by);
      if (input.source === 'fob' && needsCallbackOnCancel(alarm)) {
        // A cancel can be forced under duress: the alarm stays open, and on the board, until an
        // officer has called the worker back and closes it with an outcome (issue 15 item 11). The
        // fob is still told to stand down, so that whoever forced the cancel sees it obeyed.
        if (alarm.workerCancelledAt !== null) return refuse('the worker already cancelled this alarm: call them back to confirm', input.by);
        alarm.workerCancelledAt = now;
        record('worker_cancelled', input.by, { source: 'fob', reason: input.reason ?? 'cancelled by the worker', next: 'call the worker back to confirm they are safe, then close the alarm with the outcome' });
        if (fromFob) {
          if (alarm.kind === 'sos') effects.push({ type: 'fob_command', alarmId: alarm.id, command: 'stop' });
          effects.push({ type: 'fob_command', alarmId: alarm.id, command: 'clr' });
        }
        changed();
        break;
      }
      const takenByOther = alarm.state === 'acknowledged' && alarm.acknowledgedBy !== null && alarm.acknowledgedBy !== input.by;
      if (input.authority === 'taker' && takenByOther) {
        return refuse(`${alarm.acknowledgedBy} has taken this alarm: only they may close it, or an admin or manager overriding on the record`, input.by);
      }
      close('cancelled', input.by);
      alarm.outcome = input.source === 'officer' ? 'false_alarm' : null;
      record('cancelled', input.by, {
        source: input.source,
        reason: input.reason ?? 'false alarm',
        ...(input.authority === 'override' && takenByOther ? { override: true, takenBy: current.acknowledgedBy } : {}),
      });
      changed();
      break;
    }
  }
  return { alarm, timeline, effects };

  function close(state: 'resolved' | 'cancelled', by: string): void {
    alarm.state = state;
    alarm.closedAt = now;
    alarm.closedBy = by;
    alarm.nextStepAt = null;
    alarm.reAlertAt = null;
    alarm.policeAt = null;
    if (fromFob) {
      if (alarm.kind === 'sos') effects.push({ type: 'fob_command', alarmId: alarm.id, command: 'stop' });
      effects.push({ type: 'fob_command', alarmId: alarm.id, command: 'clr' });
    }
  }

  /** One rung: next level, or the next round, or exhausted. `due` is when this rung was due. */
  function climb(due: number): void {
    if (alarm.state !== 'notifying') {
      alarm.nextStepAt = null;
      return;
    }
    if (policy.mode === 'step' && alarm.level + 1 < policy.levels.length) {
      alarm.level += 1;
      record('escalated', 'hub', { level: alarm.level, name: policy.levels[alarm.level].name, dueAt: due });
      notifyLevel(alarm.level, 'escalated', due);
      alarm.nextStepAt = due + policy.levels[alarm.level].delayMin * MINUTE;
    } else if (alarm.round < policy.repeat) {
      alarm.round += 1;
      record('repeated', 'hub', { round: alarm.round, of: policy.repeat, dueAt: due });
      if (policy.mode === 'all_at_once') {
        for (let i = 0; i < policy.levels.length; i++) notifyLevel(i, 'repeat', due);
      } else {
        alarm.level = 0;
        notifyLevel(0, 'repeat', due);
      }
      alarm.nextStepAt = due + policy.levels[0].delayMin * MINUTE;
    } else {
      alarm.state = 'exhausted';
      alarm.nextStepAt = null;
      record('exhausted', 'hub', { dueAt: due, rounds: alarm.round + 1, why: 'nobody acknowledged the whole ladder' });
      notifySenior('exhausted', due);
    }
  }
}
