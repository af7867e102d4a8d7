/**
 * How the engines' steps compose (issue 18): pure functions that take one engine's output and return
 * everything the runtime must do across engines: the state to store (with the ids of the alarms it
 * raised), the alarms to raise, the alarm steps to take, the effects and the log lines. No I/O, no
 * clock, no ids of its own: the runtime reads what they need, mints the alarm ids first, and
 * persists the plan in one transaction.
 *
 *   check-in engine  -> composeCheckinStep -> raise a missed-check-in alarm (R13), close it on contact
 *   device health    -> composeDeviceHealthStep -> raise low battery / device silent (R16), close them
 *   escalation       -> followOnOfAlarmStep -> an officer's close of a missed-check-in alarm answers
 *                       the worker's overdue item (issue 15 item 12)
 */
import type { AlarmKind, AlarmRecord, DeviceRecord } from '../store/store-types.js';
import type { CheckinInput, CheckinResult, CheckinState, VisitChange } from './checkin-engine.js';
import type { DeviceHealthResult, DeviceHealthState } from './device-health-engine.js';
import { isOpen, type EscalationInput } from './escalation-engine.js';
import { isDrillDevice, isDrillWorker } from './drill.js';
import type { RuntimeEffect } from './unit-of-work.js';

/** An alarm the rules raise (not a fob event): its id minted by the runtime beforehand. */
export interface RaiseSpec {
  id: string;
  kind: AlarmKind;
  workerId: string | null;
  deviceId: string | null;
  reason: string;
  /** Absent: from the device (isDrillDevice). A missed check-in's is the worker's (no event raised it). */
  drill?: boolean;
}

/** An escalation step on another alarm, taken if that alarm is still open when the runtime reads it. */
export interface AlarmStep {
  alarmId: string;
  input: EscalationInput;
}

export interface CheckinPlan {
  state: CheckinState;
  wakeAt: number | null;
  visitChanges: VisitChange[];
  /** Raised before the state is stored (the alarm records the visit and sighting as they stood). */
  raise: RaiseSpec | null;
  /** Taken after the state is stored, which no longer points at them (so no follow-on is due). */
  alarmSteps: AlarmStep[];
  effects: RuntimeEffect[];
  logs: { event: string; detail: Record<string, unknown> }[];
  warning: string | null;
}

export interface CheckinContext {
  /** The id the missed-check-in alarm gets if this step raises one. */
  newAlarmId: string;
  /** Devices of the hub (read only when the step raises an alarm: it shows the worker's own fob). */
  devices: readonly Pick<DeviceRecord, 'id' | 'workerId' | 'revokedAt'>[];
}

/** Whether the check-in step raises an alarm, so the runtime knows to read the devices and mint an id. */
export function checkinRaises(result: CheckinResult): boolean {
  return result.effects.some((e) => e.type === 'raise_missed');
}

export function composeCheckinStep(result: CheckinResult, ctx: CheckinContext): CheckinPlan {
  const workerId = result.state.workerId;
  const state: CheckinState = { ...result.state };
  const plan: CheckinPlan = { state, wakeAt: result.nextWakeAt, visitChanges: result.visitChanges, raise: null, alarmSteps: [], effects: [], logs: [], warning: result.warning ?? null };
  for (const e of result.effects) {
    switch (e.type) {
      case 'prompt':
        plan.effects.push({ type: 'prompt_worker', workerId, seconds: e.seconds });
        break;
      case 'raise_missed': {
        // No event raised it: drill-ness is the worker's, and the device shown is one of the same kind
        // (a real worker's real fob), never a drill fob that happens to be theirs too (issue 16).
        const drill = isDrillWorker(workerId);
        const device = ctx.devices.find((d) => d.workerId === workerId && d.revokedAt === null && isDrillDevice(d.id) === drill);
        plan.raise = { id: ctx.newAlarmId, kind: 'missed_checkin', workerId, deviceId: device?.id ?? null, reason: e.summary, drill };
        // The worker's state points at its alarm until contact closes it; the ladder takes over the timing.
        state.missedAlarmId = ctx.newAlarmId;
        plan.wakeAt = null;
        break;
      }
      case 'close_missed':
        plan.alarmSteps.push({ alarmId: e.alarmId, input: { type: 'resolve', by: `worker:${workerId}`, note: e.why } });
        break;
      case 'log':
        plan.logs.push({ event: e.event, detail: e.detail });
        break;
    }
  }
  return plan;
}

export interface DeviceHealthPlan {
  state: DeviceHealthState;
  raises: RaiseSpec[];
  alarmSteps: AlarmStep[];
}

/** How many alarms the device-health step raises: the runtime mints that many ids. */
export function deviceHealthRaises(result: DeviceHealthResult): number {
  return result.effects.filter((e) => e.type === 'raise').length;
}

export function composeDeviceHealthStep(result: DeviceHealthResult, device: Pick<DeviceRecord, 'id' | 'workerId'>, newAlarmIds: readonly string[]): DeviceHealthPlan {
  const state: DeviceHealthState = { ...result.state };
  const plan: DeviceHealthPlan = { state, raises: [], alarmSteps: [] };
  let next = 0;
  for (const e of result.effects) {
    if (e.type === 'raise') {
      const id = newAlarmIds[next++];
      if (id === undefined) throw new Error(`composeDeviceHealthStep: ${deviceHealthRaises(result)} alarms to raise but ${newAlarmIds.length} ids minted`);
      plan.raises.push({ id, kind: e.kind, workerId: device.workerId, deviceId: device.id, reason: e.summary });
      if (e.kind === 'low_battery') state.lowBatteryAlarmId = id;
      else state.silentAlarmId = id;
    } else {
      plan.alarmSteps.push({ alarmId: e.alarmId, input: { type: 'resolve', by: 'hub', note: e.why } });
    }
  }
  return plan;
}

/**
 * What an alarm's step means for the worker's check-in rules: closing the missed-check-in alarm their
 * state points at answers what was overdue, so it is asked again later, not re-raised at once (issue
 * 15 item 12). Null when nothing follows.
 */
export function followOnOfAlarmStep(after: Pick<AlarmRecord, 'id' | 'kind' | 'state' | 'workerId'>, checkin: Pick<CheckinState, 'missedAlarmId'> | null): CheckinInput | null {
  if (isOpen(after) || after.kind !== 'missed_checkin' || !after.workerId) return null;
  if (!checkin || checkin.missedAlarmId !== after.id) return null;
  return { type: 'alarm_closed', alarmId: after.id };
}
