// The escalation engine on its own (hub/rules/escalation-engine.ts): a pure function of (alarm,
// input, now). Times are plain numbers; no store, no sockets, no clock.
import { describe, expect, it } from 'vitest';
import { nextWakeAt, stepEscalation, type EscalationInput } from '../../hub/rules/escalation-engine.js';
import type { EscalationPolicy } from '../../hub/rules/escalation-policy.js';
import type { AlarmRecord } from '../../hub/store/store-types.js';

const MIN = 60_000;
const T0 = Date.parse('2026-12-01T10:00:00Z');

const STEP: EscalationPolicy = {
  name: 'missed',
  mode: 'step',
  levels: [
    { name: 'try the worker', targets: ['worker'], channels: ['fob'], delayMin: 5 },
    { name: 'duty officer', targets: ['duty_officer'], channels: ['dashboard', 'email'], delayMin: 10 },
  ],
  repeat: 1,
  reAlertAfterAckMin: 15,
  policeAfterSightingMin: 90,
  seniorTargets: ['head_of_service', 'director'],
};

function alarm(over: Partial<AlarmRecord> = {}): AlarmRecord {
  return {
    id: 'a1', kind: 'missed_checkin', state: 'raised', priority: 2, workerId: 'w1', deviceId: 'fob-1', visitRef: 'V-1', sourceEventId: null, reason: 'Missed check-in',
    raisedAt: T0, acknowledgedAt: null, acknowledgedBy: null, closedAt: null, closedBy: null, drill: false, policy: STEP, level: 0, round: 0,
    nextStepAt: null, reAlertAt: null, policeAt: null, lastSightingAt: T0 - 30 * MIN, stale: false, outcome: null, workerCancelledAt: null,
    ...over,
  };
}

/** Steps the engine through inputs at given times, as the runtime would (each result the next state). */
function run(start: AlarmRecord, steps: [EscalationInput, number][]) {
  let a = start;
  const types: string[] = [];
  const effects: string[] = [];
  for (const [input, at] of steps) {
    const r = stepEscalation(a, input, at);
    types.push(...r.timeline.map((e) => e.type));
    effects.push(...r.effects.map((e) => (e.type === 'notify' ? `notify:${e.level}:${e.reason}` : e.type === 'fob_command' ? `fob:${e.command}` : e.type)));
    if (!r.rejected) a = r.alarm;
  }
  return { alarm: a, types, effects };
}

