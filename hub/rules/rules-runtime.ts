/**
 * The thin runtime around the pure engines: it holds the clock, the store and the one due-work loop.
 *
 * Every change is one store transaction: read the state, step the engine, write the new state, its
 * timeline, its deadline (`tx.scheduleWork`) and its effects. The Unit collecting them is made inside
 * the transaction's callback, so a transaction the store retries starts from an empty one and never
 * doubles its effects. Effects are committed with the change as due work already leased to this
 * process (`tx.scheduleClaimed`), carried out right after the commit, then completed; if the process
 * dies in between, the lease runs out and the loop (`due-work-loop.ts`) of the next hub to claim
 * them runs them, so a notification is never lost. Deadlines live only in the store: whatever fell
 * due while the hub was down is due work like any other, claimed in due order, once.
 *
 * Its other jobs live beside it (issue 18): the Unit in `unit-of-work.ts`, how the engines' steps
 * combine in the pure `orchestration.ts` (this file reads what a plan needs, mints the alarm ids and
 * writes the plan), carrying out effects in `effect-executor.ts`, and the alarm's words in
 * `hub/presentation/alarm-presentation.ts`.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ClaimedWork, Store, StoreTx, TransactionOptions } from '../store/store.js';
import { outsideLanes } from '../store/tx-timing.js';
import type { AlarmKind, AlarmRecord, TimelineEntry, VisitRecord } from '../store/store-types.js';
import type { AlertMessage } from '../../shared/protocol-schemas.js';
import { ALARM_KIND } from '../../shared/vocabulary.js';
import { isOpen, nextWakeAt, stepEscalation, type EscalationEffect, type EscalationInput } from './escalation-engine.js';
import { initialCheckinState, stepCheckin, type CheckinInput, type CheckinRules, type CheckinState } from './checkin-engine.js';
import { initialDeviceHealth, stepDeviceHealth, type DeviceHealthInput, type DeviceHealthRules, type DeviceHealthState } from './device-health-engine.js';
import { DEFAULT_BATCH_BUDGET, DEFAULT_LEASE_MS, DueWorkLoop, type BatchBudget } from './due-work-loop.js';
import type { EscalationPolicy, Target } from './escalation-policy.js';
import type { Recipient } from '../notifiers/notifier.js';
import { isDrillDevice } from './drill.js';
import { Unit, alarmIdOf, newAlarmId, newEffectKey, type RuntimeEffect } from './unit-of-work.js';
import { EffectExecutor, type RuntimeOutputs } from './effect-executor.js';
import { callbackWorkFor, recordCallbackDue } from './callback-due.js';
import { armPeriodic, runPeriodic, type PeriodicJob } from './periodic-work.js';
import { checkinRaises, composeCheckinStep, composeDeviceHealthStep, deviceHealthRaises, followOnOfAlarmStep, type AlarmStep, type RaiseSpec } from './orchestration.js';

const DAY = 24 * 3600_000;

/** One heartbeat for stepHeartbeats: the device's liveness and battery, and whether the fob is worn (a sighting). */
export interface HeartbeatStep {
  deviceId: string;
  at: number;
  battery: number;
  worn: boolean;
}

export interface RulesRuntimeOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  drill: boolean;
  publicUrl: string;
  checkin: CheckinRules;
  health: DeviceHealthRules;
  policies: Record<AlarmKind, EscalationPolicy>;
  outputs: RuntimeOutputs;
  /**
   * The forwarding channels `[notifiers]` configures (email, webhook, arc, ...). A policy naming any
   * other is recorded as "not configured" for each person it would have reached. Absent: the caller
   * dispatches itself and every channel counts as configured.
   */
  forwarding?: string[];
  /** The due-work loop's batch budget (issue 17 item 4); DEFAULT_BATCH_BUDGET without it. */
  budget?: BatchBudget;
  /** How long a claim of due work holds it; DEFAULT_LEASE_MS without it. */
  leaseMs?: number;
  /** The due-work loop's poll of the store (DueWorkLoopOptions.pollMs): set where other processes schedule work too. */
  dueWorkPollMs?: number;
  /**
   * Takes the next step of the notice whose `notice:<key>` due work fell due (Dispatcher.fireDue),
   * which writes its next row itself; false when it cannot now (the dispatcher is stopping), and the
   * row is left to its lease. Absent (no channel configured): the row is dropped, with a warning.
   */
  noticeDue?(key: string): Promise<boolean>;
}

