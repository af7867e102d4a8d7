// The pure composition of engine steps (hub/rules/orchestration.ts): each table row is one engine
// output and what the runtime must do across engines. No store, no sockets, no clock.
import { describe, expect, it } from 'vitest';
import { composeCheckinStep, composeDeviceHealthStep, checkinRaises, deviceHealthRaises, followOnOfAlarmStep, type CheckinPlan } from '../../hub/rules/orchestration.js';
import { initialCheckinState, type CheckinEffect, type CheckinResult } from '../../hub/rules/checkin-engine.js';
import { initialDeviceHealth, type DeviceHealthEffect, type DeviceHealthResult } from '../../hub/rules/device-health-engine.js';
import type { AlarmRecord } from '../../hub/store/store-types.js';

const T = 1_800_000_000_000;

function checkinResult(effects: CheckinEffect[], over: Partial<CheckinResult> = {}): CheckinResult {
  return { state: { ...initialCheckinState('w1'), onShift: true }, visitChanges: [], effects, nextWakeAt: T + 60_000, ...over };
}

const DEVICES = [
  { id: 'drill-1', workerId: 'w1', revokedAt: null },
  { id: 'old-fob', workerId: 'w1', revokedAt: T - 1 },
  { id: 'fob-1', workerId: 'w1', revokedAt: null },
  { id: 'fob-2', workerId: 'w2', revokedAt: null },
];

describe('composeCheckinStep', () => {
  const raise: CheckinEffect = { type: 'raise_missed', workerId: 'w1', reason: 'checkin', visitId: 'v1', summary: 'Missed check-in (visit V-1)', lastSightingAt: null };
  const cases: { name: string; effects: CheckinEffect[]; expect: Partial<CheckinPlan> & { missedAlarmId?: string | null } }[] = [
    {
      name: 'a prompt becomes a prompt of the worker\'s fobs, the wake-up stays the engine\'s',
      effects: [{ type: 'prompt', workerId: 'w1', seconds: 300, reason: 'checkin', visitId: 'v1' }],
      expect: { effects: [{ type: 'prompt_worker', workerId: 'w1', seconds: 300 }], raise: null, alarmSteps: [], wakeAt: T + 60_000, missedAlarmId: null },
    },
    {
      name: 'R13: a missed check-in raises its alarm under the minted id, on the worker\'s live real fob, and the state points at it with no wake-up of its own',
      effects: [raise],
      expect: {
        raise: { id: 'a-new', kind: 'missed_checkin', workerId: 'w1', deviceId: 'fob-1', reason: 'Missed check-in (visit V-1)', drill: false },
        wakeAt: null,
        alarmSteps: [],
        missedAlarmId: 'a-new',
      },
    },
    {
      name: 'R13: contact closes the open missed-check-in alarm as a resolve by the worker, with the engine\'s why',
      effects: [{ type: 'close_missed', workerId: 'w1', alarmId: 'a-old', why: 'worker made contact (check-in)' }],
      expect: { raise: null, alarmSteps: [{ alarmId: 'a-old', input: { type: 'resolve', by: 'worker:w1', note: 'worker made contact (check-in)' } }], missedAlarmId: null },
    },
    {
      name: 'a log effect becomes a log line, nothing else',
      effects: [{ type: 'log', workerId: 'w1', event: 'visit_extended', detail: { minutes: 30 } }],
      expect: { logs: [{ event: 'visit_extended', detail: { minutes: 30 } }], effects: [], raise: null, alarmSteps: [] },
    },
  ];
  it.each(cases)('$name', ({ effects, expect: want }) => {
    const result = checkinResult(effects);
    const plan = composeCheckinStep(result, { newAlarmId: 'a-new', devices: DEVICES });
    const { missedAlarmId, ...rest } = want;
    expect(plan).toMatchObject(rest);
    if (missedAlarmId !== undefined) expect(plan.state.missedAlarmId).toBe(missedAlarmId);
    expect(checkinRaises(result)).toBe(effects.some((e) => e.type === 'raise_missed'));
    // The engine's result is not patched: the plan carries a state of its own.
    expect(result.state.missedAlarmId).toBeNull();
  });

  it('a drill worker\'s missed check-in is a drill, shown on their drill fob; with no live fob of the kind, on none', () => {
    const drillWorker = checkinResult([{ ...raise, workerId: 'drill-w' }], { state: { ...initialCheckinState('drill-w'), onShift: true } });
    expect(composeCheckinStep(drillWorker, { newAlarmId: 'a1', devices: [{ id: 'drill-9', workerId: 'drill-w', revokedAt: null }] }).raise).toMatchObject({ deviceId: 'drill-9', drill: true });
    expect(composeCheckinStep(drillWorker, { newAlarmId: 'a1', devices: [{ id: 'fob-9', workerId: 'drill-w', revokedAt: null }] }).raise).toMatchObject({ deviceId: null, drill: true });
    expect(composeCheckinStep(checkinResult([raise]), { newAlarmId: 'a1', devices: [DEVICES[0], DEVICES[1]] }).raise).toMatchObject({ deviceId: null, drill: false });
  });

  it('keeps the engine\'s visit changes and warning', () => {
    const plan = composeCheckinStep(checkinResult([], { visitChanges: [{ id: 'v1', changes: { status: 'ended', endedAt: T } }], warning: 'no visit running' }), { newAlarmId: '', devices: [] });
    expect(plan.visitChanges).toEqual([{ id: 'v1', changes: { status: 'ended', endedAt: T } }]);
    expect(plan.warning).toBe('no visit running');
  });
});

