// The device-health engine on its own (hub/rules/device-health-engine.ts): a pure function of
// (state, input, now, rules, onShift). Times are plain numbers; no store, no sockets, no clock.
import { describe, expect, it } from 'vitest';
import { initialDeviceHealth, stepDeviceHealth, type DeviceHealthInput, type DeviceHealthRules, type DeviceHealthState } from '../../hub/rules/device-health-engine.js';

const MIN = 60_000;
const T0 = Date.parse('2026-12-01T10:00:00Z');
const RULES: DeviceHealthRules = { lowBatteryPercent: 20, batteryHysteresis: 10, silentAfterMin: 30 };

const state = (over: Partial<DeviceHealthState> = {}): DeviceHealthState => ({ ...initialDeviceHealth('fob-1'), lastSeenAt: T0, battery: 80, ...over });

describe('stepDeviceHealth', () => {
  const cases: { name: string; from: DeviceHealthState; input: DeviceHealthInput; at: number; onShift: boolean; effects: unknown[]; wake: number | null; lowBatteryRaised: boolean; silentRaised: boolean }[] = [
    {
      name: 'a heartbeat below the threshold raises one low-battery alert',
      from: state(), input: { type: 'heartbeat', battery: 19 }, at: T0 + MIN, onShift: true,
      effects: [{ type: 'raise', kind: 'low_battery', deviceId: 'fob-1', summary: 'Low battery: 19%' }], wake: T0 + 31 * MIN, lowBatteryRaised: true, silentRaised: false,
    },
    {
      name: 'a second low heartbeat raises nothing more',
      from: state({ lowBatteryRaised: true, lowBatteryAlarmId: 'a-low' }), input: { type: 'heartbeat', battery: 15 }, at: T0 + MIN, onShift: true,
      effects: [], wake: T0 + 31 * MIN, lowBatteryRaised: true, silentRaised: false,
    },
    {
      name: 'a battery back above the threshold but inside the hysteresis keeps the alert',
      from: state({ lowBatteryRaised: true, lowBatteryAlarmId: 'a-low' }), input: { type: 'heartbeat', battery: 29 }, at: T0 + MIN, onShift: false,
      effects: [], wake: null, lowBatteryRaised: true, silentRaised: false,
    },
    {
      name: 'a battery recovered past the hysteresis closes the alert, saying to what',
      from: state({ lowBatteryRaised: true, lowBatteryAlarmId: 'a-low' }), input: { type: 'heartbeat', battery: 30 }, at: T0 + MIN, onShift: false,
      effects: [{ type: 'close', alarmId: 'a-low', why: 'battery recovered to 30%' }], wake: null, lowBatteryRaised: false, silentRaised: false,
    },
    {
      name: 'a tick at the silent limit on shift raises device silent, with the minutes',
      from: state(), input: { type: 'tick', onShift: true }, at: T0 + 30 * MIN, onShift: true,
      effects: [{ type: 'raise', kind: 'device_silent', deviceId: 'fob-1', summary: 'Device silent for 30 min during a shift' }], wake: null, lowBatteryRaised: false, silentRaised: true,
    },
    {
      name: 'a tick before the limit raises nothing and wakes at the limit',
      from: state(), input: { type: 'tick', onShift: true }, at: T0 + 29 * MIN, onShift: true,
      effects: [], wake: T0 + 30 * MIN, lowBatteryRaised: false, silentRaised: false,
    },
    {
      name: 'off shift a silent device is nobody\'s concern: no alert, no wake-up',
      from: state(), input: { type: 'tick', onShift: false }, at: T0 + 5 * 60 * MIN, onShift: false,
      effects: [], wake: null, lowBatteryRaised: false, silentRaised: false,
    },
    {
      name: 'a device heard again closes its silent alert and re-arms the watch',
      from: state({ silentRaised: true, silentAlarmId: 'a-silent' }), input: { type: 'seen' }, at: T0 + 40 * MIN, onShift: true,
      effects: [{ type: 'close', alarmId: 'a-silent', why: 'device is heard from again' }], wake: T0 + 70 * MIN, lowBatteryRaised: false, silentRaised: false,
    },
    {
      name: 'a device never heard from is not called silent',
      from: initialDeviceHealth('fob-1'), input: { type: 'tick', onShift: true }, at: T0, onShift: true,
      effects: [], wake: null, lowBatteryRaised: false, silentRaised: false,
    },
  ];
  it.each(cases)('$name', ({ from, input, at, onShift, effects, wake, lowBatteryRaised, silentRaised }) => {
    const before = structuredClone(from);
    const r = stepDeviceHealth(from, input, at, RULES, onShift);
    expect(r.effects).toEqual(effects);
    expect(r.nextWakeAt).toBe(wake);
    expect(r.state.lowBatteryRaised).toBe(lowBatteryRaised);
    expect(r.state.silentRaised).toBe(silentRaised);
    expect(from).toEqual(before);
  });

  it('R16: a low battery and a fob gone silent on shift each raise their own alert once, and close when the fob recovers', () => {
    let s = state();
    const low = stepDeviceHealth(s, { type: 'heartbeat', battery: 10 }, T0, RULES, true);
    expect(low.effects.map((e) => e.type === 'raise' && e.kind)).toEqual(['low_battery']);
    s = { ...low.state, lowBatteryAlarmId: 'a-low' };
    const silent = stepDeviceHealth(s, { type: 'tick', onShift: true }, T0 + 30 * MIN, RULES, true);
    expect(silent.effects.map((e) => e.type === 'raise' && e.kind)).toEqual(['device_silent']);
    s = { ...silent.state, silentAlarmId: 'a-silent' };
    expect(stepDeviceHealth(s, { type: 'tick', onShift: true }, T0 + 60 * MIN, RULES, true).effects).toEqual([]);
    const back = stepDeviceHealth(s, { type: 'heartbeat', battery: 95 }, T0 + 61 * MIN, RULES, true);
    expect(back.effects).toEqual([
      { type: 'close', alarmId: 'a-silent', why: 'device is heard from again' },
      { type: 'close', alarmId: 'a-low', why: 'battery recovered to 95%' },
    ]);
  });
});