export interface AlarmSpec {
  kind: AlarmKind;
  workerId: string | null;
  deviceId: string | null;
  sourceEventId: string | null;
  reason: string;
  /** When it happened (from the event's age), for the record. */
  at?: number;
  /** The event is older than 7 days by its age: raised all the same, marked stale. */
  stale?: boolean;
  /**
   * Whether it is a drill, when the alarm has no event of its own (a missed check-in): from the
   * worker. Absent: from the event's own device, never from another device of the worker.
   */
  drill?: boolean;
  /** The alarm's id, minted beforehand (orchestration.ts plans); absent: minted as it is raised. */
  id?: string;
}

/** The unit's effects as written, leased to this process, for carrying out after the commit. */
interface Committed {
  unit: Unit;
  claims: ClaimedWork[];
}

export class RulesRuntime {
  readonly loop: DueWorkLoop;
  /** Carries out committed effects (effect-executor.ts). */
  readonly executor: EffectExecutor;
  private readonly o: RulesRuntimeOptions;
  private readonly leaseMs: number;
  private stopped = false;
  private inFlight = new Set<Promise<unknown>>();
  /** Periodic jobs (pruning), each a periodic:<key> row of due work (hub/rules/periodic-work.ts). */
  private readonly periodic = new Map<string, PeriodicJob>();

  constructor(options: RulesRuntimeOptions) {
    this.o = options;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.executor = new EffectExecutor({
      store: options.store,
      clock: options.clock,
      outputs: options.outputs,
      publicUrl: options.publicUrl,
      graceMin: options.checkin.graceMin,
      ...(options.forwarding ? { forwarding: options.forwarding } : {}),
    });
    const deadline = (work: ClaimedWork) => this.track(this.onDue(work));
    this.loop = new DueWorkLoop({
      store: options.store,
      clock: options.clock,
      log: options.log,
      owner: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
      budget: options.budget ?? DEFAULT_BATCH_BUDGET,
      leaseMs: this.leaseMs,
      ...(options.dueWorkPollMs !== undefined ? { pollMs: options.dueWorkPollMs } : {}),
      handlers: {
        alarm: deadline,
        worker: deadline,
        device: deadline,
        // An effect whose process died before completing it (its lease ran out), or one from pending_effects of schema v6.
        effect: (work) => this.track(this.runEffect(work)),
        notice: (work) => this.noticeFired(work),
        callback: (work) => this.track(recordCallbackDue(this.o.store, this.o.log, this.o.clock.now(), work)),
        periodic: (work) => this.track(runPeriodic(this.o.store, this.periodic, this.o.log, () => this.o.clock.now(), work)),
      },
    });
  }

  get clock(): Clock {
    return this.o.clock;
  }

