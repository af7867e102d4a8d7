/**
 * Device health (R16): a low battery, and a fob that goes silent while its worker is on shift, raise
 * their own lower-priority alerts. Pure: (state, input, now) -> state, effects, next wake-up.
 */
const MINUTE = 60_000;

export interface DeviceHealthRules {
  lowBatteryPercent: number;
  /** Battery must climb this far above the threshold before a new low-battery alert can be raised. */
  batteryHysteresis: number;
  silentAfterMin: number;
}

export interface DeviceHealthState {
  deviceId: string;
  lastSeenAt: number | null;
  battery: number | null;
  lowBatteryAlarmId: string | null;
  /** True once a low-battery alert was raised, until the battery recovers (so it is raised once). */
  lowBatteryRaised: boolean;
  silentAlarmId: string | null;
  silentRaised: boolean;
}

export type DeviceHealthInput =
  | { type: 'heartbeat'; battery: number }
  | { type: 'seen' }
  | { type: 'tick'; onShift: boolean };

export type DeviceHealthEffect =
  | { type: 'raise'; kind: 'low_battery' | 'device_silent'; deviceId: string; summary: string }
  | { type: 'close'; alarmId: string; why: string };

export interface DeviceHealthResult {
  state: DeviceHealthState;
  effects: DeviceHealthEffect[];
  nextWakeAt: number | null;
}

export function initialDeviceHealth(deviceId: string): DeviceHealthState {
  return { deviceId, lastSeenAt: null, battery: null, lowBatteryAlarmId: null, lowBatteryRaised: false, silentAlarmId: null, silentRaised: false };
}

export function stepDeviceHealth(
  current: DeviceHealthState,
  input: DeviceHealthInput,
  now: number,
  rules: DeviceHealthRules,
  onShift: boolean,
): DeviceHealthResult {
  const state = { ...current };
  const effects: DeviceHealthEffect[] = [];

  if (input.type === 'heartbeat' || input.type === 'seen') {
    state.lastSeenAt = now;
    if (state.silentRaised) {
      state.silentRaised = false;
      if (state.silentAlarmId) effects.push({ type: 'close', alarmId: state.silentAlarmId, why: 'device is heard from again' });
      state.silentAlarmId = null;
    }
  }
  if (input.type === 'heartbeat') {
    state.battery = input.battery;
    if (input.battery < rules.lowBatteryPercent && !state.lowBatteryRaised) {
      state.lowBatteryRaised = true;
      effects.push({ type: 'raise', kind: 'low_battery', deviceId: state.deviceId, summary: `Low battery: ${input.battery}%` });
    } else if (input.battery >= rules.lowBatteryPercent + rules.batteryHysteresis && state.lowBatteryRaised) {
      state.lowBatteryRaised = false;
      if (state.lowBatteryAlarmId) effects.push({ type: 'close', alarmId: state.lowBatteryAlarmId, why: `battery recovered to ${input.battery}%` });
      state.lowBatteryAlarmId = null;
    }
  }

  const silentAt = state.lastSeenAt !== null ? state.lastSeenAt + rules.silentAfterMin * MINUTE : null;
  if (onShift && silentAt !== null && now >= silentAt && !state.silentRaised) {
    state.silentRaised = true;
    const mins = Math.round((now - (state.lastSeenAt ?? now)) / MINUTE);
    effects.push({ type: 'raise', kind: 'device_silent', deviceId: state.deviceId, summary: `Device silent for ${mins} min during a shift` });
  }
  const nextWakeAt = onShift && silentAt !== null && !state.silentRaised ? silentAt : null;
  return { state, effects, nextWakeAt };
}
