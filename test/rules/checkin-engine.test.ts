// The check-in engine on its own (hub/rules/checkin-engine.ts), table-driven: one input at one time
// against a state and the day's visits. Times are plain numbers; no store, no sockets, no clock.
// (test/hub/checkin-engine.test.ts drives it through whole days.)
import { describe, expect, it } from 'vitest';
import { initialCheckinState, stepCheckin, type CheckinInput, type CheckinRules, type CheckinState } from '../../hub/rules/checkin-engine.js';
import type { VisitRecord } from '../../hub/store/store-types.js';

const MIN = 60_000;
const T0 = Date.parse('2026-12-01T10:00:00Z');
const RULES: CheckinRules = { graceMin: 5, endOfShiftAfterMin: 30, startGraceMin: 15, overdueRecheckMin: 30 };

function visit(over: Partial<VisitRecord> = {}): VisitRecord {
  return {
    id: 'v1', workerId: 'w1', ref: 'V-1', scheduledStart: T0, expectedEnd: T0 + 60 * MIN, riskCategory: 1, rag: 'green', checkinIntervalMin: null, nextLocation: null,
    secondWorkerId: null, status: 'planned', startedAt: null, endedAt: null, unplanned: false, policyFlags: [], contactName: null, contactPhone: null,
    ...over,
  };
}
const active = (over: Partial<VisitRecord> = {}): VisitRecord => visit({ status: 'active', startedAt: T0, ...over });
const onVisit = (over: Partial<CheckinState> = {}): CheckinState => ({ ...initialCheckinState('w1'), onShift: true, activeVisitId: 'v1', lastCheckInAt: T0, ...over });

describe('stepCheckin', () => {
  const cases: { name: string; from: CheckinState; visits: VisitRecord[]; input: CheckinInput; at: number; effects: string[]; wake: number | null; due?: string | null; warning?: string }[] = [
    {
      name: 'starting a planned visit puts the worker on shift and arms its expected end',
      from: initialCheckinState('w1'), visits: [visit()], input: { type: 'visit_start', source: 'fob' }, at: T0,
      effects: [], wake: T0 + 60 * MIN, due: 'visit_end',
    },
    {
      name: 'with no planned visit the start is a warning (unplanned visits are recorded first), and the on-shift worker owes the end-of-shift report',
      from: initialCheckinState('w1'), visits: [], input: { type: 'visit_start', source: 'fob' }, at: T0,
      effects: [], wake: T0 + 30 * MIN, due: 'end_of_shift', warning: 'no planned visit to start: unplanned visits must be recorded first (R7)',
    },
    {
      name: 'a half-hourly visit is due a check-in 30 minutes after the last one',
      from: onVisit(), visits: [active({ checkinIntervalMin: 30, expectedEnd: T0 + 120 * MIN })], input: { type: 'tick' }, at: T0 + 10 * MIN,
      effects: [], wake: T0 + 30 * MIN, due: 'checkin',
    },
    {
      name: 'at the due time the fob is prompted and the grace runs',
      from: onVisit(), visits: [active({ checkinIntervalMin: 30, expectedEnd: T0 + 120 * MIN })], input: { type: 'tick' }, at: T0 + 30 * MIN,
      effects: ['prompt:checkin'], wake: T0 + 35 * MIN, due: 'checkin',
    },
    {
      name: 'no answer within the grace raises the missed check-in and nothing more is due',
      from: onVisit({ promptedAt: T0 + 30 * MIN, due: { at: T0 + 30 * MIN, reason: 'checkin', visitId: 'v1' } }), visits: [active({ checkinIntervalMin: 30, expectedEnd: T0 + 120 * MIN })], input: { type: 'tick' }, at: T0 + 35 * MIN,
      effects: ['raise_missed:checkin'], wake: null, due: 'checkin',
    },
    {
      name: 'a check-in while the missed alarm is open closes it and re-arms from now',
      from: onVisit({ missedAlarmId: 'a1', promptedAt: T0 + 30 * MIN }), visits: [active({ checkinIntervalMin: 30, expectedEnd: T0 + 120 * MIN })], input: { type: 'checkin', source: 'fob' }, at: T0 + 40 * MIN,
      effects: ['close_missed'], wake: T0 + 70 * MIN, due: 'checkin',
    },
    {
      name: 'an extension moves the expected end on and logs it',
      from: onVisit(), visits: [active()], input: { type: 'extend', minutes: 20, source: 'fob' }, at: T0 + 50 * MIN,
      effects: ['log'], wake: T0 + 80 * MIN, due: 'visit_end',
    },
    {
      name: 'extending with no visit running is a warning; it counts as contact, so the end-of-shift report is due from now',
      from: { ...initialCheckinState('w1'), onShift: true }, visits: [], input: { type: 'extend', minutes: 20, source: 'fob' }, at: T0,
      effects: [], wake: T0 + 30 * MIN, due: 'end_of_shift', warning: 'no visit running to extend',
    },
    {
      name: 'the final visit ended: the end-of-shift report is due after the configured minutes',
      from: onVisit(), visits: [active()], input: { type: 'visit_end', source: 'fob' }, at: T0 + 55 * MIN,
      effects: [], wake: T0 + 85 * MIN, due: 'end_of_shift',
    },
    {
      name: 'the end-of-shift report takes the worker off shift with nothing due',
      from: onVisit({ activeVisitId: null }), visits: [visit({ status: 'ended', startedAt: T0, endedAt: T0 + 55 * MIN })], input: { type: 'end_of_shift', source: 'fob' }, at: T0 + 60 * MIN,
      effects: [], wake: null, due: null,
    },
    {
      name: 'a planned visit not started by its start plus the grace is chased',
      from: initialCheckinState('w1'), visits: [visit()], input: { type: 'itinerary_changed' }, at: T0 - 60 * MIN,
      effects: [], wake: T0 + 15 * MIN, due: 'visit_not_started',
    },
  ];
  it.each(cases)('$name', ({ from, visits, input, at, effects, wake, due, warning }) => {
    const before = structuredClone(visits);
    const r = stepCheckin(from, visits, input, at, RULES);
    expect(r.effects.map((e) => (e.type === 'prompt' || e.type === 'raise_missed' ? `${e.type}:${e.reason}` : e.type))).toEqual(effects);
    expect(r.nextWakeAt).toBe(wake);
    if (due !== undefined) expect(r.state.due?.reason ?? null).toBe(due);
    expect(r.warning).toBe(warning);
    expect(visits).toEqual(before);
  });

  it('R14: a heartbeat sighting moves the last confirmed sighting forward, never back, and records where', () => {
    const s = onVisit({ lastSighting: { at: T0 + 20 * MIN, kind: 'check-in', place: 'V-1' } });
    const later = stepCheckin(s, [active()], { type: 'sighting', kind: 'heartbeat (fob worn)', at: T0 + 25 * MIN }, T0 + 26 * MIN, RULES);
    expect(later.state.lastSighting).toEqual({ at: T0 + 25 * MIN, kind: 'heartbeat (fob worn)', place: 'V-1' });
    const older = stepCheckin(s, [active()], { type: 'sighting', kind: 'heartbeat (fob worn)', at: T0 + 10 * MIN }, T0 + 26 * MIN, RULES);
    expect(older.state.lastSighting).toEqual(s.lastSighting);
  });
});