  /**
   * Chases visits recorded while the hub was not running, then starts the one loop: what fell due
   * while the hub was down (deadlines, effects a crash left) is due now and is caught up in batches
   * after start returns (issue 17 item 4), while the hub serves.
   */
  async start(): Promise<{ dueWork: number; overdueSteps: number }> {
    // Visits recorded while the hub was not running (`lonewatch visits import`) have no deadline yet:
    // a worker with planned visits and nothing armed is stepped once, so a visit never started is
    // still chased (issue 15 item 6).
    const now = this.o.clock.now();
    for (const workerId of await this.o.store.unarmedWorkersWithPlannedVisits(now - DAY, now + DAY)) {
      await this.workerAction(workerId, { type: 'itinerary_changed' });
    }
    // Each periodic job's row (due now if it has none), run by the loop like any due work; the loop's
    // catch-up count leaves periodic work out (it is not a step).
    await armPeriodic(this.o.store, this.periodic.values(), now);
    const dueWork = await this.o.store.countWork();
    const overdue = await this.loop.start();
    if (overdue > 0) {
      const began = performance.now();
      this.o.log.info({ overdueSteps: overdue }, `catching up: ${overdue} overdue steps fell due while the hub was down; processing them in due order while serving`);
      this.track(
        this.loop.whenDrained().then(() => {
          if (!this.stopped) this.o.log.info({ overdueSteps: overdue, ms: Math.round(performance.now() - began) }, `caught up: ${overdue} overdue steps processed`);
        }),
      );
    }
    return { dueWork, overdueSteps: overdue };
  }

  /** Adds a periodic job before start(); its row is armed at start (due now if it has none). */
  addPeriodic(job: PeriodicJob): void {
    this.periodic.set(job.key, job);
  }

  /** Overdue steps from before the start still to process (0 once caught up). */
  get overdueSteps(): number {
    return this.loop.overdueLeft;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop.stop();
    await this.idle();
  }

  /** Resolves when no due work or effect is in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0 || this.loop.busy) await Promise.allSettled([...this.inFlight, this.loop.whenDrained()]);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  // ------------------------------------------------------------------------------------------
  // Transactions

  /** Runs fn in one store transaction, then carries out its effects. */
  /** `options`: the store transaction's isolation (TransactionOptions; the heartbeat batch's row_locked). */
  async run<T>(fn: (tx: StoreTx, unit: Unit) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return (await this.runWithEffects(fn, options)).result;
  }

  /** run, also handing back a promise that settles once the unit's effects have been carried out. */
  private async runWithEffects<T>(fn: (tx: StoreTx, unit: Unit) => Promise<T>, options?: TransactionOptions): Promise<{ result: T; effects: Promise<void> }> {
    let committed: Committed | null = null;
    const result = await this.o.store.transaction(async (tx) => {
      // Made afresh on every attempt of the transaction: a retried one never carries a failed attempt's effects.
      const unit = new Unit();
      const r = await fn(tx, unit);
      committed = { unit, claims: await this.writeEffects(tx, unit) };
      return r;
    }, options);
    return { result, effects: this.afterCommit(committed!) };
  }

  /** The unit's effects as due work leased to this process: carried out after the commit, or by whoever claims them if it dies first. */
  private async writeEffects(tx: StoreTx, unit: Unit): Promise<ClaimedWork[]> {
    const now = this.o.clock.now();
    const claims: ClaimedWork[] = [];
    for (const effect of unit.effects) claims.push(await tx.scheduleClaimed('effect', newEffectKey(now), now, effect, this.loop.owner, now + this.leaseMs));
    return claims;
  }

  /**
   * After the commit: brings the loop's timer forward to the unit's earliest deadline and carries out
   * its effects. The returned promise settles (never rejects) once every effect has run; callers
   * other than the due-work processing need not wait for it.
   */
  private afterCommit({ unit, claims }: Committed): Promise<void> {
    if (unit.wakes.length > 0) this.loop.wake(Math.min(...unit.wakes));
    // Outside the caller's lane (tx-timing.ts): an SOS's effects (alerts, notices; the fob's
    // application ack is the ingest's own, sent on commit, not one of them) write their completions
    // and deliveries on the store's ordinary writer, not on the ordered lane's, where the next SOS
    // would wait behind them; nor are they counted in that SOS's timings.
    const done = claims.map((work) =>
      this.track(
        outsideLanes(() =>
          this.executor.execute(work.payload as RuntimeEffect)
            .then(() => this.o.store.complete(work))
            .catch((err) => this.o.log.error({ err, effect: (work.payload as RuntimeEffect).type, alarmId: alarmIdOf(work.payload) }, 'effect failed; it is tried again when its lease ends')),
        ),
      ),
    );
    return Promise.all(done).then(() => undefined);
  }

