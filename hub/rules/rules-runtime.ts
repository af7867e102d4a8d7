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
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ClaimedWork, DueWorkKind, Store, StoreTx } from '../store/store.js';
import type { AlarmKind, AlarmRecord, TimelineEntry, VisitRecord } from '../store/store-types.js';
import type { AlertMessage, CommandMessage } from '../../shared/protocol-schemas.js';
import { PROTOCOL_VERSION } from '../../shared/protocol-core.js';
import { ALARM_KIND } from '../../shared/vocabulary.js';
import { isOpen, nextWakeAt, stepEscalation, type EscalationEffect, type EscalationInput } from './escalation-engine.js';
import { initialCheckinState, stepCheckin, type CheckinInput, type CheckinRules, type CheckinState } from './checkin-engine.js';
import { initialDeviceHealth, stepDeviceHealth, type DeviceHealthInput, type DeviceHealthRules } from './device-health-engine.js';
import { DEFAULT_BATCH_BUDGET, DEFAULT_LEASE_MS, DueWorkLoop, type BatchBudget } from './due-work-loop.js';
import type { EscalationPolicy, Target } from './escalation-policy.js';
import type { Recipient } from '../notifiers/notifier.js';
import { channelInfo, isForwardingChannel } from '../notifiers/channel-registry.js';
import { isDrillDevice, isDrillWorker } from './drill.js';
import { alarmTrack } from '../ingest/positions.js';
import { alertPosition } from '../notifiers/position-text.js';

const DAY = 24 * 3600_000;

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
}

/** Where the runtime's effects leave the hub. */
export interface RuntimeOutputs {
  sendCommand(deviceId: string, command: CommandMessage): void;
  /** May return a promise: the effect is completed (deleted from pending_effects) once it settles. */
  publishAlert(alert: AlertMessage): void | Promise<void>;
  /**
   * E-mail, webhook and ARC delivery (the notifiers); absent when none is configured. Returns once the
   * notices are stored (never waits for a delivery), so a crash cannot fall between the completed
   * effect and the notices it made.
   */
  dispatch?(req: DispatchRequest): void | Promise<void>;
}

export interface DispatchRequest {
  alert: AlertMessage;
  level: number;
  recipients: Recipient[];
  channels: string[];
  link: string;
  /** The ladder rung (the notify effect's `step`): notice ids derive from it, so a re-run effect dedupes. */
  step?: string;
  /** Why the ladder sent it (raised, escalated, repeat, re_alert, police, exhausted): the e-mail subject says so. */
  reason?: string;
  /** Who has taken the alarm (a reminder names them), or null. */
  holder?: string | null;
}

/** Effects the runtime adds to the engines' own. */
export type RuntimeEffect =
  | EscalationEffect
  | { type: 'prompt_worker'; workerId: string; seconds: number }
  | { type: 'tell_device'; deviceId: string; command: CommandMessage };

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
}

/**
 * What one transaction produced. Its deadlines are written as they are made (`schedule`); its
 * effects are written at the end of the transaction, and carried out after it commits.
 */
export class Unit {
  effects: RuntimeEffect[] = [];
  /** Due times this transaction armed: the loop's timer is brought forward to the earliest after the commit. */
  wakes: number[] = [];

  /** Arms, moves or (null) cancels a deadline in the transaction of the state it belongs to. */
  async schedule(tx: StoreTx, kind: Extract<DueWorkKind, 'alarm' | 'worker' | 'device'>, key: string, at: number | null): Promise<void> {
    await tx.scheduleWork(kind, key, at);
    if (at !== null) this.wakes.push(at);
  }
}

/** The unit's effects as written, leased to this process, for carrying out after the commit. */
interface Committed {
  unit: Unit;
  claims: ClaimedWork[];
}

let effectSeq = 0;
/** Time-ordered and unique across processes: an effect left by a crash is never overwritten by a new one. */
function newEffectKey(now: number): string {
  effectSeq = (effectSeq + 1) % 1_000_000;
  return `${now.toString(36).padStart(9, '0')}-${String(effectSeq).padStart(6, '0')}-${randomBytes(3).toString('hex')}`;
}

export class RulesRuntime {
  readonly loop: DueWorkLoop;
  private readonly o: RulesRuntimeOptions;
  private readonly leaseMs: number;
  private stopped = false;
  private inFlight = new Set<Promise<unknown>>();
  /** Notices of this process waiting for their next attempt, by due-work key. */
  private readonly noticeWaits = new Map<string, () => void>();