describe('stepEscalation', () => {
  const cases: { name: string; start?: Partial<AlarmRecord>; steps: [EscalationInput, number][]; state: AlarmRecord['state']; types: string[]; effects: string[]; wake: number | null }[] = [
    {
      name: 'start tells level 0 and arms its delay and the police advice from the last sighting',
      steps: [[{ type: 'start' }, T0]],
      state: 'notifying', types: ['notify'], effects: ['notify:0:raised', 'alarm_changed'], wake: T0 + 5 * MIN,
    },
    {
      name: 'a tick at the delay climbs to level 1',
      steps: [[{ type: 'start' }, T0], [{ type: 'tick' }, T0 + 5 * MIN]],
      state: 'notifying', types: ['notify', 'escalated', 'notify'], effects: ['notify:0:raised', 'alarm_changed', 'notify:1:escalated', 'alarm_changed'], wake: T0 + 15 * MIN,
    },
    {
      name: 'a late tick catches up every rung that fell due, once each, then exhausts',
      steps: [[{ type: 'start' }, T0], [{ type: 'tick' }, T0 + 40 * MIN]],
      state: 'exhausted',
      types: ['notify', 'escalated', 'notify', 'repeated', 'notify', 'escalated', 'notify', 'exhausted', 'notify'],
      effects: ['notify:0:raised', 'alarm_changed', 'notify:1:escalated', 'notify:0:repeat', 'notify:1:escalated', 'notify:1:exhausted', 'alarm_changed'],
      wake: T0 - 30 * MIN + 90 * MIN,
    },
    {
      name: 'an acknowledgement stops the ladder, arms the re-alert and tells the fob help is coming only when a fob raised it',
      start: { sourceEventId: '1-1' },
      steps: [[{ type: 'start' }, T0], [{ type: 'acknowledge', by: 'ada' }, T0 + MIN]],
      state: 'acknowledged', types: ['notify', 'acknowledged'], effects: ['notify:0:raised', 'alarm_changed', 'fob:hc', 'alarm_changed'], wake: T0 + 16 * MIN,
    },
    {
      name: 'a second acknowledgement is refused and on the record, changing nothing',
      steps: [[{ type: 'start' }, T0], [{ type: 'acknowledge', by: 'ada' }, T0 + MIN], [{ type: 'acknowledge', by: 'bob' }, T0 + 2 * MIN]],
      state: 'acknowledged', types: ['notify', 'acknowledged', 'refused'], effects: ['notify:0:raised', 'alarm_changed', 'alarm_changed'], wake: T0 + 16 * MIN,
    },
    {
      name: 'a resolve by the system closes it with an implicit acknowledgement, disarming every deadline',
      steps: [[{ type: 'start' }, T0], [{ type: 'resolve', by: 'worker:w1', note: 'checked in' }, T0 + 2 * MIN]],
      state: 'resolved', types: ['notify', 'acknowledged', 'resolved'], effects: ['notify:0:raised', 'alarm_changed', 'alarm_changed'], wake: null,
    },
    {
      name: 'a taker-only resolve by someone other than the taker is refused',
      steps: [[{ type: 'start' }, T0], [{ type: 'acknowledge', by: 'ada' }, T0 + MIN], [{ type: 'resolve', by: 'bob', authority: 'taker' }, T0 + 2 * MIN]],
      state: 'acknowledged', types: ['notify', 'acknowledged', 'refused'], effects: ['notify:0:raised', 'alarm_changed', 'alarm_changed'], wake: T0 + 16 * MIN,
    },
    {
      name: 'an undeliverable level climbs at once',
      steps: [[{ type: 'start' }, T0], [{ type: 'undeliverable', level: 0, recipientId: 'w1' }, T0 + MIN]],
      state: 'notifying', types: ['notify', 'undeliverable', 'escalated', 'notify'], effects: ['notify:0:raised', 'alarm_changed', 'notify:1:escalated', 'alarm_changed'], wake: T0 + 11 * MIN,
    },
    {
      name: 'R6: a cancel from the fob of an SOS keeps it open for a call-back and stands the fob down',
      start: { kind: 'sos', sourceEventId: '1-1' },
      steps: [[{ type: 'start' }, T0], [{ type: 'cancel', by: 'device:fob-1', source: 'fob' }, T0 + MIN]],
      state: 'notifying', types: ['notify', 'worker_cancelled'], effects: ['notify:0:raised', 'alarm_changed', 'fob:stop', 'fob:clr', 'alarm_changed'], wake: T0 + 5 * MIN,
    },
    {
      name: 'an officer\'s cancel closes it as a false alarm',
      steps: [[{ type: 'start' }, T0], [{ type: 'cancel', by: 'ada', source: 'officer' }, T0 + MIN]],
      state: 'cancelled', types: ['notify', 'cancelled'], effects: ['notify:0:raised', 'alarm_changed', 'alarm_changed'], wake: null,
    },
  ];
  it.each(cases)('$name', ({ start, steps, state, types, effects, wake }) => {
    const r = run(alarm(start), steps);
    expect(r.alarm.state).toBe(state);
    expect(r.types).toEqual(types);
    expect(r.effects).toEqual(effects);
    expect(nextWakeAt(r.alarm)).toBe(wake);
  });

  it('R13: 999 is advised to the seniors at the last sighting plus the policy\'s minutes, even while acknowledged', () => {
    const acked = run(alarm(), [[{ type: 'start' }, T0], [{ type: 'acknowledge', by: 'ada' }, T0 + MIN]]).alarm;
    const policeDue = T0 - 30 * MIN + 90 * MIN;
    const r = stepEscalation({ ...acked, reAlertAt: null }, { type: 'tick' }, policeDue);
    expect(r.timeline.map((e) => e.type)).toEqual(['police_advised', 'notify']);
    expect(r.effects[0]).toMatchObject({ type: 'notify', reason: 'police', targets: ['head_of_service', 'director'] });
    expect(r.alarm.policeAt).toBeNull();
  });

  it('never changes the alarm it is given', () => {
    const a = alarm();
    const copy = structuredClone(a);
    stepEscalation(a, { type: 'start' }, T0);
    expect(a).toEqual(copy);
  });
});
