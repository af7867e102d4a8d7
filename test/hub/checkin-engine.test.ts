// The check-in engine on a fake clock (times are plain numbers): a planned visit that is never
// started runs the missed-check-in ladder (issue 15 item 6), and a check-in while overdue clears the
// overdue state instead of raising a second alarm a minute later (item 12).
import { describe, expect, it } from 'vitest';
import { initialCheckinState, stepCheckin, type CheckinInput, type CheckinRules, type CheckinState } from '../../hub/rules/checkin-engine.js';
import type { VisitRecord } from '../../hub/store/store-types.js';

const MIN = 60_000;
const T0 = Date.parse('2026-12-01T10:00:00Z');
const RULES: CheckinRules = { graceMin: 5, endOfShiftAfterMin: 30, startGraceMin: 15, overdueRecheckMin: 30 };

function visit(over: Partial<VisitRecord> = {}): VisitRecord {
  return {
    id: 'v1',
    workerId: 'w1',
    ref: 'V-1',
    scheduledStart: T0,
    expectedEnd: T0 + 60 * MIN,
    riskCategory: 1,
    rag: 'green',
    checkinIntervalMin: null,
    nextLocation: null,
    secondWorkerId: null,
    status: 'planned',
    startedAt: null,
    endedAt: null,
    unplanned: false,
    policyFlags: [],
    contactName: null,
    contactPhone: null,
    ...over,
  };
}

/** Steps the engine like the runtime does: applies visit changes and records the raised alarm's id. */
function drive(rules: CheckinRules = RULES) {
  let state: CheckinState = initialCheckinState('w1');
  let visits: VisitRecord[] = [visit()];
  let raised = 0;
  const step = (input: CheckinInput, at: number) => {
    const r = stepCheckin(state, visits, input, at, rules);
    visits = visits.map((v) => ({ ...v, ...(r.visitChanges.find((c) => c.id === v.id)?.changes ?? {}) }));
    state = r.state;
    if (r.effects.some((e) => e.type === 'raise_missed')) state = { ...state, missedAlarmId: `alarm-${++raised}` };
    return r;
  };
  return { step, state: () => state, raisedCount: () => raised };
}

describe('a planned visit that is never started (item 6)', () => {
  it('is due at its start plus the grace; the fob is prompted, then the missed-check-in ladder is raised', () => {
    const d = drive();
    const planned = d.step({ type: 'itinerary_changed' }, T0 - 60 * MIN);
    expect(planned.state.due).toEqual({ at: T0 + 15 * MIN, reason: 'visit_not_started', visitId: 'v1' });
    expect(planned.nextWakeAt).toBe(T0 + 15 * MIN);
    expect(planned.effects).toEqual([]);

    const atGrace = d.step({ type: 'tick' }, T0 + 15 * MIN);
    expect(atGrace.effects).toEqual([{ type: 'prompt', workerId: 'w1', seconds: 300, reason: 'visit_not_started', visitId: 'v1' }]);
    expect(atGrace.nextWakeAt).toBe(T0 + 20 * MIN);

    const late = d.step({ type: 'tick' }, T0 + 20 * MIN);
    const raise = late.effects.find((e) => e.type === 'raise_missed');
    expect(raise).toMatchObject({ reason: 'visit_not_started', visitId: 'v1' });
    expect(raise && 'summary' in raise ? raise.summary : '').toMatch(/^Visit not started.*\(visit V-1\)$/);
    expect(late.nextWakeAt).toBeNull();
  });

  it('started within the grace: nothing is raised, the visit end is what is due', () => {
    const d = drive();
    d.step({ type: 'itinerary_changed' }, T0 - 60 * MIN);
    const started = d.step({ type: 'visit_start', source: 'fob' }, T0 + 10 * MIN);
    expect(started.state.due).toEqual({ at: T0 + 60 * MIN, reason: 'visit_end', visitId: 'v1' });
    expect(started.effects.filter((e) => e.type === 'prompt' || e.type === 'raise_missed')).toEqual([]);
  });

  it('off (visit_start_grace_min = false): an unstarted visit off shift is not chased', () => {
    const d = drive({ ...RULES, startGraceMin: null });
    const r = d.step({ type: 'tick' }, T0 + 120 * MIN);
    expect(r.state.due).toBeNull();
    expect(r.effects).toEqual([]);
  });

  it('starting the visit late closes the alarm the missed start raised', () => {
    const d = drive();
    d.step({ type: 'tick' }, T0 + 15 * MIN);
    d.step({ type: 'tick' }, T0 + 20 * MIN);
    const started = d.step({ type: 'visit_start', source: 'fob' }, T0 + 25 * MIN);
    expect(started.effects).toContainEqual({ type: 'close_missed', workerId: 'w1', alarmId: 'alarm-1', why: 'worker made contact (visit start)' });
    expect(started.state.due).toMatchObject({ reason: 'visit_end' });
  });
});