  /**
   * A notice's due work fell due: the dispatcher takes its step and writes the next row (a new
   * generation), so completing the claim removes only a row the step left as it was.
   */
  private async noticeFired(work: ClaimedWork): Promise<void> {
    if (!this.o.noticeDue) {
      this.o.log.warn({ noticeId: work.key }, `notice ${work.key} fell due but no forwarding channel is configured ([notifiers]): it is not sent`);
      await this.o.store.complete(work);
      return;
    }
    if (await this.o.noticeDue(work.key)) await this.o.store.complete(work);
  }

  /** An effect the loop claimed (its first process died before completing it): carried out, then completed. */
  private async runEffect(work: ClaimedWork): Promise<void> {
    await this.executor.execute(work.payload as RuntimeEffect);
    await this.o.store.complete(work);
  }

  /** A due deadline: its engine steps with a tick, and the claim is completed in the same transaction (unless the step moved it). */
  private async onDue(work: ClaimedWork): Promise<void> {
    const id = work.key;
    // A due step waits for its own effects too (the alert published, the notices stored), so a
    // batch of the catch-up leaves nothing queued behind it when the loop yields to new traffic
    // (issue 17 item 4): a new SOS then takes the store at once.
    const { effects } = await this.runWithEffects(async (tx, unit) => {
      if (work.kind === 'alarm') {
        const alarm = await tx.getAlarm(id);
        if (alarm) await this.stepAlarm(tx, unit, alarm, { type: 'tick' });
      } else if (work.kind === 'worker') {
        await this.stepWorker(tx, unit, id, { type: 'tick' });
      } else if (work.kind === 'device') {
        await this.stepDevice(tx, unit, id, { type: 'seen' }, true);
      }
      // False when the step armed the next deadline (a new generation): that one stays.
      await tx.completeWork(work);
    });
    await effects;
  }

  // ------------------------------------------------------------------------------------------
  // Alarms

  async raiseAlarm(tx: StoreTx, unit: Unit, spec: AlarmSpec): Promise<AlarmRecord> {
    const now = this.o.clock.now();
    let visitRef: string | null = null;
    let lastSightingAt: number | null = null;
    if (spec.workerId) {
      const st = await tx.getCheckinState(spec.workerId);
      if (st?.activeVisitId) visitRef = (await tx.getVisit(st.activeVisitId))?.ref ?? null;
      if (st?.lastSighting) lastSightingAt = st.lastSighting.at;
    }
    const alarm: AlarmRecord = {
      id: spec.id ?? newAlarmId(now),
      kind: spec.kind,
      state: 'raised',
      priority: ALARM_KIND[spec.kind].priority,
      workerId: spec.workerId,
      deviceId: spec.deviceId,
      visitRef,
      sourceEventId: spec.sourceEventId,
      reason: spec.reason,
      raisedAt: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
      closedAt: null,
      closedBy: null,
      drill: this.o.drill || (spec.drill ?? isDrillDevice(spec.deviceId)),
      policy: structuredClone(this.o.policies[spec.kind]),
      level: 0,
      round: 0,
      nextStepAt: null,
      reAlertAt: null,
      policeAt: null,
      lastSightingAt,
      stale: spec.stale === true,
      outcome: null,
      workerCancelledAt: null,
    };
    await tx.insertAlarm(alarm);
    await tx.appendTimeline(alarm.id, [
      {
        at: now,
        type: 'raised',
        actor: spec.deviceId ? `device:${spec.deviceId}` : 'hub',
        detail: {
          kind: spec.kind,
          reason: spec.reason,
          deviceId: spec.deviceId,
          eventId: spec.sourceEventId,
          happenedAt: spec.at ?? now,
          visitRef,
          lastSightingAt,
          drill: alarm.drill,
          ...(alarm.stale ? { stale: true } : {}),
        },
      },
    ]);
    const started = await this.stepAlarm(tx, unit, alarm, { type: 'start' });
    this.o.log.warn({ alarmId: alarm.id, deviceId: spec.deviceId, workerId: spec.workerId, kind: spec.kind }, `alarm raised: ${spec.reason}`);
    return started;
  }

