/**
 * The Store contract (issues 18 and 19): what every Store implementation must do, as tests that any
 * of them can be run against. `describeStoreContract(name, makeStore)` covers the Store/StoreTx
 * interface (hub/store/store.ts); `describeChangeFeedContract` the change feed, and
 * `describeDueWorkContract` (due-work-contract.ts) the leased due work. Each test gets a fresh,
 * empty database from `makeStore()`; `open()` may be called again for a second instance on the same
 * database (another process: the CLI beside the hub, a second hub of a cluster).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangeFeedStore, ChangeFeedTx, ClaimedWork, Store, StoreTx } from '../../hub/store/store.js';
import type { AlarmRecord, DeviceRecord, NoticeRecord, PositionRecord, VisitRecord, WorkerRecord } from '../../hub/store/store-types.js';
import { DEFAULT_POLICIES } from '../../hub/rules/escalation-policy.js';
import { initialCheckinState } from '../../hub/rules/checkin-engine.js';
import { initialDeviceHealth } from '../../hub/rules/device-health-engine.js';

export interface StoreFixture<S extends Store = Store> {
  /** Opens an instance on this fixture's database (each call a new instance). */
  open(): Promise<S>;
  /** Removes the database (after every instance was closed). */
  dispose(): Promise<void>;
}
export type MakeStore<S extends Store = Store> = () => Promise<StoreFixture<S>>;

// ----- records for the tests -----

export function device(id: string, extra: Partial<DeviceRecord> = {}): DeviceRecord {
  return { id, workerId: null, board: 'puck', secretHash: `hash-${id}`, createdAt: 1_000, revokedAt: null, lastSeenAt: null, battery: null, online: false, firmware: null, ...extra };
}

export function worker(id: string, name: string, extra: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    id,
    name,
    phone: null,
    homeAddress: null,
    medicalNotes: null,
    car: null,
    emergencyContacts: null,
    buddyId: null,
    lineManagerId: null,
    trainingDate: null,
    newStarter: false,
    description: null,
    ...extra,
  };
}

export function visit(id: string, workerId: string, scheduledStart: number, extra: Partial<VisitRecord> = {}): VisitRecord {
  return {
    id,
    workerId,
    ref: `REF-${id}`,
    scheduledStart,
    expectedEnd: scheduledStart + 3_600_000,
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
    ...extra,
  };
}

export function alarm(id: string, extra: Partial<AlarmRecord> = {}): AlarmRecord {
  return {
    id,
    kind: 'sos',
    state: 'raised',
    priority: 1,
    workerId: 'sam',
    deviceId: 'fob-001',
    visitRef: null,
    sourceEventId: null,
    reason: 'SOS pressed',
    raisedAt: 10_000,
    acknowledgedAt: null,
    acknowledgedBy: null,
    closedAt: null,
    closedBy: null,
    drill: false,
    policy: DEFAULT_POLICIES.sos!,
    level: 0,
    round: 0,
    nextStepAt: null,
    reAlertAt: null,
    policeAt: null,
    lastSightingAt: null,
    stale: false,
    outcome: null,
    workerCancelledAt: null,
    ...extra,
  };
}

export function notice(id: string, extra: Partial<NoticeRecord> = {}): NoticeRecord {
  return {
    id,
    alarmId: 'a1',
    channel: 'email',
    level: 0,
    event: 'alert',
    parentId: null,
    via: null,
    onceKey: null,
    request: { alert: { title: 'SOS' }, recipients: ['duty@example.org'] },
    tried: ['email'],
    state: 'pending',
    outcome: null,
    ref: null,
    attempts: 0,
    fallbackPos: 0,
    firstAttemptAt: null,
    nextAttemptAt: null,
    createdAt: 20_000,
    finishedAt: null,
    ...extra,
  };
}

const user = (username: string) => ({ username, name: username.toUpperCase(), role: 'duty_officer' as const, passwordHash: 'scrypt$x', createdAt: 1, disabledAt: null, workerId: null });

/** Runs `fn` with a fresh fixture and its first instance; every instance opened is closed after. */
export function useStore<S extends Store>(makeStore: MakeStore<S>) {
  const ctx = {} as { fixture: StoreFixture<S>; store: S; open(): Promise<S> };
  let opened: S[] = [];
  beforeEach(async () => {
    opened = [];
    ctx.fixture = await makeStore();
    ctx.open = async () => {
      const s = await ctx.fixture.open();
      opened.push(s);
      return s;
    };
    ctx.store = await ctx.open();
  });
  afterEach(async () => {
    for (const s of opened) await s.close().catch(() => undefined);
    await ctx.fixture.dispose();
  });
  return ctx;
}

const tx = <T>(s: Store, fn: (t: StoreTx) => Promise<T>) => s.transaction(fn);
const rd = <T>(s: Store, fn: (t: StoreTx) => Promise<T>) => s.read(fn);