describe('a check-in while overdue (item 12)', () => {
  it('closes the alarm and clears the overdue visit end: no second alarm, asked again after overdue_recheck_min', () => {
    const d = drive();
    d.step({ type: 'visit_start', source: 'fob' }, T0);
    const end = T0 + 60 * MIN;
    d.step({ type: 'tick' }, end);
    expect(d.step({ type: 'tick' }, end + 5 * MIN).effects.some((e) => e.type === 'raise_missed')).toBe(true);

    const checkin = d.step({ type: 'checkin', source: 'fob' }, end + 6 * MIN);
    expect(checkin.effects).toContainEqual({ type: 'close_missed', workerId: 'w1', alarmId: 'alarm-1', why: 'worker made contact (check-in)' });
    expect(checkin.state.due).toEqual({ at: end + 36 * MIN, reason: 'visit_end', visitId: 'v1' });
    expect(checkin.effects.some((e) => e.type === 'prompt')).toBe(false);

    // A minute (and a grace period) later: nothing.
    for (const at of [end + 7 * MIN, end + 12 * MIN, end + 35 * MIN]) expect(d.step({ type: 'tick' }, at).effects).toEqual([]);
    expect(d.raisedCount()).toBe(1);
    // Still not ended 30 minutes after the check-in: asked again, and only then a new alarm.
    expect(d.step({ type: 'tick' }, end + 36 * MIN).effects.map((e) => e.type)).toEqual(['prompt']);
    expect(d.step({ type: 'tick' }, end + 41 * MIN).effects.map((e) => e.type)).toEqual(['raise_missed']);
  });

  it('a prompted check-in answered within the grace is not prompted again at once', () => {
    const d = drive();
    d.step({ type: 'visit_start', source: 'fob' }, T0);
    const end = T0 + 60 * MIN;
    d.step({ type: 'tick' }, end);
    const answered = d.step({ type: 'checkin', source: 'fob', prompted: true }, end + 2 * MIN);
    expect(answered.effects).toEqual([]);
    expect(answered.nextWakeAt).toBe(end + 32 * MIN);
  });

  it("a visit with its own check-in interval is asked again at that interval", () => {
    const d = drive();
    d.step({ type: 'itinerary_changed' }, T0 - MIN);
    d.step({ type: 'visit_start', source: 'fob' }, T0);
    const end = T0 + 60 * MIN;
    // visit with a 20-minute interval: put it on the running visit
    const r = stepCheckin(d.state(), [visit({ status: 'active', startedAt: T0, checkinIntervalMin: 20 })], { type: 'checkin', source: 'fob' }, end + 3 * MIN, RULES);
    expect(r.state.due).toMatchObject({ at: end + 23 * MIN });
  });

  it("an officer's close of the missed-check-in alarm answers it too: asked again later, not re-raised", () => {
    const d = drive();
    d.step({ type: 'visit_start', source: 'fob' }, T0);
    const end = T0 + 60 * MIN;
    d.step({ type: 'tick' }, end);
    d.step({ type: 'tick' }, end + 5 * MIN);
    const closed = d.step({ type: 'alarm_closed', alarmId: 'alarm-1' }, end + 10 * MIN);
    expect(closed.state.missedAlarmId).toBeNull();
    expect(closed.state.due).toEqual({ at: end + 40 * MIN, reason: 'visit_end', visitId: 'v1' });
    expect(closed.effects).toEqual([]);
    expect(d.step({ type: 'tick' }, end + 16 * MIN).effects).toEqual([]);
  });
});