  async stepAlarm(tx: StoreTx, unit: Unit, alarm: AlarmRecord, input: EscalationInput): Promise<AlarmRecord> {
    const now = this.o.clock.now();
    const result = stepEscalation(alarm, input, now);
    await tx.appendTimeline(alarm.id, result.timeline);
    if (result.rejected) {
      throw new AlarmActionError(result.rejected);
    }
    await tx.updateAlarm(result.alarm);
    await appendAlarmChanges(tx, alarm.id, result.effects, result.timeline, now);
    unit.effects.push(...result.effects);
    await unit.schedule(tx, 'alarm', alarm.id, nextWakeAt(result.alarm));
    // Closing a missed-check-in alarm (the officer's call-back found the worker safe) answers what
    // was overdue: the worker's rules are asked again later, not re-raised at once (item 12).
    if (result.alarm.workerId && result.alarm.kind === 'missed_checkin') {
      const st = await tx.getCheckinState(result.alarm.workerId);
      const followOn = followOnOfAlarmStep(result.alarm, st);
      if (followOn) await this.stepWorker(tx, unit, result.alarm.workerId, followOn, st ?? undefined);
    }
    return result.alarm;
  }

  /** Officer or API action on an alarm, in its own transaction. Throws AlarmActionError when refused. */
  async alarmAction(alarmId: string, input: EscalationInput): Promise<AlarmRecord> {
    return this.run(async (tx, unit) => {
      const alarm = await tx.getAlarm(alarmId);
      if (!alarm) throw new AlarmActionError(`no alarm ${alarmId}`, 404);
      return this.stepAlarm(tx, unit, alarm, input);
    }).catch(async (err) => {
      // A refusal is part of the record too (first acknowledgement wins, and the second is noted).
      if (err instanceof AlarmActionError && err.status === 409) {
        await this.o.store.transaction(async (tx) => {
          const alarm = await tx.getAlarm(alarmId);
          if (alarm) {
            await tx.appendTimeline(alarmId, stepEscalation(alarm, input, this.o.clock.now()).timeline);
            await tx.appendChange({ at: this.o.clock.now(), topic: 'alarm', alarmId, detail: { type: 'refused' } });
          }
        });
      }
      throw err;
    });
  }

  async addNote(alarmId: string, by: string, type: string, detail: Record<string, unknown>): Promise<void> {
    // A promised call-back's due time is due work written with its note (hub/rules/callback-due.ts).
    const callback = callbackWorkFor(type, detail);
    await this.o.store.transaction(async (tx) => {
      if (!(await tx.getAlarm(alarmId))) throw new AlarmActionError(`no alarm ${alarmId}`, 404);
      await tx.appendTimeline(alarmId, [{ at: this.o.clock.now(), type, actor: by, detail }]);
      await tx.appendChange({ at: this.o.clock.now(), topic: 'alarm', alarmId, detail: { type } });
      if (callback) await tx.scheduleWork('callback', alarmId, callback.dueAt, callback.dueAt === null ? undefined : { dueAt: callback.dueAt });
    });
    if (callback?.dueAt != null) this.loop.wake(callback.dueAt);
  }

  // ------------------------------------------------------------------------------------------
  // Workers