  constructor(options: RulesRuntimeOptions) {
    this.o = options;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
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
    for (const w of await this.o.store.read((tx) => tx.listWorkers())) {
      if (await this.o.store.getWork('worker', w.id)) continue;
      const fresh = await this.o.store.read(async (tx) => (await tx.listVisits(w.id, now - DAY, now + DAY)).some((v) => v.status === 'planned'));
      if (fresh) await this.workerAction(w.id, { type: 'itinerary_changed' });
    }
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
  async run<T>(fn: (tx: StoreTx, unit: Unit) => Promise<T>): Promise<T> {
    return (await this.runWithEffects(fn)).result;
  }

  /** run, also handing back a promise that settles once the unit's effects have been carried out. */
  private async runWithEffects<T>(fn: (tx: StoreTx, unit: Unit) => Promise<T>): Promise<{ result: T; effects: Promise<void> }> {
    let committed: Committed | null = null;
    const result = await this.o.store.transaction(async (tx) => {
      // Made afresh on every attempt of the transaction: a retried one never carries a failed attempt's effects.
      const unit = new Unit();
      const r = await fn(tx, unit);
      committed = { unit, claims: await this.writeEffects(tx, unit) };
      return r;
    });
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
    const done = claims.map((work) =>
      this.track(
        this.execute(work.payload as RuntimeEffect)
          .then(() => this.o.store.complete(work))
          .catch((err) => this.o.log.error({ err, effect: (work.payload as RuntimeEffect).type, alarmId: alarmIdOf(work.payload) }, 'effect failed; it is tried again when its lease ends')),
      ),
    );
    return Promise.all(done).then(() => undefined);
  }

  /**
   * Resolves once the due work `notice:<key>`, written now for `at`, falls due and the loop claims
   * it: a notice's wait for its next attempt lives in the store and fires from the one loop's timer
   * (issue 18), not from a sleep of the dispatcher's own. A second wait for the same key ends the
   * first at once (its notice then simply tries early).
   */
  async noticeDue(key: string, at: number): Promise<void> {
    this.noticeWaits.get(key)?.();
    const fired = new Promise<void>((resolve) => this.noticeWaits.set(key, resolve));
    await this.o.store.transaction((tx) => tx.scheduleWork('notice', key, at));
    this.loop.wake(at);
    return fired;
  }

  /**
   * A notice's wait ended. Nobody waiting (the process that wrote it stopped): the dispatcher's
   * start-up resume has already taken the notice up again from its journal, with a wait of its own.
   */
  private async noticeFired(work: ClaimedWork): Promise<void> {
    await this.o.store.complete(work);
    const wake = this.noticeWaits.get(work.key);
    if (wake) {
      this.noticeWaits.delete(work.key);
      wake();
    }
  }

  /** An effect the loop claimed (its first process died before completing it): carried out, then completed. */
  private async runEffect(work: ClaimedWork): Promise<void> {
    await this.execute(work.payload as RuntimeEffect);
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
      id: newAlarmId(now),
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
    // Closing a missed-check-in alarm from the dashboard lets the worker's rules run again.
    if (!isOpen(result.alarm) && result.alarm.kind === 'missed_checkin' && result.alarm.workerId) {
      const st = await tx.getCheckinState(result.alarm.workerId);
      if (st && st.missedAlarmId === alarm.id) {
        // The officer's close answers what was overdue: asked again later, not re-raised at once (item 12).
        await this.stepWorker(tx, unit, result.alarm.workerId, { type: 'alarm_closed', alarmId: alarm.id }, st);
      }
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
    await this.o.store.transaction(async (tx) => {
      if (!(await tx.getAlarm(alarmId))) throw new AlarmActionError(`no alarm ${alarmId}`, 404);
      await tx.appendTimeline(alarmId, [{ at: this.o.clock.now(), type, actor: by, detail }]);
      await tx.appendChange({ at: this.o.clock.now(), topic: 'alarm', alarmId, detail: { type } });
    });
  }

  // ------------------------------------------------------------------------------------------
  // Workers

  async stepWorker(tx: StoreTx, unit: Unit, workerId: string, input: CheckinInput, preloaded?: CheckinState): Promise<CheckinState> {
    const now = this.o.clock.now();
    const state = preloaded ?? (await tx.getCheckinState(workerId)) ?? initialCheckinState(workerId);
    const visits = await tx.listVisits(workerId, now - DAY, now + DAY);
    const result = stepCheckin(state, visits, input, now, this.o.checkin);
    for (const c of result.visitChanges) await tx.updateVisit(c.id, c.changes);
    if (result.warning) this.o.log.warn({ workerId, input: input.type }, result.warning);
    let next = result.nextWakeAt;
    for (const e of result.effects) {
      switch (e.type) {
        case 'prompt':
          unit.effects.push({ type: 'prompt_worker', workerId, seconds: e.seconds });
          break;
        case 'raise_missed': {
          // No event raised it: drill-ness is the worker's, and the device shown is one of the same kind
          // (a real worker's real fob), never a drill fob that happens to be theirs too.
          const drill = isDrillWorker(workerId);
          const device = (await tx.listDevices()).find((d) => d.workerId === workerId && d.revokedAt === null && isDrillDevice(d.id) === drill);
          const alarm = await this.raiseAlarm(tx, unit, {
            kind: 'missed_checkin',
            workerId,
            deviceId: device?.id ?? null,
            sourceEventId: null,
            reason: e.summary,
            drill,
          });
          result.state.missedAlarmId = alarm.id;
          next = null;
          break;
        }
        case 'close_missed': {
          const alarm = await tx.getAlarm(e.alarmId);
          if (alarm && isOpen(alarm)) {
            const closed = stepEscalation(alarm, { type: 'resolve', by: `worker:${workerId}`, note: e.why }, now);
            await tx.appendTimeline(alarm.id, closed.timeline);
            await tx.updateAlarm(closed.alarm);
            await appendAlarmChanges(tx, alarm.id, closed.effects, closed.timeline, now);
            unit.effects.push(...closed.effects);
            await unit.schedule(tx, 'alarm', alarm.id, null);
          }
          break;
        }
        case 'log':
          this.o.log.info({ workerId, ...e.detail }, e.event);
          break;
      }
    }
    await tx.putCheckinState(result.state, next);
    await unit.schedule(tx, 'worker', workerId, next);
    return result.state;
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
    for (const e of result.effects) {
      if (e.type === 'raise') {
        const alarm = await this.raiseAlarm(tx, unit, { kind: e.kind, workerId: device.workerId, deviceId, sourceEventId: null, reason: e.summary });
        if (e.kind === 'low_battery') result.state.lowBatteryAlarmId = alarm.id;
        else result.state.silentAlarmId = alarm.id;
      } else {
        const alarm = await tx.getAlarm(e.alarmId);
        if (alarm && isOpen(alarm)) await this.stepAlarm(tx, unit, alarm, { type: 'resolve', by: 'hub', note: e.why });
      }
    }
    // Only write when something changed: heartbeats alone are batched by the ingest path.
    if (isTick || result.effects.length > 0 || state.lowBatteryRaised !== result.state.lowBatteryRaised || result.nextWakeAt !== null) {
      await tx.putDeviceHealth(result.state, result.nextWakeAt);
      await unit.schedule(tx, 'device', deviceId, result.nextWakeAt);
    }
  }

  async deviceHeard(deviceId: string, battery: number | null): Promise<void> {
    await this.run((tx, unit) => this.stepDevice(tx, unit, deviceId, battery === null ? { type: 'seen' } : { type: 'heartbeat', battery }));
  }

  // ------------------------------------------------------------------------------------------
  // Effects

  private async execute(effect: RuntimeEffect): Promise<void> {
    switch (effect.type) {
      case 'alarm_changed': {
        const alert = await this.alertFor(effect.alarmId, null);
        // The dashboards heard of the change from the feed, appended in its transaction (stepAlarm).
        if (alert) await this.o.outputs.publishAlert(alert);
        break;
      }
      case 'fob_command': {
        const alarm = await this.o.store.read((tx) => tx.getAlarm(effect.alarmId));
        if (alarm?.deviceId) this.o.outputs.sendCommand(alarm.deviceId, { k: effect.command });
        break;
      }
      case 'tell_device':
        this.o.outputs.sendCommand(effect.deviceId, effect.command);
        break;
      case 'prompt_worker': {
        const devices = await this.o.store.read((tx) => tx.listDevices());
        for (const d of devices) {
          if (d.workerId === effect.workerId && d.revokedAt === null) {
            this.o.outputs.sendCommand(d.id, { k: 'prm', d: Math.max(10, Math.min(3600, Math.round(effect.seconds))) });
          }
        }
        break;
      }
      case 'notify':
        await this.notify(effect);
        break;
    }
  }

  private async notify(effect: Extract<EscalationEffect, { type: 'notify' }>): Promise<void> {
    const alarm = await this.o.store.read((tx) => tx.getAlarm(effect.alarmId));
    if (!alarm) return;
    const recipients = await this.resolveTargets(alarm, effect.targets);
    const alert = await this.alertFor(alarm.id, effect);
    if (!alert) return;
    await this.o.outputs.publishAlert(alert);
    if (effect.channels.includes('fob') && effect.targets.includes('worker') && alarm.workerId) {
      await this.execute({ type: 'prompt_worker', workerId: alarm.workerId, seconds: this.o.checkin.graceMin * 60 });
    }
    const electronic = effect.channels.filter((c) => isForwardingChannel(c));
    const configured = electronic.filter((c) => !this.o.forwarding || this.o.forwarding.includes(c));
    await this.recordUnreached(alarm, effect, recipients, electronic.filter((c) => !configured.includes(c)));
    if (configured.length > 0 && this.o.outputs.dispatch) {
      await this.o.outputs.dispatch({
        alert,
        level: effect.level,
        recipients,
        channels: configured,
        link: `${this.o.publicUrl}/alarms/${alarm.id}`,
        ...(effect.step ? { step: effect.step } : {}),
        reason: effect.reason,
        holder: alarm.acknowledgedBy,
      });
    }
  }

  /**
   * The part of a notification nobody could carry, on the record so the timeline never says people
   * were told when they were not: each channel the policy names that `[notifiers]` does not configure
   * (per person it would have reached, or once for an organisation channel), and each role the policy
   * names that no contact holds.
   */
  private async recordUnreached(alarm: AlarmRecord, effect: Extract<EscalationEffect, { type: 'notify' }>, recipients: Recipient[], missing: string[]): Promise<void> {
    const at = this.o.clock.now();
    const entries: TimelineEntry[] = [];
    const { holders, worker } = await this.o.store.read(async (tx) => ({ holders: await tx.listContacts(), worker: alarm.workerId ? await tx.getWorker(alarm.workerId) : null }));
    for (const t of effect.targets) {
      // The worker is reached by the fob, the visit and home contacts by the officer's phone calls.
      if (t === 'worker' || t === 'visit_contact' || t === 'home_contact' || t === 'buddy') continue;
      const held =
        t === 'line_manager'
          ? holders.some((c) => c.id === worker?.lineManagerId)
          : t.startsWith('person:')
            ? holders.some((c) => c.id === t.slice(7))
            : holders.some((c) => c.role === t);
      if (!held) entries.push({ at, type: 'delivery', actor: 'hub', detail: { status: 'no_contact', level: effect.level, target: t, reason: t === 'line_manager' ? `${worker?.name ?? 'the worker'} has no line manager among the contacts` : t.startsWith('person:') ? `no contact ${t.slice(7)}` : `nobody holds the role ${t.replace(/_/g, ' ')}` } });
    }
    for (const channel of missing) {
      const info = channelInfo(channel);
      const why = `[notifiers.${channel}] is not configured`;
      if (info?.perRecipient) {
        for (const r of recipients) entries.push({ at, type: 'delivery', actor: `notifier:${channel}`, detail: { status: 'not_configured', channel, level: effect.level, recipientId: r.id, recipientName: r.name, recipientRole: r.role, address: info.addressOf?.(r) ?? null, reason: why } });
      } else {
        entries.push({ at, type: 'delivery', actor: `notifier:${channel}`, detail: { status: 'not_configured', channel, level: effect.level, recipientId: null, recipientName: null, address: null, reason: why } });
      }
    }
    if (entries.length === 0) return;
    await this.o.store.transaction(async (tx) => {
      await tx.appendTimeline(alarm.id, entries);
      await tx.appendChange({ at, topic: 'alarm', alarmId: alarm.id, detail: { type: 'delivery' } });
    });
  }

  /** Roles to people. Private details are not copied: a Recipient carries only how to reach them. */
  async resolveTargets(alarm: AlarmRecord, targets: Target[]): Promise<Recipient[]> {
    return this.o.store.read(async (tx) => {
      const contacts = await tx.listContacts();
      const worker = alarm.workerId ? await tx.getWorker(alarm.workerId) : null;
      const out: Recipient[] = [];
      const add = (r: Recipient | null): void => {
        if (r && !out.some((x) => x.id === r.id)) out.push(r);
      };
      const fromContact = (id: string | null | undefined): Recipient | null => {
        const c = contacts.find((x) => x.id === id);
        return c ? { id: c.id, name: c.name, role: c.role, ...(c.email ? { email: c.email } : {}), ...(c.phone ? { phone: c.phone } : {}) } : null;
      };
      for (const t of targets) {
        if (t.startsWith('person:')) add(fromContact(t.slice(7)));
        else if (t === 'line_manager') add(fromContact(worker?.lineManagerId));
        else if (t === 'buddy') {
          const buddyContact = fromContact(worker?.buddyId);
          if (buddyContact) add({ ...buddyContact, role: 'buddy' });
          else if (worker?.buddyId) {
            const b = await tx.getWorker(worker.buddyId);
            if (b) add({ id: b.id, name: b.name, role: 'buddy' });
          }
        } else if (t === 'worker' || t === 'visit_contact' || t === 'home_contact') {
          // The worker is reached through the fob; the visit and home contacts are calls the duty
          // officer makes from the dashboard, where those details are shown under R22's rules.
        } else {
          for (const c of contacts) if (c.role === t) add(fromContact(c.id));
        }
      }
      return out;
    });
  }

  async alertFor(alarmId: string, step: Extract<EscalationEffect, { type: 'notify' }> | null): Promise<AlertMessage | null> {
    const found = await this.o.store.read(async (tx) => {
      const alarm = await tx.getAlarm(alarmId);
      const worker = alarm?.workerId ? await tx.getWorker(alarm.workerId) : null;
      // Issue 20: the latest known position goes out with the alarm while it is open (R22).
      const position = alarm && isOpen(alarm) ? (await alarmTrack(tx, alarm)).latest : null;
      return alarm ? { alarm, worker, position } : null;
    });
    if (!found) return null;
    const { alarm, worker, position } = found;
    return {
      v: PROTOCOL_VERSION,
      alarmId: alarm.id,
      kind: alarm.kind,
      state: alarm.state,
      priority: alarm.priority,
      deviceId: alarm.deviceId,
      workerId: alarm.workerId,
      workerName: worker?.name ?? null,
      visitRef: alarm.visitRef,
      level: step ? step.level : alarm.level,
      targets: step ? step.targets : [],
      raisedAt: new Date(alarm.raisedAt).toISOString(),
      at: new Date(this.o.clock.now()).toISOString(),
      drill: alarm.drill,
      summary: summarise(alarm, worker?.name ?? null),
      outcome: alarm.outcome,
      position: position ? alertPosition(position) : null,
    };
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

function alarmIdOf(effect: unknown): string | undefined {
  const id = (effect as { alarmId?: unknown } | null)?.alarmId;
  return typeof id === 'string' ? id : undefined;
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

const KIND_LABEL: Record<AlarmKind, string> = {
  sos: 'SOS',
  covert_sos: 'COVERT SOS',
  man_down: 'MAN DOWN',
  missed_checkin: 'Missed check-in',
  device_silent: 'Device silent',
  low_battery: 'Low battery',
};

export function summarise(alarm: AlarmRecord, workerName: string | null): string {
  const who = workerName ?? alarm.workerId ?? alarm.deviceId ?? 'unknown worker';
  const where = alarm.visitRef ? ` (visit ${alarm.visitRef})` : '';
  const drill = alarm.drill ? 'DRILL: ' : '';
  return `${drill}${KIND_LABEL[alarm.kind]} from ${who}${where}: ${alarm.reason}`.slice(0, 512);
}

export { DRILL_PREFIX, isDrillDevice, isDrillWorker, drillPairingProblem } from './drill.js';

/** Time-ordered, unique: `a` + base36 milliseconds + 6 random hex characters. */
export function newAlarmId(now: number): string {
  return `a${now.toString(36)}${randomBytes(3).toString('hex')}`;
}

export type { VisitRecord };