export function describeStoreContract<S extends Store>(name: string, makeStore: MakeStore<S>): void {
  describe(`Store contract: ${name}`, () => {
    const ctx = useStore(makeStore);

    it('devices: inserted, read back exactly, partly updated, listed by id; a duplicate id is refused and changes nothing', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.insertDevice(device('fob-b', { workerId: 'sam', battery: 80, online: true, firmware: '1.2' }));
        await t.insertDevice(device('fob-a'));
      });
      expect(await rd(s, (t) => t.getDevice('fob-b'))).toEqual(device('fob-b', { workerId: 'sam', battery: 80, online: true, firmware: '1.2' }));
      expect(await rd(s, (t) => t.getDevice('nope'))).toBeNull();
      await tx(s, (t) => t.updateDevice('fob-b', { revokedAt: 5_000, online: false }));
      expect(await rd(s, (t) => t.getDevice('fob-b'))).toMatchObject({ revokedAt: 5_000, online: false, battery: 80, workerId: 'sam' });
      await expect(tx(s, (t) => t.insertDevice(device('fob-a', { board: 'rak5010' })))).rejects.toThrow();
      expect((await rd(s, (t) => t.listDevices())).map((d) => [d.id, d.board])).toEqual([
        ['fob-a', 'puck'],
        ['fob-b', 'puck'],
      ]);
    });

    it('devices: listWorkerDevices gives one worker\'s devices by id, revoked ones too, and none of anyone else\'s', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.insertDevice(device('fob-z', { workerId: 'kim' }));
        await t.insertDevice(device('fob-c', { workerId: 'kim', revokedAt: 2_000 }));
        await t.insertDevice(device('fob-d', { workerId: 'lee' }));
        await t.insertDevice(device('fob-e'));
      });
      expect((await rd(s, (t) => t.listWorkerDevices('kim'))).map((d) => [d.id, d.revokedAt])).toEqual([
        ['fob-c', 2_000],
        ['fob-z', null],
      ]);
      expect((await rd(s, (t) => t.listWorkerDevices('lee'))).map((d) => d.id)).toEqual(['fob-d']);
      expect(await rd(s, (t) => t.listWorkerDevices('nobody'))).toEqual([]);
      // Reassigned: it leaves the old worker's list for the new one's.
      await tx(s, (t) => t.updateDevice('fob-d', { workerId: 'kim' }));
      expect((await rd(s, (t) => t.listWorkerDevices('kim'))).map((d) => d.id)).toEqual(['fob-c', 'fob-d', 'fob-z']);
      expect(await rd(s, (t) => t.listWorkerDevices('lee'))).toEqual([]);
    });

    it('devices: advancePresence takes only a newer presence time, and an unknown device changes nothing', async () => {
      const s = ctx.store;
      await tx(s, (t) => t.insertDevice(device('fob-p')));
      expect(await tx(s, (t) => t.advancePresence('fob-p', 2000))).toBe(true);
      // As old, or older: a presence handled out of order.
      expect(await tx(s, (t) => t.advancePresence('fob-p', 2000))).toBe(false);
      expect(await tx(s, (t) => t.advancePresence('fob-p', 1999))).toBe(false);
      expect(await tx(s, (t) => t.advancePresence('fob-p', 2001))).toBe(true);
      expect(await tx(s, (t) => t.advancePresence('fob-p', 2000))).toBe(false);
      expect(await tx(s, (t) => t.advancePresence('ghost', 5000))).toBe(false);
      // A rolled-back advance is not kept.
      await expect(
        tx(s, async (t) => {
          await t.advancePresence('fob-p', 9000);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await tx(s, (t) => t.advancePresence('fob-p', 3000))).toBe(true);
      // The device record itself is not touched by it.
      expect(await rd(s, (t) => t.getDevice('fob-p'))).toEqual(device('fob-p'));
    });

    it('devices: a drill fob cannot be given to a real worker (issue 16), on insert or update', async () => {
      const s = ctx.store;
      await expect(tx(s, (t) => t.insertDevice(device('drill-fob-1', { workerId: 'sam' })))).rejects.toThrow(/drill/);
      expect(await rd(s, (t) => t.getDevice('drill-fob-1'))).toBeNull();
      await tx(s, (t) => t.insertDevice(device('drill-fob-1')));
      await expect(tx(s, (t) => t.updateDevice('drill-fob-1', { workerId: 'sam' }))).rejects.toThrow(/drill/);
      expect(await rd(s, (t) => t.getDevice('drill-fob-1'))).toMatchObject({ workerId: null });
    });

    it('workers and contacts: upsert replaces every field; workers listed by name, contacts by role then name', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.upsertWorker(worker('w2', 'Zoe', { medicalNotes: 'asthma', newStarter: true, description: 'tall' }));
        await t.upsertWorker(worker('w1', 'Amir'));
        await t.upsertWorker(worker('w2', 'Bea', { trainingDate: '2026-03-01' }));
        await t.upsertContact({ id: 'c1', name: 'Nia', role: 'manager', email: 'nia@example.org', phone: null });
        await t.upsertContact({ id: 'c2', name: 'Ola', role: 'director', email: null, phone: '+441632960000' });
        await t.upsertContact({ id: 'c3', name: 'Ali', role: 'manager', email: null, phone: null });
      });
      // The second upsert of w2 replaced the first entirely (the medical notes went with it).
      expect(await rd(s, (t) => t.getWorker('w2'))).toEqual(worker('w2', 'Bea', { trainingDate: '2026-03-01' }));
      expect((await rd(s, (t) => t.listWorkers())).map((w) => w.name)).toEqual(['Amir', 'Bea']);
      expect((await rd(s, (t) => t.listContacts())).map((c) => c.id)).toEqual(['c2', 'c3', 'c1']);
      expect(await rd(s, (t) => t.getContact('c2'))).toEqual({ id: 'c2', name: 'Ola', role: 'director', email: null, phone: '+441632960000' });
      expect(await rd(s, (t) => t.getContact('nope'))).toBeNull();
    });

    it('visits: round trip with policy flags, partial update, listed in [from, to) by scheduled start', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.insertVisit(visit('v3', 'sam', 3_000));
        await t.insertVisit(visit('v1', 'sam', 1_000, { riskCategory: 2, rag: 'red', policyFlags: ['no_second_worker', 'training_lapsed'], unplanned: true, contactName: 'Mrs Jones' }));
        await t.insertVisit(visit('v2', 'sam', 2_000));
        await t.insertVisit(visit('vx', 'other', 2_000));
      });
      expect(await rd(s, (t) => t.getVisit('v1'))).toEqual(
        visit('v1', 'sam', 1_000, { riskCategory: 2, rag: 'red', policyFlags: ['no_second_worker', 'training_lapsed'], unplanned: true, contactName: 'Mrs Jones' }),
      );
      await tx(s, (t) => t.updateVisit('v2', { status: 'active', startedAt: 2_100, policyFlags: ['late'] }));
      expect(await rd(s, (t) => t.getVisit('v2'))).toMatchObject({ status: 'active', startedAt: 2_100, policyFlags: ['late'], ref: 'REF-v2' });
      expect((await rd(s, (t) => t.listVisits('sam', 1_000, 3_000))).map((v) => v.id)).toEqual(['v1', 'v2']);
      expect((await rd(s, (t) => t.listVisits('sam', 0, 10_000))).map((v) => v.id)).toEqual(['v1', 'v2', 'v3']);
      expect(await rd(s, (t) => t.getVisit('nope'))).toBeNull();
    });

    it('fob events: (deviceId, eventId) is stored once; a retry answers false; another device may reuse the id', async () => {
      const s = ctx.store;
      const e = { deviceId: 'fob-001', eventId: '7-1', kind: 'sos', receivedAt: 100, eventAt: 90, payload: '{"i":"7-1","k":"sos"}' };
      expect(await tx(s, (t) => t.insertFobEvent(e))).toBe(true);
      expect(await tx(s, (t) => t.insertFobEvent({ ...e, receivedAt: 200, payload: 'retry' }))).toBe(false);
      expect(await tx(s, (t) => t.insertFobEvent({ ...e, deviceId: 'fob-002' }))).toBe(true);
      expect(await rd(s, (t) => t.countFobEvents('fob-001'))).toBe(1);
      expect(await rd(s, (t) => t.countFobEvents('fob-002'))).toBe(1);
      expect(await rd(s, (t) => t.countFobEvents('fob-003'))).toBe(0);
    });

    it('fob events: listed by device and kind from a received time, oldest first', async () => {
      const s = ctx.store;
      const ev = (deviceId: string, eventId: string, kind: string, receivedAt: number) => ({ deviceId, eventId, kind, receivedAt, eventAt: receivedAt - 5, payload: `{"i":"${eventId}","k":"${kind}"}` });
      await tx(s, async (t) => {
        await t.insertFobEvent(ev('fob-001', '2-3', 'can', 300));
        await t.insertFobEvent(ev('fob-001', '2-1', 'can', 100));
        await t.insertFobEvent(ev('fob-001', '2-2', 'sos', 200));
        await t.insertFobEvent(ev('fob-002', '2-4', 'can', 400));
      });
      expect(await rd(s, (t) => t.listFobEvents('fob-001', 'can', 0))).toEqual([ev('fob-001', '2-1', 'can', 100), ev('fob-001', '2-3', 'can', 300)]);
      expect(await rd(s, (t) => t.listFobEvents('fob-001', 'can', 101))).toEqual([ev('fob-001', '2-3', 'can', 300)]);
      expect(await rd(s, (t) => t.listFobEvents('fob-001', 'chk', 0))).toEqual([]);
      expect(await rd(s, (t) => t.listFobEvents('fob-003', 'can', 0))).toEqual([]);
    });

    it('alarms: round trip (policy snapshot, drill, stale), update, found by source; one alarm per source event', async () => {
      const s = ctx.store;
      const a = alarm('a1', { sourceEventId: '7-1', drill: true, stale: true, nextStepAt: 70_000, visitRef: 'REF-1' });
      await tx(s, (t) => t.insertAlarm(a));
      expect(await rd(s, (t) => t.getAlarm('a1'))).toEqual(a);
      expect(await rd(s, (t) => t.findAlarmBySource('fob-001', '7-1'))).toEqual(a);
      expect(await rd(s, (t) => t.findAlarmBySource('fob-002', '7-1'))).toBeNull();
      const acked = { ...a, state: 'acknowledged' as const, acknowledgedAt: 30_000, acknowledgedBy: 'ada', level: 1, nextStepAt: null, reAlertAt: 90_000, outcome: null };
      await tx(s, (t) => t.updateAlarm(acked));
      expect(await rd(s, (t) => t.getAlarm('a1'))).toEqual(acked);
      await expect(tx(s, (t) => t.insertAlarm(alarm('a2', { sourceEventId: '7-1' })))).rejects.toThrow();
      expect(await rd(s, (t) => t.getAlarm('a2'))).toBeNull();
      // Alarms not from a fob event (a missed check-in) have no source and never collide.
      await tx(s, async (t) => {
        await t.insertAlarm(alarm('a3', { kind: 'missed_checkin' }));
        await t.insertAlarm(alarm('a4', { kind: 'missed_checkin' }));
      });
      expect(await rd(s, (t) => t.getAlarm('a4'))).toMatchObject({ kind: 'missed_checkin', sourceEventId: null });
    });

    it('alarms: listed newest first, filtered by open, worker, device and kind, with a limit', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.insertAlarm(alarm('old', { raisedAt: 1_000, state: 'resolved', closedAt: 2_000, closedBy: 'ada', outcome: 'false_alarm' }));
        await t.insertAlarm(alarm('mid', { raisedAt: 2_000, kind: 'covert_sos', workerId: 'kim', deviceId: 'fob-002', state: 'acknowledged' }));
        await t.insertAlarm(alarm('new', { raisedAt: 3_000, state: 'notifying' }));
        await t.insertAlarm(alarm('gone', { raisedAt: 2_500, state: 'cancelled', closedAt: 2_600 }));
        await t.insertAlarm(alarm('tired', { raisedAt: 1_500, state: 'exhausted' }));
      });
      const ids = async (f: Parameters<StoreTx['listAlarms']>[0]) => (await rd(s, (t) => t.listAlarms(f))).map((a) => a.id);
      expect(await ids({})).toEqual(['new', 'gone', 'mid', 'tired', 'old']);
      expect(await ids({ open: true })).toEqual(['new', 'mid', 'tired']);
      expect(await ids({ open: false })).toEqual(['gone', 'old']);
      expect(await ids({ workerId: 'kim' })).toEqual(['mid']);
      expect(await ids({ deviceId: 'fob-001', open: true })).toEqual(['new', 'tired']);
      expect(await ids({ kind: 'covert_sos' })).toEqual(['mid']);
      expect(await ids({ limit: 2 })).toEqual(['new', 'gone']);
      expect((await rd(s, (t) => t.getAlarm('old')))?.outcome).toBe('false_alarm');
      // Counted with the same filter; the limit does not cap the count.
      const count = (f: Parameters<StoreTx['countAlarms']>[0]) => rd(s, (t) => t.countAlarms(f));
      expect(await count({})).toBe(5);
      expect(await count({ open: true, limit: 1 })).toBe(3);
      expect(await count({ open: false })).toBe(2);
      expect(await count({ deviceId: 'fob-001', open: true })).toBe(2);
      expect(await count({ kind: 'man_down' })).toBe(0);
    });

    it("alarms in the board's order: open first, loudest kind first, then newest; a limit keeps the loudest open ones (R3)", async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        // The oldest alarm is the open SOS: newest first, a limit of 3 would leave it out.
        await t.insertAlarm(alarm('sos-old', { raisedAt: 1_000, kind: 'sos', state: 'exhausted' }));
        await t.insertAlarm(alarm('batt-1', { raisedAt: 2_000, kind: 'low_battery', sourceEventId: null, state: 'notifying' }));
        await t.insertAlarm(alarm('batt-2', { raisedAt: 3_000, kind: 'low_battery', sourceEventId: null, state: 'notifying' }));
        await t.insertAlarm(alarm('missed', { raisedAt: 4_000, kind: 'missed_checkin', sourceEventId: null, state: 'raised' }));
        await t.insertAlarm(alarm('sos-closed', { raisedAt: 5_000, kind: 'sos', sourceEventId: 'e-5', state: 'resolved', closedAt: 5_500 }));
        await t.insertAlarm(alarm('batt-closed', { raisedAt: 6_000, kind: 'low_battery', sourceEventId: null, state: 'cancelled', closedAt: 6_500 }));
      });
      const ids = async (f: Parameters<StoreTx['listAlarms']>[0]) => (await rd(s, (t) => t.listAlarms(f))).map((a) => a.id);
      expect(await ids({ order: 'loudest' })).toEqual(['sos-old', 'missed', 'batt-2', 'batt-1', 'batt-closed', 'sos-closed']);
      expect(await ids({ open: true, order: 'loudest', limit: 2 })).toEqual(['sos-old', 'missed']);
      expect(await ids({ open: true, limit: 2 })).toEqual(['missed', 'batt-2']);
    });

    it('timeline: entries kept in the order appended, in one call and across calls, with increasing seq; unknown alarm refused', async () => {
      const s = ctx.store;
      await tx(s, (t) => t.insertAlarm(alarm('a1')));
      await tx(s, (t) => t.insertAlarm(alarm('a2')));
      await tx(s, (t) =>
        t.appendTimeline('a1', [
          { at: 500, type: 'raised', actor: 'fob-001', detail: { kind: 'sos' } },
          { at: 100, type: 'notify', actor: 'hub', detail: { level: 0, channels: ['dashboard', 'email'] } },
        ]),
      );
      await tx(s, (t) => t.appendTimeline('a2', [{ at: 1, type: 'raised', actor: 'x', detail: {} }]));
      await tx(s, (t) => t.appendTimeline('a1', [{ at: 50, type: 'acknowledged', actor: 'ada', detail: { note: 'calling' } }]));
      const tl = await rd(s, (t) => t.getTimeline('a1'));
      // Order is the order written (seq), not the time field: the record shows what happened when.
      expect(tl.map((e) => [e.type, e.at, e.actor])).toEqual([
        ['raised', 500, 'fob-001'],
        ['notify', 100, 'hub'],
        ['acknowledged', 50, 'ada'],
      ]);
      expect(tl[1]).toMatchObject({ alarmId: 'a1', detail: { level: 0, channels: ['dashboard', 'email'] } });
      expect(tl[0]!.seq).toBeLessThan(tl[1]!.seq);
      expect(tl[1]!.seq).toBeLessThan(tl[2]!.seq);
      expect(await rd(s, (t) => t.getTimeline('a2'))).toHaveLength(1);
      await tx(s, (t) => t.appendTimeline('a1', []));
      expect(await rd(s, (t) => t.getTimeline('a1'))).toHaveLength(3);
      await expect(tx(s, (t) => t.appendTimeline('nope', [{ at: 1, type: 'raised', actor: 'x', detail: {} }]))).rejects.toThrow();
      expect(await rd(s, (t) => t.getTimeline('nope'))).toEqual([]);
    });

    it('rule state: check-in and health states round trip beside their due work, written in the same transaction', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.putCheckinState(
          { workerId: 'sam', onShift: true, activeVisitId: 'v1', lastCheckInAt: 100, due: { at: 5_000, reason: 'visit_end', visitId: 'v1' }, promptedAt: null, missedAlarmId: null, lastSighting: null, shiftEndedAt: null },
          5_000,
        );
        await t.scheduleWork('worker', 'sam', 5_000);
        await t.putDeviceHealth({ deviceId: 'fob-001', lastSeenAt: 100, battery: 50, lowBatteryAlarmId: null, lowBatteryRaised: false, silentAlarmId: null, silentRaised: false }, 6_000);
        await t.scheduleWork('device', 'fob-001', 6_000);
      });
      expect(await rd(s, (t) => t.getCheckinState('sam'))).toMatchObject({ workerId: 'sam', activeVisitId: 'v1', due: { at: 5_000, visitId: 'v1' } });
      expect(await rd(s, (t) => t.getDeviceHealth('fob-001'))).toMatchObject({ battery: 50 });
      expect(await rd(s, (t) => t.getCheckinState('nobody'))).toBeNull();
      expect(await rd(s, (t) => t.getDeviceHealth('nothing'))).toBeNull();
      expect(await s.getWork('worker', 'sam')).toEqual({ kind: 'worker', key: 'sam', dueAt: 5_000, payload: null, attempts: 0 });
      await tx(s, async (t) => {
        const st = (await t.getCheckinState('sam'))!;
        await t.putCheckinState({ ...st, due: null }, null);
        await t.scheduleWork('worker', 'sam', null);
        await t.putDeviceHealth({ ...(await t.getDeviceHealth('fob-001'))!, battery: 40 }, 12_000);
        await t.scheduleWork('device', 'fob-001', 12_000);
      });
      expect(await rd(s, (t) => t.getCheckinState('sam'))).toMatchObject({ due: null });
      expect(await rd(s, (t) => t.getDeviceHealth('fob-001'))).toMatchObject({ battery: 40 });
      expect((await s.listWork('device', 10)).map((w) => w.dueAt)).toEqual([12_000]);
      expect(await s.getWork('worker', 'sam')).toBeNull();
    });

    it('emergency contacts (schema v10): kept in the order given, replaced as a whole, per worker; the old text stays as it was', async () => {
      const s = ctx.store;
      const ravi = { name: 'Ravi Khan', relationship: 'brother', phone: '07700 900002' };
      const pat = { name: 'Pat', relationship: null, phone: '+441632960001' };
      const lee = { name: 'Lee', relationship: 'partner', phone: null };
      await tx(s, async (t) => {
        await t.upsertWorker(worker('sam', 'Sam', { emergencyContacts: 'Ravi Khan (brother): 07700 900002' }));
        await t.upsertWorker(worker('kim', 'Kim'));
        await t.setEmergencyContacts('sam', [pat, ravi]);
        await t.setEmergencyContacts('kim', [lee]);
      });
      expect(await rd(s, (t) => t.listEmergencyContacts('sam'))).toEqual([pat, ravi]);
      await tx(s, (t) => t.setEmergencyContacts('sam', [ravi]));
      expect(await rd(s, (t) => t.listEmergencyContacts('sam'))).toEqual([ravi]);
      expect(await rd(s, (t) => t.listEmergencyContacts('kim'))).toEqual([lee]);
      expect((await rd(s, (t) => t.getWorker('sam')))?.emergencyContacts).toBe('Ravi Khan (brother): 07700 900002');
      await tx(s, (t) => t.setEmergencyContacts('sam', []));
      expect(await rd(s, (t) => t.listEmergencyContacts('sam'))).toEqual([]);
      expect(await rd(s, (t) => t.listEmergencyContacts('nobody'))).toEqual([]);
      // A contact of a worker who is not there is refused, and the contacts that were there stay.
      await expect(tx(s, (t) => t.setEmergencyContacts('ghost', [lee]))).rejects.toThrow();
      await expect(
        tx(s, async (t) => {
          await t.setEmergencyContacts('kim', [pat]);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await rd(s, (t) => t.listEmergencyContacts('kim'))).toEqual([lee]);
    });

    it('positions (issue 20): latest by fix time, listed in a window, the last before an alarm but not its own, an alarm\'s own; pruning keeps alarm fixes', async () => {
      const s = ctx.store;
      const fix = (fixAt: number, extra: Partial<PositionRecord> = {}): PositionRecord => ({
        deviceId: 'fob-001',
        workerId: 'sam',
        alarmId: null,
        fixAt,
        receivedAt: fixAt + 50,
        lat: 51.501234567,
        lon: -0.141234567,
        accuracyM: 12,
        source: 'gnss',
        ...extra,
      });
      await tx(s, async (t) => {
        await t.insertPosition(fix(3_000));
        await t.insertPosition(fix(1_000, { lat: 51.5, lon: -0.1 }));
        await t.insertPosition(fix(2_000, { receivedAt: 9_000 }));
        await t.insertPosition(fix(4_000, { alarmId: 'a1', source: 'phone', accuracyM: 40 }));
        await t.insertPosition(fix(5_000, { alarmId: 'a1' }));
        await t.insertPosition(fix(2_500, { deviceId: 'fob-002', workerId: 'kim' }));
      });
      // Fractions of a degree come back exactly (a float, as sent).
      expect(await rd(s, (t) => t.latestPosition('fob-001'))).toEqual(fix(5_000, { alarmId: 'a1' }));
      expect(await rd(s, (t) => t.latestPosition('fob-009'))).toBeNull();
      expect((await rd(s, (t) => t.listPositions('fob-001', 1_000, 3_000, 10))).map((p) => p.fixAt)).toEqual([1_000, 2_000, 3_000]);
      expect((await rd(s, (t) => t.listPositions('fob-001', 0, 10_000, 2))).map((p) => p.fixAt)).toEqual([1_000, 2_000]);
      expect(await rd(s, (t) => t.listPositions('fob-001', 1_000, 1_000, 10))).toEqual([fix(1_000, { lat: 51.5, lon: -0.1 })]);
      // The last known place before the alarm: not one of the alarm's own fixes.
      expect((await rd(s, (t) => t.positionBefore('fob-001', 6_000, 'a1')))?.fixAt).toBe(3_000);
      expect((await rd(s, (t) => t.positionBefore('fob-001', 6_000, null)))?.fixAt).toBe(5_000);
      expect((await rd(s, (t) => t.positionBefore('fob-001', 3_000, null)))?.fixAt).toBe(2_000);
      expect(await rd(s, (t) => t.positionBefore('fob-001', 1_000, null))).toBeNull();
      expect(await rd(s, (t) => t.listAlarmPositions('a1', 10))).toEqual([fix(4_000, { alarmId: 'a1', source: 'phone', accuracyM: 40 }), fix(5_000, { alarmId: 'a1' })]);
      expect((await rd(s, (t) => t.listAlarmPositions('a1', 1))).map((p) => p.fixAt)).toEqual([4_000]);
      // Received before 5,000 and of no alarm: the fixes at 1,000, 3,000 (fob-001) and 2,500 (fob-002).
      expect(await tx(s, (t) => t.prunePositions(5_000))).toBe(3);
      expect((await rd(s, (t) => t.listPositions('fob-001', 0, 10_000, 10))).map((p) => p.fixAt)).toEqual([2_000, 4_000, 5_000]);
      expect(await rd(s, (t) => t.latestPosition('fob-002'))).toBeNull();
      expect(await tx(s, (t) => t.prunePositions(5_000))).toBe(0);
    });

    it('notices: stored once per id and once per onceKey; updated in part; listed in creation order; children by parent', async () => {
      const s = ctx.store;
      expect(await tx(s, (t) => t.insertNotice(notice('n1', { onceKey: 'a1:arc:alert', channel: 'arc' })))).toBe(true);
      expect(await tx(s, (t) => t.insertNotice(notice('n1', { channel: 'sms' })))).toBe(false);
      expect(await tx(s, (t) => t.insertNotice(notice('n2', { onceKey: 'a1:arc:alert', channel: 'arc' })))).toBe(false);
      expect(await rd(s, (t) => t.getNotice('n2'))).toBeNull();
      expect(await rd(s, (t) => t.getNoticeByOnceKey('a1:arc:alert'))).toMatchObject({ id: 'n1', channel: 'arc' });
      expect(await rd(s, (t) => t.getNoticeByOnceKey('a1:arc:closed'))).toBeNull();
      await tx(s, async (t) => {
        await t.insertNotice(notice('n4', { createdAt: 20_000 }));
        await t.insertNotice(notice('n3', { createdAt: 20_000 }));
        await t.insertNotice(notice('n0', { createdAt: 10_000 }));
        await t.insertNotice(notice('c2', { parentId: 'n4', via: 'email', channel: 'sms', createdAt: 30_000 }));
        await t.insertNotice(notice('c1', { parentId: 'n4', via: 'email', channel: 'webhook', createdAt: 25_000 }));
        await t.insertNotice(notice('other', { alarmId: 'a2' }));
      });
      // Creation time first, then the order written (n4 before n3 at the same millisecond).
      expect((await rd(s, (t) => t.listNotices('a1'))).map((n) => n.id)).toEqual(['n0', 'n1', 'n4', 'n3', 'c1', 'c2']);
      expect((await rd(s, (t) => t.listNoticeChildren('n4'))).map((n) => n.id)).toEqual(['c2', 'c1']);
      await tx(s, (t) => t.updateNotice('n4', { state: 'falling', tried: ['email', 'sms'], attempts: 3, nextAttemptAt: 40_000, request: { changed: true } }));
      expect(await rd(s, (t) => t.getNotice('n4'))).toEqual(
        notice('n4', { state: 'falling', tried: ['email', 'sms'], attempts: 3, nextAttemptAt: 40_000, request: { changed: true } }),
      );
      await tx(s, (t) => t.updateNotice('n0', { state: 'done', outcome: 'delivered', finishedAt: 11_000 }));
      expect((await s.unfinishedNotices()).map((n) => n.id)).toEqual(['n1', 'n4', 'n3', 'other', 'c1', 'c2']);
    });

    it('notice references: given out in order, lastNoticeRef answers the last given (not the last acknowledged, not the largest), findNoticeByRef the latest', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        for (const id of ['r1', 'r2', 'r3']) await t.insertNotice(notice(id, { channel: 'arc', createdAt: 1_000 }));
        await t.insertNotice(notice('e1', { channel: 'sms' }));
      });
      expect(await rd(s, (t) => t.lastNoticeRef('arc'))).toBeNull();
      await tx(s, (t) => t.assignNoticeRef('r2', '0009'));
      await tx(s, (t) => t.assignNoticeRef('r1', '0010'));
      await tx(s, (t) => t.updateNotice('r2', { state: 'done', outcome: 'delivered', finishedAt: 5_000 }));
      // r1 ('0010') was given out after r2 and is still pending: it is the last one given.
      expect(await rd(s, (t) => t.lastNoticeRef('arc'))).toBe('0010');
      await tx(s, (t) => t.assignNoticeRef('r3', '0002'));
      expect(await rd(s, (t) => t.lastNoticeRef('arc'))).toBe('0002');
      expect(await rd(s, (t) => t.lastNoticeRef('sms'))).toBeNull();
      // A far-end reference reused later (an SMS message reference wraps): the latest notice answers.
      await tx(s, async (t) => {
        await t.updateNotice('e1', { ref: '17', state: 'done', outcome: 'delivered', finishedAt: 21_000 });
        await t.insertNotice(notice('e2', { channel: 'sms', createdAt: 30_000, ref: '17' }));
      });
      expect((await rd(s, (t) => t.findNoticeByRef('sms', '17')))?.id).toBe('e2');
      expect(await rd(s, (t) => t.findNoticeByRef('sms', '99'))).toBeNull();
      // From before references were kept in order: the last delivered one counts.
      expect(await rd(s, (t) => t.lastNoticeRef('sms'))).toBe('17');
    });

    it('pruneNotices: removes finished notices of alarms closed before the cut, keeping per channel the one lastNoticeRef reads', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.insertAlarm(alarm('a1', { state: 'resolved', closedAt: 1_000 }));
        await t.insertAlarm(alarm('a2', { state: 'resolved', closedAt: 9_000 }));
        await t.insertAlarm(alarm('a3', { state: 'notifying' }));
        await t.insertNotice(notice('p1', { alarmId: 'a1', channel: 'arc', state: 'done', outcome: 'delivered', finishedAt: 900 }));
        await t.insertNotice(notice('p2', { alarmId: 'a1', channel: 'arc', state: 'done', outcome: 'delivered', finishedAt: 950 }));
        await t.insertNotice(notice('p3', { alarmId: 'a1', channel: 'email', state: 'done', outcome: 'undeliverable', finishedAt: 990 }));
        await t.insertNotice(notice('p4', { alarmId: 'a1', channel: 'email', state: 'pending' }));
        await t.insertNotice(notice('q1', { alarmId: 'a2', channel: 'arc', state: 'done', outcome: 'delivered', finishedAt: 8_000 }));
        await t.insertNotice(notice('q2', { alarmId: 'a3', channel: 'email', state: 'done', outcome: 'delivered', finishedAt: 8_000 }));
      });
      await tx(s, async (t) => {
        await t.assignNoticeRef('p1', '0001');
        await t.assignNoticeRef('p2', '0002');
      });
      expect(await s.pruneNotices(5_000)).toBe(2);
      const left = async (alarmId: string) => (await rd(s, (t) => t.listNotices(alarmId))).map((n) => n.id);
      // p1 and p3 go; p2 stays (the arc's last reference), p4 is unfinished; a2 closed after the cut, a3 open.
      expect(await left('a1')).toEqual(['p2', 'p4']);
      expect(await left('a2')).toEqual(['q1']);
      expect(await left('a3')).toEqual(['q2']);
      expect(await rd(s, (t) => t.lastNoticeRef('arc'))).toBe('0002');
      expect(await s.pruneNotices(5_000)).toBe(0);
    });

    it('audit: appended and listed newest first, at most `limit`', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.appendAudit({ at: 1, actor: 'ada', action: 'view_private', subject: 'worker:sam', detail: { fields: ['phone'] } });
        await t.appendAudit({ at: 2, actor: 'ada', action: 'revoke', subject: 'device:fob-001', detail: {} });
      });
      await tx(s, (t) => t.appendAudit({ at: 3, actor: 'bob', action: 'close', subject: 'alarm:a1', detail: { outcome: 'test' } }));
      expect(await s.listAudit(10)).toEqual([
        { at: 3, actor: 'bob', action: 'close', subject: 'alarm:a1', detail: { outcome: 'test' } },
        { at: 2, actor: 'ada', action: 'revoke', subject: 'device:fob-001', detail: {} },
        { at: 1, actor: 'ada', action: 'view_private', subject: 'worker:sam', detail: { fields: ['phone'] } },
      ]);
      expect((await s.listAudit(1)).map((e) => e.at)).toEqual([3]);
    });

    it('users: inserted, updated in part, listed by name; a second user of the same name is refused', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.insertUser(user('zed'));
        await t.insertUser({ ...user('amy'), role: 'worker', workerId: 'sam' });
      });
      await tx(s, (t) => t.updateUser('zed', { disabledAt: 77, role: 'admin' }));
      expect(await rd(s, (t) => t.getUser('zed'))).toEqual({ ...user('zed'), disabledAt: 77, role: 'admin' });
      expect(await rd(s, (t) => t.getUser('amy'))).toMatchObject({ role: 'worker', workerId: 'sam' });
      expect(await rd(s, (t) => t.getUser('nobody'))).toBeNull();
      await expect(tx(s, (t) => t.insertUser({ ...user('amy'), name: 'other' }))).rejects.toThrow();
      expect((await rd(s, (t) => t.listUsers())).map((u) => [u.username, u.name])).toEqual([
        ['amy', 'AMY'],
        ['zed', 'ZED'],
      ]);
    });

    it('sessions: expire strictly before `now`, are counted from `now` on, end per user; a session needs its user', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.insertUser(user('ada'));
        await t.insertUser(user('bob'));
        await t.insertSession({ idHash: 's-old', username: 'ada', csrf: 'c1', createdAt: 1, expiresAt: 999 });
        await t.insertSession({ idHash: 's-edge', username: 'ada', csrf: 'c2', createdAt: 1, expiresAt: 1_000 });
        await t.insertSession({ idHash: 's-new', username: 'ada', csrf: 'c3', createdAt: 1, expiresAt: 5_000 });
        await t.insertSession({ idHash: 's-bob', username: 'bob', csrf: 'c4', createdAt: 1, expiresAt: 5_000 });
      });
      expect(await rd(s, (t) => t.getSession('s-new'))).toEqual({ idHash: 's-new', username: 'ada', csrf: 'c3', createdAt: 1, expiresAt: 5_000 });
      expect(await rd(s, (t) => t.countUserSessions('ada', 1_000))).toBe(2);
      expect(await tx(s, (t) => t.deleteExpiredSessions(1_000))).toBe(1);
      expect(await rd(s, (t) => t.getSession('s-old'))).toBeNull();
      expect(await rd(s, (t) => t.getSession('s-edge'))).not.toBeNull();
      await tx(s, (t) => t.deleteSession('s-edge'));
      expect(await rd(s, (t) => t.countUserSessions('ada', 0))).toBe(1);
      expect(await tx(s, (t) => t.deleteUserSessions('ada'))).toBe(1);
      expect(await tx(s, (t) => t.deleteUserSessions('ada'))).toBe(0);
      expect(await rd(s, (t) => t.getSession('s-bob'))).not.toBeNull();
      await expect(tx(s, (t) => t.insertSession({ idHash: 's-x', username: 'ghost', csrf: 'c', createdAt: 1, expiresAt: 2 }))).rejects.toThrow();
      expect(await rd(s, (t) => t.getSession('s-x'))).toBeNull();
    });

    it('API tokens: found by hash, revoked and used in part, listed by creation; a token hash is unique', async () => {
      const s = ctx.store;
      const tok = (id: string, createdAt: number) => ({ id, name: `int-${id}`, role: 'manager' as const, tokenHash: `h-${id}`, createdBy: 'ada', createdAt, revokedAt: null, lastUsedAt: null });
      await tx(s, async (t) => {
        await t.insertApiToken(tok('t2', 20));
        await t.insertApiToken(tok('t1', 10));
      });
      await tx(s, (t) => t.updateApiToken('t2', { lastUsedAt: 30, revokedAt: 40 }));
      expect(await rd(s, (t) => t.getApiTokenByHash('h-t2'))).toEqual({ ...tok('t2', 20), lastUsedAt: 30, revokedAt: 40 });
      expect(await rd(s, (t) => t.getApiTokenByHash('h-none'))).toBeNull();
      expect((await rd(s, (t) => t.listApiTokens())).map((x) => x.id)).toEqual(['t1', 't2']);
      await expect(tx(s, (t) => t.insertApiToken({ ...tok('t3', 50), tokenHash: 'h-t1' }))).rejects.toThrow();
      expect(await rd(s, (t) => t.listApiTokens())).toHaveLength(2);
    });

    it('heartbeats: one batch updates many devices, the last beat of a device wins, an unknown device is ignored', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        for (const id of ['fob-1', 'fob-2', 'fob-3']) await t.insertDevice(device(id));
      });
      await s.recordHeartbeats([
        { deviceId: 'fob-2', at: 100, battery: 90 },
        { deviceId: 'fob-1', at: 110, battery: 80 },
        { deviceId: 'ghost', at: 120, battery: 10 },
        { deviceId: 'fob-2', at: 130, battery: 89 },
      ]);
      await s.recordHeartbeats([]);
      const got = await rd(s, (t) => t.listDevices());
      expect(got.map((d) => [d.id, d.lastSeenAt, d.battery])).toEqual([
        ['fob-1', 110, 80],
        ['fob-2', 130, 89],
        ['fob-3', null, null],
      ]);
      expect(await rd(s, (t) => t.getDevice('ghost'))).toBeNull();
    });

    it('heartbeats only move a device forward: a beat older than the stored one changes nothing (a redelivered cluster batch)', async () => {
      const s = ctx.store;
      await tx(s, (t) => t.insertDevice(device('fob-1')));
      await s.recordHeartbeats([{ deviceId: 'fob-1', at: 500, battery: 70 }]);
      // Older, arriving later: both in one batch and in a batch of its own.
      await s.recordHeartbeats([
        { deviceId: 'fob-1', at: 300, battery: 95 },
        { deviceId: 'fob-1', at: 400, battery: 94 },
      ]);
      expect((await rd(s, (t) => t.getDevice('fob-1')))?.lastSeenAt).toBe(500);
      expect((await rd(s, (t) => t.getDevice('fob-1')))?.battery).toBe(70);
      await s.recordHeartbeats([
        { deviceId: 'fob-1', at: 700, battery: 60 },
        { deviceId: 'fob-1', at: 600, battery: 65 },
      ]);
      const d = await rd(s, (t) => t.getDevice('fob-1'));
      expect([d?.lastSeenAt, d?.battery]).toEqual([700, 60]);
    });

    // The heartbeat batch (issue 19, docs/cluster.md "Heartbeat cost on PostgreSQL").
    it('recordBeats: keeps each device\'s newest beat of the batch, moves devices only forward, ignores unknown and revoked devices, and answers what the rules need', async () => {
      const s = ctx.store;
      await tx(s, async (t) => {
        await t.insertDevice(device('fob-a', { workerId: 'sam' }));
        await t.insertDevice(device('fob-b', { workerId: 'sam' }));
        await t.insertDevice(device('fob-c', { lastSeenAt: 900, battery: 40 }));
        await t.insertDevice(device('fob-r', { revokedAt: 50 }));
        await t.insertDevice(device('fob-n'));
        await t.putCheckinState({ ...initialCheckinState('sam'), onShift: true }, null);
        await t.putDeviceHealth({ ...initialDeviceHealth('fob-a'), battery: 77, lastSeenAt: 10 }, 5_000);
      });
      const answered = await tx(s, (t) =>
        t.recordBeats([
          // fob-a twice, the newer first (a dead worker's redelivered older beat after it): the newer is kept.
          { deviceId: 'fob-a', at: 200, battery: 60 },
          { deviceId: 'fob-a', at: 100, battery: 99 },
          { deviceId: 'fob-b', at: 150, battery: 55 },
          { deviceId: 'fob-b', at: 160, battery: 54 },
          // Older than the stored one: nothing changes, not answered.
          { deviceId: 'fob-c', at: 800, battery: 95 },
          { deviceId: 'fob-r', at: 300, battery: 30 },
          { deviceId: 'ghost', at: 300, battery: 30 },
        ]),
      );
      expect(answered.map((c) => [c.device.id, c.device.lastSeenAt, c.device.battery, c.beat.at, c.beat.battery])).toEqual([
        ['fob-a', 200, 60, 200, 60],
        ['fob-b', 160, 54, 160, 54],
      ]);
      expect(answered[0]!.health).toEqual({ ...initialDeviceHealth('fob-a'), battery: 77, lastSeenAt: 10 });
      expect(answered[1]!.health).toBeNull();
      expect(answered.map((c) => c.shift?.onShift)).toEqual([true, true]);
      const rows = await rd(s, (t) => t.listDevices());
      expect(rows.map((d) => [d.id, d.lastSeenAt, d.battery])).toEqual([
        ['fob-a', 200, 60],
        ['fob-b', 160, 54],
        ['fob-c', 900, 40],
        ['fob-n', null, null],
        ['fob-r', null, null],
      ]);
      expect(await rd(s, (t) => t.getDevice('ghost'))).toBeNull();
      // Redelivered later: the same beat again is answered (nothing newer is stored), an older one is not.
      const again = await tx(s, (t) => t.recordBeats([{ deviceId: 'fob-a', at: 200, battery: 60 }, { deviceId: 'fob-b', at: 150, battery: 99 }]));
      expect(again.map((c) => c.device.id)).toEqual(['fob-a']);
      expect((await rd(s, (t) => t.getDevice('fob-b')))?.battery).toBe(54);
      expect(await tx(s, (t) => t.recordBeats([]))).toEqual([]);
      // A device without a worker has no shift to read.
      const c = await tx(s, (t) => t.recordBeats([{ deviceId: 'fob-n', at: 5, battery: 88 }]));
      expect(c.map((x) => [x.device.id, x.shift, x.health])).toEqual([['fob-n', null, null]]);
    });

    it('recordBeats rolls back with its transaction', async () => {
      const s = ctx.store;
      await tx(s, (t) => t.insertDevice(device('fob-a')));
      await expect(
        tx(s, async (t) => {
          await t.recordBeats([{ deviceId: 'fob-a', at: 100, battery: 50 }]);
          throw new Error('stop');
        }),
      ).rejects.toThrow('stop');
      expect((await rd(s, (t) => t.getDevice('fob-a')))?.lastSeenAt).toBeNull();
    });

    it('batched writes: health and check-in states for many keys (the last given for a key wins), deadlines armed, moved and cancelled, visits of many workers', async () => {
      const s = ctx.store;
      const h = (id: string, battery: number) => ({ ...initialDeviceHealth(id), battery, lastSeenAt: 1 });
      await tx(s, async (t) => {
        await t.putDeviceHealth(h('fob-b', 10), 7_000);
        await t.scheduleWork('device', 'fob-b', 7_000);
        await t.scheduleWork('device', 'fob-c', 8_000);
      });
      const before = await s.getWork('device', 'fob-b');
      await tx(s, async (t) => {
        await t.putDeviceHealths([
          { state: h('fob-b', 20), dueAt: 9_000 },
          { state: h('fob-a', 30), dueAt: null },
          { state: h('fob-b', 25), dueAt: 9_500 },
        ]);
        // A transition that arms a deadline (fob-a), moves one (fob-b, twice in the call: the last wins) and cancels one (fob-c).
        await t.scheduleWorkMany('device', [
          { key: 'fob-b', dueAt: 9_000 },
          { key: 'fob-a', dueAt: 6_000 },
          { key: 'fob-c', dueAt: null },
          { key: 'fob-b', dueAt: 9_500 },
        ]);
        await t.scheduleWorkMany('device', []);
        await t.putCheckinStates([
          { state: { ...initialCheckinState('sam'), onShift: true }, dueAt: 4_000 },
          { state: { ...initialCheckinState('kim'), lastCheckInAt: 3 }, dueAt: null },
        ]);
        await t.putCheckinStates([]);
        await t.putDeviceHealths([]);
        await t.insertVisit(visit('v2', 'sam', 2_000));
        await t.insertVisit(visit('v1', 'sam', 1_000));
        await t.insertVisit(visit('v3', 'kim', 1_500));
        await t.insertVisit(visit('v4', 'lee', 1_500));
        await t.insertVisit(visit('v5', 'kim', 99_000));
      });
      expect(await rd(s, (t) => t.getDeviceHealth('fob-b'))).toEqual(h('fob-b', 25));
      expect(await rd(s, (t) => t.getDeviceHealth('fob-a'))).toEqual(h('fob-a', 30));
      expect((await s.listWork('device', 10)).map((w) => [w.key, w.dueAt])).toEqual([
        ['fob-a', 6_000],
        ['fob-b', 9_500],
      ]);
      expect(await s.getWork('device', 'fob-c')).toBeNull();
      expect(before?.dueAt).toBe(7_000);
      expect((await rd(s, (t) => t.getCheckinState('sam')))?.onShift).toBe(true);
      expect((await rd(s, (t) => t.getCheckinState('kim')))?.lastCheckInAt).toBe(3);
      const visits = await rd(s, (t) => t.listVisitsOf(['sam', 'kim', 'sam', 'nobody'], 0, 10_000));
      expect(visits.map((v) => v.id)).toEqual(['v3', 'v1', 'v2']);
      expect(await rd(s, (t) => t.listVisitsOf([], 0, 10_000))).toEqual([]);
    });

    it('a transaction that throws keeps nothing it wrote and passes the error on unchanged; the store goes on working', async () => {
      const s = ctx.store;
      class Boom extends Error {}
      const boom = new Boom('stop here');
      const err = await tx(s, async (t) => {
        await t.insertDevice(device('fob-x'));
        await t.insertAlarm(alarm('ax'));
        await t.appendTimeline('ax', [{ at: 1, type: 'raised', actor: 'fob-x', detail: {} }]);
        await t.insertNotice(notice('nx', { alarmId: 'ax', onceKey: 'ax:arc:alert' }));
        await t.insertFobEvent({ deviceId: 'fob-x', eventId: '1-1', kind: 'sos', receivedAt: 1, eventAt: 1, payload: '{}' });
        await t.scheduleWork('effect', 'e-x', 1, { type: 'ack' });
        await t.appendAudit({ at: 1, actor: 'a', action: 'b', subject: 'c', detail: {} });
        expect(await t.getAlarm('ax')).not.toBeNull(); // the transaction sees its own writes
        throw boom;
      }).catch((e: unknown) => e);
      expect(err).toBe(boom);
      await rd(s, async (t) => {
        expect(await t.getDevice('fob-x')).toBeNull();
        expect(await t.getAlarm('ax')).toBeNull();
        expect(await t.getTimeline('ax')).toEqual([]);
        expect(await t.getNoticeByOnceKey('ax:arc:alert')).toBeNull();
        expect(await t.countFobEvents('fob-x')).toBe(0);
      });
      expect(await s.countWork()).toBe(0);
      expect(await s.listAudit(10)).toEqual([]);
      // Nothing was taken: the same writes now succeed (the event is new, the onceKey free).
      await tx(s, async (t) => {
        await t.insertAlarm(alarm('ax'));
        expect(await t.insertNotice(notice('nx', { alarmId: 'ax', onceKey: 'ax:arc:alert' }))).toBe(true);
        expect(await t.insertFobEvent({ deviceId: 'fob-x', eventId: '1-1', kind: 'sos', receivedAt: 1, eventAt: 1, payload: '{}' })).toBe(true);
      });
      expect(await tx(s, async () => 42)).toBe(42);
    });

    it('a statement that fails inside a transaction undoes the whole transaction, not just the statement', async () => {
      const s = ctx.store;
      await tx(s, (t) => t.insertDevice(device('fob-1')));
      await expect(
        tx(s, async (t) => {
          await t.updateDevice('fob-1', { battery: 5 });
          await t.insertDevice(device('fob-1')); // duplicate key
        }),
      ).rejects.toThrow();
      expect((await rd(s, (t) => t.getDevice('fob-1')))?.battery).toBeNull();
    });

    it('read consistency: a read never sees half of a transaction that is in progress', async () => {
      const s = ctx.store;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let firstWritten!: () => void;
      const wroteFirst = new Promise<void>((r) => (firstWritten = r));
      const writing = tx(s, async (t) => {
        await t.insertDevice(device('fob-a'));
        firstWritten();
        await gate;
        await t.insertDevice(device('fob-b'));
      });
      // Wait until the writer is inside its transaction with one of its two rows written.
      await wroteFirst;
      const reading = rd(s, async (t) => [await t.getDevice('fob-a'), await t.getDevice('fob-b')]);
      release();
      const [a, b] = await reading;
      await writing;
      // Either before (neither) or after (both): never one without the other.
      expect(a === null).toBe(b === null);
      expect((await rd(s, (t) => t.listDevices())).map((d) => d.id)).toEqual(['fob-a', 'fob-b']);
    });

    it('read consistency: a committed transaction is seen by every later read, of this instance and of another', async () => {
      const s = ctx.store;
      const other = await ctx.open();
      await tx(s, (t) => t.insertAlarm(alarm('a1', { state: 'notifying' })));
      expect((await rd(s, (t) => t.getAlarm('a1')))?.state).toBe('notifying');
      expect((await rd(other, (t) => t.getAlarm('a1')))?.state).toBe('notifying');
      await tx(other, async (t) => t.updateAlarm({ ...(await t.getAlarm('a1'))!, state: 'acknowledged', acknowledgedBy: 'ada', acknowledgedAt: 5 }));
      expect(await rd(s, (t) => t.getAlarm('a1'))).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'ada' });
    });

    it('concurrent transactions of one instance all commit, each seeing the others before it (no lost update)', async () => {
      const s = ctx.store;
      await tx(s, (t) => t.insertDevice(device('fob-1', { battery: 0 })));
      await Promise.all(
        Array.from({ length: 20 }, () =>
          tx(s, async (t) => {
            const d = (await t.getDevice('fob-1'))!;
            await new Promise((r) => setImmediate(r));
            await t.updateDevice('fob-1', { battery: (d.battery ?? 0) + 1 });
          }),
        ),
      );
      expect((await rd(s, (t) => t.getDevice('fob-1')))?.battery).toBe(20);
    });

    it('externalChangeCounter: changes when another instance commits, not when this one does', async () => {
      const hub = ctx.store;
      const cli = await ctx.open();
      const before = await hub.externalChangeCounter();
      await tx(hub, (t) => t.insertDevice(device('fob-own')));
      expect(await hub.externalChangeCounter()).toBe(before);
      await tx(cli, (t) => t.updateDevice('fob-own', { revokedAt: 9 }));
      const after = await hub.externalChangeCounter();
      expect(after).not.toBe(before);
      expect(await hub.externalChangeCounter()).toBe(after);
    });

    it('what was committed is there after the store is closed and opened again', async () => {
      await tx(ctx.store, async (t) => {
        await t.insertAlarm(alarm('a1', { nextStepAt: 123 }));
        await t.scheduleWork('alarm', 'a1', 123);
        await t.appendTimeline('a1', [{ at: 1, type: 'raised', actor: 'fob-001', detail: { k: 'sos' } }]);
      });
      await ctx.store.close();
      const again = await ctx.open();
      expect((await rd(again, (t) => t.getTimeline('a1'))).map((e) => e.type)).toEqual(['raised']);
      expect(await again.listWork('alarm', 10)).toEqual([{ kind: 'alarm', key: 'a1', dueAt: 123, payload: null, attempts: 0 }]);
    });
  });
}