  async stepWorker(tx: StoreTx, unit: Unit, workerId: string, input: CheckinInput, preloaded?: CheckinState): Promise<CheckinState> {
    const now = this.o.clock.now();
    const state = preloaded ?? (await tx.getCheckinState(workerId)) ?? initialCheckinState(workerId);
    const visits = await tx.listVisits(workerId, now - DAY, now + DAY);
    const result = stepCheckin(state, visits, input, now, this.o.checkin);
    // The cross-engine part is a pure plan (orchestration.ts); only what it needs is read for it.
    const raises = checkinRaises(result);
    const plan = composeCheckinStep(result, { newAlarmId: raises ? newAlarmId(now) : '', devices: raises ? await tx.listWorkerDevices(workerId) : [] });
    for (const c of plan.visitChanges) await tx.updateVisit(c.id, c.changes);
    if (plan.warning) this.o.log.warn({ workerId, input: input.type }, plan.warning);
    for (const l of plan.logs) this.o.log.info({ workerId, ...l.detail }, l.event);
    unit.effects.push(...plan.effects);
    // Raised before the state is stored: the alarm records the visit and last sighting as they stood.
    if (plan.raise) await this.raisePlanned(tx, unit, plan.raise);
    await tx.putCheckinState(plan.state, plan.wakeAt);
    await unit.schedule(tx, 'worker', workerId, plan.wakeAt);
    // The workers board follows the change feed only (issue 15): a worker's day that changed (a
    // check-in, a visit started, ended or extended, a shift ended, a check-in falling due) is a
    // `worker` change, which /api/events sends on. A step that changed nothing writes none.
    if (plan.visitChanges.length > 0 || JSON.stringify(plan.state) !== JSON.stringify(state)) {
      await tx.appendChange({ at: now, topic: 'worker', alarmId: null, detail: { workerId, change: 'day' } });
    }
    // After it is stored: the state no longer points at the alarms it closes, so no follow-on is due.
    await this.takeAlarmSteps(tx, unit, plan.alarmSteps);
    return plan.state;
  }

  /** An itinerary or worker action from the API or CLI, in its own transaction. */
  async workerAction(workerId: string, input: CheckinInput): Promise<CheckinState> {
    return this.run((tx, unit) => this.stepWorker(tx, unit, workerId, input));
  }

  // ------------------------------------------------------------------------------------------
  // Devices

  async stepDevice(tx: StoreTx, unit: Unit, deviceId: string, input: DeviceHealthInput, isTick = false): Promise<void> {
    const now = this.o.clock.now();
    const device = await tx.getDevice(deviceId);
    if (!device) return;
    const state = (await tx.getDeviceHealth(deviceId)) ?? initialDeviceHealth(deviceId);
    const onShift = device.workerId ? ((await tx.getCheckinState(device.workerId))?.onShift ?? false) : false;
    const result = stepDeviceHealth(state, isTick ? { type: 'tick', onShift } : input, now, this.o.health, onShift);
    const plan = composeDeviceHealthStep(result, device, Array.from({ length: deviceHealthRaises(result) }, () => newAlarmId(now)));
    for (const r of plan.raises) await this.raisePlanned(tx, unit, r);
    await this.takeAlarmSteps(tx, unit, plan.alarmSteps);
    // Only write when something changed: heartbeats alone are batched by the ingest path.
    if (isTick || result.effects.length > 0 || state.lowBatteryRaised !== result.state.lowBatteryRaised || result.nextWakeAt !== null) {
      await tx.putDeviceHealth(plan.state, result.nextWakeAt);
      await unit.schedule(tx, 'device', deviceId, result.nextWakeAt);
    }
  }

