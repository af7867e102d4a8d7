/**
 * How an alarm reads to people and to service accounts, from the one vocabulary
 * (`shared/vocabulary.ts` `ALARM_KIND`): the one-line summary (dashboard, lw/alerts, notices) and the
 * alert message published on `lw/alerts/<alarmId>` (docs/protocol.md). Pure: the caller reads the
 * alarm, its worker and its latest position, and passes the time.
 */
import type { AlertMessage } from '../../shared/protocol-schemas.js';
import { PROTOCOL_VERSION } from '../../shared/protocol-core.js';
import { ALARM_KIND } from '../../shared/vocabulary.js';
import type { AlarmRecord, PositionRecord } from '../store/store-types.js';
import type { EscalationEffect } from '../rules/escalation-engine.js';
import { alertPosition } from '../notifiers/position-text.js';

/** Alert summaries are bounded (protocol LIMITS: the alert's `summary` is at most 512 characters). */
const SUMMARY_MAX = 512;

/** "DRILL: COVERT SOS from Sam Carter (visit V1): held the button": the kind's summaryLabel first. */
export function summarise(alarm: Pick<AlarmRecord, 'kind' | 'workerId' | 'deviceId' | 'visitRef' | 'drill' | 'reason'>, workerName: string | null): string {
  const who = workerName ?? alarm.workerId ?? alarm.deviceId ?? 'unknown worker';
  const where = alarm.visitRef ? ` (visit ${alarm.visitRef})` : '';
  const drill = alarm.drill ? 'DRILL: ' : '';
  return `${drill}${ALARM_KIND[alarm.kind].summaryLabel} from ${who}${where}: ${alarm.reason}`.slice(0, SUMMARY_MAX);
}

export interface AlertFacts {
  alarm: AlarmRecord;
  workerName: string | null;
  /** The latest known position while the alarm is open (issue 20, R22), else null. */
  position: PositionRecord | null;
  /** The ladder rung being told (its level and targets), or null for a state change. */
  step: Extract<EscalationEffect, { type: 'notify' }> | null;
  now: number;
}

/** The lw/alerts message for an alarm: what service accounts and the notifiers are told. */
export function alertMessage({ alarm, workerName, position, step, now }: AlertFacts): AlertMessage {
  return {
    v: PROTOCOL_VERSION,
    alarmId: alarm.id,
    kind: alarm.kind,
    state: alarm.state,
    priority: alarm.priority,
    deviceId: alarm.deviceId,
    workerId: alarm.workerId,
    workerName,
    visitRef: alarm.visitRef,
    level: step ? step.level : alarm.level,
    targets: step ? step.targets : [],
    raisedAt: new Date(alarm.raisedAt).toISOString(),
    at: new Date(now).toISOString(),
    drill: alarm.drill,
    summary: summarise(alarm, workerName),
    outcome: alarm.outcome,
    position: position ? alertPosition(position) : null,
  };
}