describe('composeDeviceHealthStep', () => {
  const device = { id: 'fob-1', workerId: 'w1' };
  const cases: { name: string; effects: DeviceHealthEffect[]; ids: string[]; raises: unknown[]; steps: unknown[]; lowBatteryAlarmId: string | null; silentAlarmId: string | null }[] = [
    {
      name: 'R16: a low battery raises its alarm under the minted id and the state remembers it',
      effects: [{ type: 'raise', kind: 'low_battery', deviceId: 'fob-1', summary: 'Low battery: 9%' }],
      ids: ['a-low'],
      raises: [{ id: 'a-low', kind: 'low_battery', workerId: 'w1', deviceId: 'fob-1', reason: 'Low battery: 9%' }],
      steps: [],
      lowBatteryAlarmId: 'a-low',
      silentAlarmId: null,
    },
    {
      name: 'R16: a silent device raises its alarm; two raises take the ids in order',
      effects: [
        { type: 'raise', kind: 'low_battery', deviceId: 'fob-1', summary: 'Low battery: 9%' },
        { type: 'raise', kind: 'device_silent', deviceId: 'fob-1', summary: 'Device silent for 30 min during a shift' },
      ],
      ids: ['a-1', 'a-2'],
      raises: [expect.objectContaining({ id: 'a-1', kind: 'low_battery' }), expect.objectContaining({ id: 'a-2', kind: 'device_silent' })],
      steps: [],
      lowBatteryAlarmId: 'a-1',
      silentAlarmId: 'a-2',
    },
    {
      name: 'R16: a device heard again closes its alarm as a resolve by the hub, with the engine\'s why',
      effects: [{ type: 'close', alarmId: 'a-silent', why: 'device is heard from again' }],
      ids: [],
      raises: [],
      steps: [{ alarmId: 'a-silent', input: { type: 'resolve', by: 'hub', note: 'device is heard from again' } }],
      lowBatteryAlarmId: null,
      silentAlarmId: null,
    },
  ];
  it.each(cases)('$name', ({ effects, ids, raises, steps, lowBatteryAlarmId, silentAlarmId }) => {
    const result: DeviceHealthResult = { state: initialDeviceHealth('fob-1'), effects, nextWakeAt: null };
    expect(deviceHealthRaises(result)).toBe(ids.length);
    const plan = composeDeviceHealthStep(result, device, ids);
    expect(plan.raises).toEqual(raises);
    expect(plan.alarmSteps).toEqual(steps);
    expect(plan.state.lowBatteryAlarmId).toBe(lowBatteryAlarmId);
    expect(plan.state.silentAlarmId).toBe(silentAlarmId);
    expect(result.state.lowBatteryAlarmId).toBeNull();
  });

  it('refuses a plan with fewer minted ids than raises, naming both counts', () => {
    const result: DeviceHealthResult = { state: initialDeviceHealth('fob-1'), effects: [{ type: 'raise', kind: 'low_battery', deviceId: 'fob-1', summary: 'x' }], nextWakeAt: null };
    expect(() => composeDeviceHealthStep(result, device, [])).toThrow(/1 alarms to raise but 0 ids minted/);
  });
});

describe('followOnOfAlarmStep', () => {
  const alarm = (over: Partial<AlarmRecord>): Pick<AlarmRecord, 'id' | 'kind' | 'state' | 'workerId'> => ({ id: 'a1', kind: 'missed_checkin', state: 'resolved', workerId: 'w1', ...over });
  const cases: { name: string; after: Pick<AlarmRecord, 'id' | 'kind' | 'state' | 'workerId'>; missedAlarmId: string | null | 'no state'; want: unknown }[] = [
    { name: 'R13: closing the missed-check-in alarm the worker\'s state points at answers the overdue item', after: alarm({}), missedAlarmId: 'a1', want: { type: 'alarm_closed', alarmId: 'a1' } },
    { name: 'cancelling it does too', after: alarm({ state: 'cancelled' }), missedAlarmId: 'a1', want: { type: 'alarm_closed', alarmId: 'a1' } },
    { name: 'an alarm still open (acknowledged) has no follow-on', after: alarm({ state: 'acknowledged' }), missedAlarmId: 'a1', want: null },
    { name: 'another alarm than the one the state points at has none', after: alarm({}), missedAlarmId: 'a2', want: null },
    { name: 'a state that no longer points at any (contact closed it) has none', after: alarm({}), missedAlarmId: null, want: null },
    { name: 'another kind of alarm has none', after: alarm({ kind: 'sos' }), missedAlarmId: 'a1', want: null },
    { name: 'an alarm with no worker has none', after: alarm({ workerId: null }), missedAlarmId: 'a1', want: null },
    { name: 'a worker with no stored state has none', after: alarm({}), missedAlarmId: 'no state', want: null },
  ];
  it.each(cases)('$name', ({ after, missedAlarmId, want }) => {
    expect(followOnOfAlarmStep(after, missedAlarmId === 'no state' ? null : { missedAlarmId })).toEqual(want);
  });
});