  /**
   * A batch of heartbeats in one transaction, in a bounded number of statements whatever its size
   * (issue 19, docs/cluster.md "Heartbeat cost on PostgreSQL"): each device's liveness, health state
   * and its worker's shift are written and read with `tx.recordBeats`, the pure engines step in
   * memory (the same stepDeviceHealth and stepCheckin as stepDevice and stepWorker), and what they
   * leave is written back with one statement per table. Only forward: a device whose stored
   * heartbeat is newer than the batch's, or that is unknown or revoked, is not stepped at all
   * (recordBeats does not answer it). The rare step that raises or closes an alarm, or a check-in
   * step with more to do than note a sighting (a prompt, a missed check-in, a visit change), is taken
   * one device or worker at a time as stepDevice and stepWorker do, in the same transaction.
   *
   * `sightingDue(workerId)`: whether a worn fob's heartbeat is to be written as its worker's
   * sighting now (the ingest keeps them to one a minute). Answers the workers sighted, for the caller
   * to note once the transaction has committed.
   */
  async stepHeartbeats(tx: StoreTx, unit: Unit, beats: readonly HeartbeatStep[], sightingDue: (workerId: string) => boolean): Promise<{ stepped: number; sighted: string[] }> {
    const now = this.o.clock.now();
    const worn = new Map(beats.map((b) => [b.deviceId, b.worn]));
    const moved = await tx.recordBeats(beats.map(({ deviceId, at, battery }) => ({ deviceId, at, battery })));
    const health: { state: DeviceHealthState; dueAt: number | null }[] = [];
    const deviceWakes: { key: string; dueAt: number | null }[] = [];
    // Workers whose check-in state a one-at-a-time step may have written: their sighting reads it afresh.
    const touched = new Set<string>();
    const sightings = new Map<string, { at: number; shift: CheckinState | null }>();
    for (const { device, beat, health: stored, shift } of moved) {
      const state = stored ?? initialDeviceHealth(device.id);
      const onShift = device.workerId ? (shift?.onShift ?? false) : false;
      const result = stepDeviceHealth(state, { type: 'heartbeat', battery: beat.battery }, now, this.o.health, onShift);
      const plan = composeDeviceHealthStep(result, device, Array.from({ length: deviceHealthRaises(result) }, () => newAlarmId(now)));
      if (plan.raises.length > 0 || plan.alarmSteps.length > 0) {
        if (device.workerId) touched.add(device.workerId);
        for (const r of plan.raises) await this.raisePlanned(tx, unit, r);
        await this.takeAlarmSteps(tx, unit, plan.alarmSteps);
      }
      // What stepDevice writes, and when: heartbeats alone are the devices table's (recordBeats).
      if (result.effects.length > 0 || state.lowBatteryRaised !== result.state.lowBatteryRaised || result.nextWakeAt !== null) {
        health.push({ state: plan.state, dueAt: result.nextWakeAt });
        deviceWakes.push({ key: device.id, dueAt: result.nextWakeAt });
      }
      const workerId = device.workerId;
      if (workerId && worn.get(device.id) && sightingDue(workerId)) {
        const held = sightings.get(workerId);
        if (!held || held.at < beat.at) sightings.set(workerId, { at: beat.at, shift });
      }
    }
    await tx.putDeviceHealths(health);
    await unit.scheduleMany(tx, 'device', deviceWakes);

    const kind = 'heartbeat (fob worn)';
    const simple = [...sightings].filter(([w]) => !touched.has(w));
    const visits = await tx.listVisitsOf(simple.map(([w]) => w), now - DAY, now + DAY);
    const visitsOf = new Map<string, VisitRecord[]>();
    for (const v of visits) visitsOf.set(v.workerId, [...(visitsOf.get(v.workerId) ?? []), v]);
    const states: { state: CheckinState; dueAt: number | null }[] = [];
    const workerWakes: { key: string; dueAt: number | null }[] = [];
    for (const [workerId, { at, shift }] of simple) {
      const before = shift ?? initialCheckinState(workerId);
      const input: CheckinInput = { type: 'sighting', kind, at };
      const result = stepCheckin(before, visitsOf.get(workerId) ?? [], input, now, this.o.checkin);
      if (result.effects.length > 0 || result.visitChanges.length > 0 || result.warning) {
        // More than a sighting (a prompt falls due, a missed check-in, a visit to change): the full step.
        await this.stepWorker(tx, unit, workerId, input, before);
        continue;
      }
      // As stepWorker with nothing to raise, change or take: the state, its deadline, the board's change.
      const plan = composeCheckinStep(result, { newAlarmId: '', devices: [] });
      states.push({ state: plan.state, dueAt: plan.wakeAt });
      workerWakes.push({ key: workerId, dueAt: plan.wakeAt });
      if (JSON.stringify(plan.state) !== JSON.stringify(before)) await tx.appendChange({ at: now, topic: 'worker', alarmId: null, detail: { workerId, change: 'day' } });
    }
    await tx.putCheckinStates(states);
    await unit.scheduleMany(tx, 'worker', workerWakes);
    for (const [workerId, { at }] of sightings) if (touched.has(workerId)) await this.stepWorker(tx, unit, workerId, { type: 'sighting', kind, at });
    return { stepped: moved.length, sighted: [...sightings.keys()] };
  }