type FeedStore = Omit<Store, 'transaction'> & ChangeFeedStore & { transaction<T>(fn: (tx: StoreTx & ChangeFeedTx) => Promise<T>): Promise<T> };

export function describeChangeFeedContract<S extends FeedStore & Store>(name: string, makeStore: MakeStore<S>): void {
  describe(`ChangeFeed contract: ${name}`, () => {
    const ctx = useStore(makeStore);

    it('changes are read in commit order after a seq, with a limit; a rolled-back change is never seen', async () => {
      const s = ctx.store;
      expect(await s.lastChangeSeq()).toBe(0);
      await s.transaction(async (t) => {
        await t.insertAlarm(alarm('a1'));
        await t.appendChange({ at: 10, topic: 'alarm', alarmId: 'a1', detail: { type: 'raised' } });
        await t.appendChange({ at: 11, topic: 'alarm', alarmId: 'a1', detail: { type: 'notify', level: 0 } });
      });
      await s.transaction((t) => t.appendChange({ at: 12, topic: 'device', alarmId: null, detail: { deviceId: 'fob-1' } }));
      await s
        .transaction(async (t) => {
          await t.appendChange({ at: 13, topic: 'alarm', alarmId: 'a1', detail: { type: 'lost' } });
          throw new Error('rolled back');
        })
        .catch(() => undefined);
      const all = await s.readChanges(0, 100);
      expect(all.map((c) => [c.topic, c.alarmId, c.detail])).toEqual([
        ['alarm', 'a1', { type: 'raised' }],
        ['alarm', 'a1', { type: 'notify', level: 0 }],
        ['device', null, { deviceId: 'fob-1' }],
      ]);
      expect(all[0]!.seq).toBeLessThan(all[1]!.seq);
      expect(all[1]!.seq).toBeLessThan(all[2]!.seq);
      expect(await s.lastChangeSeq()).toBe(all[2]!.seq);
      expect((await s.readChanges(all[0]!.seq, 1)).map((c) => c.seq)).toEqual([all[1]!.seq]);
      expect(await s.readChanges(all[2]!.seq, 10)).toEqual([]);
    });

    it('a second instance reads what the first committed', async () => {
      const other = await ctx.open();
      await ctx.store.transaction((t) => t.appendChange({ at: 1, topic: 'worker', alarmId: null, detail: { workerId: 'sam' } }));
      expect((await other.readChanges(0, 10)).map((c) => c.detail)).toEqual([{ workerId: 'sam' }]);
    });
  });
}

export type { ClaimedWork };