  /** An alarm the rules raise, as planned (orchestration.ts): no fob event of its own. */
  private async raisePlanned(tx: StoreTx, unit: Unit, r: RaiseSpec): Promise<void> {
    await this.raiseAlarm(tx, unit, { id: r.id, kind: r.kind, workerId: r.workerId, deviceId: r.deviceId, sourceEventId: null, reason: r.reason, ...(r.drill !== undefined ? { drill: r.drill } : {}) });
  }

  /** Escalation steps a plan takes on other alarms: each only while that alarm is still open. */
  private async takeAlarmSteps(tx: StoreTx, unit: Unit, steps: AlarmStep[]): Promise<void> {
    for (const step of steps) {
      const alarm = await tx.getAlarm(step.alarmId);
      if (alarm && isOpen(alarm)) await this.stepAlarm(tx, unit, alarm, step.input);
    }
  }

  async deviceHeard(deviceId: string, battery: number | null): Promise<void> {
    await this.run((tx, unit) => this.stepDevice(tx, unit, deviceId, battery === null ? { type: 'seen' } : { type: 'heartbeat', battery }));
  }

  // ------------------------------------------------------------------------------------------
  // Effects (carried out by effect-executor.ts)

  /** Roles to people. Private details are not copied: a Recipient carries only how to reach them. */
  resolveTargets(alarm: AlarmRecord, targets: Target[]): Promise<Recipient[]> {
    return this.executor.resolveTargets(alarm, targets);
  }

  /** The lw/alerts message for an alarm as it stands now; null when there is no such alarm. */
  alertFor(alarmId: string, step: Extract<EscalationEffect, { type: 'notify' }> | null): Promise<AlertMessage | null> {
    return this.executor.alertFor(alarmId, step);
  }

  /** Appends delivery results from the notifiers to the alarm's escalation record (R20). */
  async recordDelivery(alarmId: string, entry: TimelineEntry): Promise<void> {
    await this.o.store.transaction(async (tx) => {
      await tx.appendTimeline(alarmId, [entry]);
      await tx.appendChange({ at: this.o.clock.now(), topic: 'alarm', alarmId, detail: { type: 'delivery' } });
    });
  }
}

/**
 * What the dashboards hear of an alarm step (issue 18: the change feed, not an EventEmitter),
 * appended in the step's own transaction: each level told (`notify`, which sounds an alarm already
 * on the board again), and `changed` for any other step that changed the alarm or its timeline.
 */
async function appendAlarmChanges(tx: StoreTx, alarmId: string, effects: EscalationEffect[], timeline: TimelineEntry[], at: number): Promise<void> {
  let told = false;
  for (const e of effects) {
    if (e.type !== 'notify') continue;
    told = true;
    await tx.appendChange({ at, topic: 'alarm', alarmId, detail: { type: 'notify', level: e.level } });
  }
  if (effects.some((e) => e.type === 'alarm_changed') || (!told && timeline.length > 0)) {
    await tx.appendChange({ at, topic: 'alarm', alarmId, detail: { type: 'changed' } });
  }
}

export class AlarmActionError extends Error {
  constructor(
    message: string,
    readonly status = 409,
  ) {
    super(message);
    this.name = 'AlarmActionError';
  }
}

export { DRILL_PREFIX, isDrillDevice, isDrillWorker, drillPairingProblem } from './drill.js';

export type { VisitRecord };
