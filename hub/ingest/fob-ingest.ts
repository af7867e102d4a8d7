/**
 * Decoding and handling of what fobs publish. Validation happens here, once, with the shared zod
 * schemas; bad input is logged with the field at fault, counted, and changes nothing.
 *
 * Events are stored and acted on in one transaction before the PUBACK (the broker waits for us);
 * the application `ack` follows on the fob's command topic. Heartbeats are only the latest-per-device,
 * written in batches; a full batch is flushed before the publish is accepted (back-pressure, bounded).
 */
import type { Logger } from '../logger.js';
import type { Store, StoreTx } from '../store/store.js';
import type { Clock } from '../clock.js';
import { EVENT, LIMITS, TOPIC, eventSource, type EventSource } from '../../shared/protocol-core.js';
import { parseFobEvent, parseHeartbeat, parsePosition, statusSchema, type CommandMessage, type FobEventMessage } from '../../shared/protocol-schemas.js';
import type { Position } from '../../shared/protocol-core.js';
import { LatestPositions, openAlarmFor, toPositionRecord } from './positions.js';
import { isOpen } from '../rules/escalation-engine.js';
import type { RulesRuntime } from '../rules/rules-runtime.js';
import type { Unit } from '../rules/unit-of-work.js';
import type { AlarmKind, PositionRecord } from '../store/store-types.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { ALARM_KIND as KIND_TABLE, ALARM_KINDS } from '../../shared/vocabulary.js';

/**
 * Why a message changed nothing: a closed set, so /metrics has one counter per code whatever a
 * sender puts in its payload (issue 17, item 6: counters keyed by reason text grew without bound).
 */
export const REJECT_CODES = [
  'event_invalid',
  'heartbeat_invalid',
  'status_invalid',
  'cancel_no_open_alarm',
  'device_unassigned',
  'unknown_visit',
  'event_stale',
  'position_invalid',
] as const;
export type RejectCode = (typeof REJECT_CODES)[number];

export interface IngestCounters {
  heartbeats: number;
  events: number;
  positions: number;
  duplicates: number;
  alarms: number;
  rejected: Record<RejectCode, number>;
}

/** What apply() answers when an event changed nothing: the counter's code and the words for the log. */
interface Unapplied {
  code: RejectCode;
  why: string;
}

export interface IngestOptions {
  store: Store;
  runtime: RulesRuntime;
  clock: Clock;
  log: Logger;
  heartbeatIntervalS: number;
  /** `gp` of the cfg sent at every hello: GNSS fixes during a visit, seconds (0 = off; issue 20). */
  gnssVisitPeriodS?: number;
  heartbeatFlushMs: number;
  heartbeatBufferMax: number;
  sendCommand(deviceId: string, command: CommandMessage): void;
  /** After the commit, a fix that belongs to an open alarm (issue 20: the ARC's location follow-up). Must not reject; `flush` waits for it. */
  onAlarmPosition?(p: PositionRecord & { alarmId: string }): Promise<void>;
}

/** The alarm kind each fob event raises: the vocabulary's `fobEvent` (shared/vocabulary.ts, one table). */
const ALARM_KIND: Record<string, AlarmKind> = Object.fromEntries(
  ALARM_KINDS.flatMap((k) => (KIND_TABLE[k].fobEvent === null ? [] : [[KIND_TABLE[k].fobEvent, k] as const])),
);

const SIGHTING_EVERY_MS = 60_000;

interface PendingBeat {
  at: number;
  battery: number;
  worn: boolean;
}

/** How a batch of heartbeats from the cluster gives way to alarms (recordHeartbeatBatch). */
export interface BeatPacing {
  /** Devices per rules transaction. */
  chunk: number;
  /** Resolves when the next transaction may start. */
  turn(): Promise<unknown>;
}

export class FobIngest {
  readonly counters: IngestCounters = {
    heartbeats: 0,
    events: 0,
    positions: 0,
    duplicates: 0,
    alarms: 0,
    rejected: Object.fromEntries(REJECT_CODES.map((c) => [c, 0])) as Record<RejectCode, number>,
  };
  /** One fob sending garbage writes a few lines and a count, not a line per message (item 5). */
  private readonly rejections: RateLimitedLog;
  private beats = new Map<string, PendingBeat>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private lastSightingWrite = new Map<string, number>();
  private workerOf = new Map<string, string | null>();
  /** The latest fix per known device (issue 20), for the views and the forwarding. */
  readonly positions = new LatestPositions();
  /** onAlarmPosition calls not finished yet. */
  private readonly afterPosition = new Set<Promise<void>>();

  constructor(private readonly o: IngestOptions) {
    this.rejections = new RateLimitedLog(o.log, o.clock);
  }

  /**
   * `receivedAt`: when the publish reached the hub, if not now (a cluster worker passes the time the
   * edge received it, however long it then waited in the stream: hub/cluster/worker.ts).
   */
  async onDevicePublish(deviceId: string, leaf: string, payload: Buffer, receivedAt?: number): Promise<void> {
    switch (leaf) {
      case TOPIC.event:
        return this.onEvent(deviceId, payload, receivedAt);
      case TOPIC.heartbeat:
        return this.onHeartbeat(deviceId, payload, receivedAt);
      case TOPIC.position:
        return this.onPosition(deviceId, payload, receivedAt);
      case TOPIC.status: {
        const s = statusSchema.safeParse(payload.toString('utf8'));
        if (!s.success) this.reject(deviceId, 'status_invalid', 'status rejected: status payload must be "0" or "1"');
        return;
      }
    }
  }

  private reject(deviceId: string, code: RejectCode, message: string, extra: Record<string, unknown> = {}): void {
    this.counters.rejected[code]++;
    this.rejections.warn(deviceId, { deviceId, reason: code, ...extra }, message);
  }

  private async onEvent(deviceId: string, payload: Buffer, receivedAt?: number): Promise<void> {
    const parsed = parseFobEvent(payload);
    if (!parsed.ok) {
      // Acknowledged at the MQTT level (a retry could not make it valid) but no application ack.
      this.reject(deviceId, 'event_invalid', `event rejected: ${parsed.error.message}`, { field: parsed.error.field });
      return;
    }
    const ev = parsed.value;
    const now = this.o.clock.now();
    const received = receivedAt ?? now;
    let stored: PositionRecord | null = null;
    const outcome = await this.o.runtime
      .run(async (tx, unit) => {
        const fresh = await tx.insertFobEvent({
          deviceId,
          eventId: ev.i,
          kind: ev.k,
          receivedAt: received,
          eventAt: received - ev.ag * 1000,
          payload: payload.toString('utf8'),
        });
        if (!fresh) return 'duplicate' as const;
        const device = await tx.getDevice(deviceId);
        const workerId = device?.workerId ?? null;
        this.workerOf.set(deviceId, workerId);
        const from = eventSource(ev.i);
        // A phone-made event is the worker's action (and a sighting of them), not news of the fob.
        if (from === 'fob') await this.o.runtime.stepDevice(tx, unit, deviceId, { type: 'seen' });
        const applied = await this.apply(tx, unit, deviceId, workerId, ev, received, from);
        // The fix that came with the event (protocol 2): stored beside it, and with its alarm when
        // the event raised one or one of this worker's is open (docs/protocol.md, Positions).
        if (ev.l) stored = await this.storePosition(tx, deviceId, workerId, ev.l, received, ALARM_KIND[ev.k] ? ev.i : null);
        return applied;
      })
      .catch((err: Error) => {
        throw new Error(`event ${ev.i} from ${deviceId} could not be stored: ${err.message}`);
      });
    if (outcome === 'duplicate') {
      this.counters.duplicates++;
      this.rejections.info(deviceId, { deviceId, eventId: ev.i, kind: ev.k }, 'duplicate event (a retry): acknowledged again, not counted');
    } else {
      this.counters.events++;
      if (outcome !== 'ok') this.reject(deviceId, outcome.code, `event stored but changed nothing: ${outcome.why}`, { eventId: ev.i, kind: ev.k });
    }
    if (stored) this.positionStored(stored);
    // After the PUBACK (which the broker writes when we return), the application ack.
    setImmediate(() => this.o.sendCommand(deviceId, { k: 'ack', i: ev.i }));
    if (ev.k === EVENT.hello) setImmediate(() => this.o.sendCommand(deviceId, { k: 'cfg', hb: this.o.heartbeatIntervalS, ...(this.o.gnssVisitPeriodS === undefined ? {} : { gp: this.o.gnssVisitPeriodS }) }));
  }

  /** Acts on one new event inside the transaction that stored it. Returns 'ok' or why it changed nothing. */
  private async apply(tx: StoreTx, unit: Unit, deviceId: string, workerId: string | null, ev: FobEventMessage, now: number, from: EventSource): Promise<'ok' | Unapplied> {
    const rt = this.o.runtime;
    const source = `device:${deviceId}`;
    const alarmKind = ALARM_KIND[ev.k];
    // Older than 7 days by its age (a fob that was out of reach, or whose outbox kept it): an alarm
    // is raised all the same, marked stale, and acknowledged so the fob stops retrying it (issue 17,
    // item 8); anything else says nothing about the worker now and changes no state.
    const stale = ev.ag > LIMITS.eventAgeMaxSeconds;
    if (alarmKind) {
      const on = from === 'phone' ? "the worker's phone" : 'the fob';
      let reason = alarmKind === 'covert_sos' ? `covert alarm from ${on}` : alarmKind === 'sos' ? `SOS button on ${on}` : 'no movement while on a visit';
      if (stale) reason += ` (stale: raised about ${Math.floor(ev.ag / 86_400)} days before it reached the hub)`;
      await rt.raiseAlarm(tx, unit, { kind: alarmKind, workerId, deviceId, sourceEventId: ev.i, reason, at: now - ev.ag * 1000, stale });
      this.counters.alarms++;
      await this.applyEarlyCancel(tx, unit, deviceId, ev.i, now);
      return 'ok';
    }
    if (stale) return { code: 'event_stale', why: `the event is ${Math.floor(ev.ag / 86_400)} days old (more than 7): stored and acknowledged, not acted on` };
    if (ev.k === EVENT.hello) {
      await tx.updateDevice(deviceId, { firmware: ev.fw, board: ev.bd });
      // On the change feed (issue 18): the flash tool waits for this first contact there.
      await tx.appendChange({ at: now, topic: 'device', alarmId: null, detail: { deviceId, change: 'hello', firmware: ev.fw, board: ev.bd } });
      // Issue 14: a fob whose pins did not resolve at boot says so in its hello (stored with the event).
      if (ev.wf) {
        this.o.log.error(
          { deviceId, eventId: ev.i, board: ev.bd, wiringFault: ev.wf },
          `fob ${deviceId} booted with a wiring fault (${ev.wf}): its button, buzzer, motor or LED may not work; re-provision it with the right wiring (w in lw.json, see docs/fob.md) before it is worn`,
        );
      }
      return 'ok';
    }
    if (ev.k === EVENT.cancel) {
      const target = ev.r ? await tx.findAlarmBySource(deviceId, ev.r) : (await tx.listAlarms({ deviceId, open: true })).find((a) => a.sourceEventId !== null && a.workerCancelledAt === null);
      // Named but not here: its alarm may reach the hub after this cancel (see applyEarlyCancel,
      // which applies this stored cancel when it does).
      if (ev.r && !target) return { code: 'cancel_no_open_alarm', why: `the alarm of event ${ev.r} has not reached the hub: this cancel is kept, and applied if that alarm arrives` };
      if (!target || !isOpen(target)) return { code: 'cancel_no_open_alarm', why: ev.r ? `no open alarm from event ${ev.r} to cancel` : 'no open alarm to cancel' };
      // A second cancel of an SOS waiting for its call-back changes nothing (issue 15 item 11).
      if (target.workerCancelledAt !== null) return { code: 'cancel_no_open_alarm', why: 'already cancelled by the worker: the alarm stays open until the duty officer has called back' };
      await rt.stepAlarm(tx, unit, target, { type: 'cancel', by: source, source: 'fob', reason: 'cancelled by the worker on the fob' });
      return 'ok';
    }
    if (!workerId) return { code: 'device_unassigned', why: 'device is not assigned to a worker' };
    if ((ev.k === EVENT.visitStart || ev.k === EVENT.visitEnd) && ev.v) {
      const visits = await tx.listVisits(workerId, now - 86_400_000, now + 86_400_000);
      if (!visits.some((v) => v.ref === ev.v)) return { code: 'unknown_visit', why: `unknown visit ${ev.v}` };
    }
    switch (ev.k) {
      case EVENT.checkIn:
        await rt.stepWorker(tx, unit, workerId, { type: 'checkin', source, prompted: ev.p === 1 });
        break;
      case EVENT.visitStart:
        await rt.stepWorker(tx, unit, workerId, { type: 'visit_start', source, ...(ev.v ? { ref: ev.v } : {}) });
        break;
      case EVENT.visitEnd:
        await rt.stepWorker(tx, unit, workerId, { type: 'visit_end', source, ...(ev.v ? { ref: ev.v } : {}) });
        break;
      case EVENT.extend:
        await rt.stepWorker(tx, unit, workerId, { type: 'extend', source, minutes: ev.m });
        break;
      case EVENT.endOfShift:
        await rt.stepWorker(tx, unit, workerId, { type: 'end_of_shift', source });
        break;
    }
    return 'ok';
  }

  /**
   * An alarm just raised from event `alarmEventId` that its own fob had already cancelled: the cancel
   * (naming it in `r`) reached the hub first and was stored as "no alarm to cancel". A hub should
   * not leave an alarm open that the worker stood down only because the two arrived the other way
   * round. The cluster keeps the order the stream stored them in per device (docs/cluster.md), but
   * they can still arrive reordered: the fob retries each event on its own back-off with jitter
   * (firmware/src/core/outbox.ts `due`), so after a publish lost with its connection the cancel can
   * be resent, and stored, before the SOS; and a change of the cluster's partitions moves a device
   * while its messages are in flight. Only a cancel that names this alarm counts: one
   * without `r` meant "whatever is active on the fob" at the time, which cannot be told afterwards.
   * Looked for among the device's cancels of the last 7 days (the age beyond which an event is
   * stale, LIMITS.eventAgeMaxSeconds), in the transaction that raised the alarm.
   */
  private async applyEarlyCancel(tx: StoreTx, unit: Unit, deviceId: string, alarmEventId: string, now: number): Promise<void> {
    const cancels = await tx.listFobEvents(deviceId, EVENT.cancel, now - LIMITS.eventAgeMaxSeconds * 1000);
    const early = cancels.find((c) => {
      const parsed = parseFobEvent(Buffer.from(c.payload, 'utf8'));
      return parsed.ok && parsed.value.k === EVENT.cancel && parsed.value.r === alarmEventId;
    });
    if (!early) return;
    const alarm = await tx.findAlarmBySource(deviceId, alarmEventId);
    if (!alarm || !isOpen(alarm)) return;
    this.o.log.warn(
      { deviceId, alarmId: alarm.id, eventId: alarmEventId, cancelEventId: early.eventId },
      `alarm ${alarm.id} from ${deviceId} arrived after the fob's cancel of it (event ${early.eventId}): the cancel is applied now`,
    );
    await this.o.runtime.stepAlarm(tx, unit, alarm, {
      type: 'cancel',
      by: `device:${deviceId}`,
      source: 'fob',
      reason: `cancelled by the worker on the fob (the cancel, event ${early.eventId}, reached the hub before the alarm)`,
    });
  }

  /**
   * A fix on its own (`ps`, QoS 0): validated like every payload, stored, kept as the device's latest,
   * and attached to the open alarm of its worker, whose dashboards are told (SSE `position`).
   */
  private async onPosition(deviceId: string, payload: Buffer, receivedAt?: number): Promise<void> {
    const parsed = parsePosition(payload);
    if (!parsed.ok) {
      this.reject(deviceId, 'position_invalid', `position rejected: ${parsed.error.message}`, { field: parsed.error.field });
      return;
    }
    const now = receivedAt ?? this.o.clock.now();
    const stored = await this.o.store.transaction(async (tx) => {
      let workerId = this.workerOf.get(deviceId);
      if (workerId === undefined) {
        workerId = (await tx.getDevice(deviceId))?.workerId ?? null;
        this.workerOf.set(deviceId, workerId);
      }
      return this.storePosition(tx, deviceId, workerId, parsed.value, now, null);
    });
    this.positionStored(stored);
  }

  /** Stores one fix in the caller's transaction, with the open alarm it belongs to (if any). */
  private async storePosition(tx: StoreTx, deviceId: string, workerId: string | null, p: Position, now: number, sourceEventId: string | null): Promise<PositionRecord> {
    // The alarm the event itself raised (same transaction), else the open alarm of this worker.
    const alarm = (sourceEventId ? await tx.findAlarmBySource(deviceId, sourceEventId) : null) ?? (await openAlarmFor(tx, deviceId, workerId));
    const record = toPositionRecord(p, { deviceId, workerId, alarmId: alarm && isOpen(alarm) ? alarm.id : null, receivedAt: now });
    await tx.insertPosition(record);
    // The dashboards of its alarm are told through the change feed (issue 18), in this transaction:
    // ids only, never coordinates (R22); the browser fetches the fix with its own rights.
    if (record.alarmId) await tx.appendChange({ at: now, topic: 'position', alarmId: record.alarmId, detail: { alarmId: record.alarmId, deviceId } });
    return record;
  }

  /** After the commit: the hot latest and the count (the dashboards were told on the change feed). */
  private positionStored(p: PositionRecord): void {
    this.positions.remember(p);
    this.counters.positions++;
    const hook = p.alarmId ? this.o.onAlarmPosition?.({ ...p, alarmId: p.alarmId }) : undefined;
    if (hook) {
      this.afterPosition.add(hook);
      void hook.finally(() => this.afterPosition.delete(hook));
    }
  }

  private async onHeartbeat(deviceId: string, payload: Buffer, receivedAt?: number): Promise<void> {
    if (!this.acceptBeat(this.beats, deviceId, payload, receivedAt ?? this.o.clock.now())) return;
    if (this.beats.size >= this.o.heartbeatBufferMax) {
      // Back-pressure: this publisher waits for the flush instead of the buffer growing.
      await this.flush();
    } else if (!this.flushTimer) {
      // Real time, not the hub's clock: the flush paces writes (I/O batching), it is not a rule, like
      // the change feed's poll; on a ManualClock nobody advancing the clock would otherwise hold
      // every heartbeat in memory (a companion test caught that). The liveness it records is dated
      // by the hub's clock (`at` above).
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        this.flush().catch((err) => this.o.log.error({ err }, 'heartbeat flush failed'));
      }, this.o.heartbeatFlushMs);
    }
  }

  /** Writes the buffered heartbeats: device liveness in one batch, health rules where they matter. */
  async flush(): Promise<void> {
    // What the fixes of open alarms set off (the ARC's location follow-up) is done when flush is.
    while (this.afterPosition.size > 0) await Promise.allSettled([...this.afterPosition]);
    while (this.flushing) await this.flushing;
    if (this.beats.size === 0) return;
    const batch = this.beats;
    this.beats = new Map();
    this.flushing = this.writeBeats(batch);
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
  }

  /**
   * A batch of heartbeats taken from the cluster's bulk lane (hub/cluster/worker.ts), written now,
   * not buffered: the worker acks their JetStream messages only once this resolves, so nothing is
   * acked before it is committed. The same validation, counting and writes as the single hub's
   * flush; a device's newest heartbeat in the batch is the one kept (acceptBeat).
   * Rejects when the store does (the caller naks the batch); invalid payloads are counted and
   * change nothing, as they would on the single hub. `pace`: the rules are run `chunk` devices to a
   * transaction, each after `turn()` resolves, so an alarm waits for at most one chunk's transaction
   * in this process's store (hub/cluster/alarm-first.ts), not for the whole batch's.
   */
  async recordHeartbeatBatch(beats: readonly { deviceId: string; payload: Uint8Array; receivedAt: number }[], pace?: BeatPacing): Promise<void> {
    const batch = new Map<string, PendingBeat>();
    for (const { deviceId, payload, receivedAt } of beats) this.acceptBeat(batch, deviceId, Buffer.from(payload), receivedAt);
    if (batch.size > 0) await this.writeBeats(batch, pace);
  }

  /**
   * Validates and counts one heartbeat and keeps it in `into` if it is the device's newest there
   * (false: refused). The newest, not the last: a cluster batch can hold a dead worker's
   * redelivered (older) heartbeats after newer ones (JetStream redelivers after the AckWait), and
   * keeping the last would drop the newer one, as the bulk lane's kill test caught in CI. On the
   * single hub heartbeats come in the order received, so the newest is the last.
   */
  private acceptBeat(into: Map<string, PendingBeat>, deviceId: string, payload: Buffer, at: number): boolean {
    const parsed = parseHeartbeat(payload);
    if (!parsed.ok) {
      this.reject(deviceId, 'heartbeat_invalid', `heartbeat rejected: ${parsed.error.message}`, { field: parsed.error.field });
      return false;
    }
    this.counters.heartbeats++;
    const held = into.get(deviceId);
    if (!held || held.at <= at) into.set(deviceId, { at, battery: parsed.value.b, worn: parsed.value.m === 1 });
    return true;
  }

  /**
   * Liveness, health rules and sightings in one rules transaction (or, paced, one per chunk of
   * devices: a crash between them leaves the rest to a redelivery, and writing a heartbeat again
   * changes nothing more), each in a bounded number of statements whatever its size
   * (RulesRuntime.stepHeartbeats; issue 19: on PostgreSQL a few round trips per device made the
   * cluster's workers fall behind the heartbeats of 10,000 fobs).
   */
  private async writeBeats(batch: Map<string, PendingBeat>, pace?: BeatPacing): Promise<void> {
    const entries = [...batch];
    const size = pace ? Math.max(1, pace.chunk) : entries.length;
    for (let i = 0; i < entries.length; i += size) {
      if (pace) await pace.turn();
      await this.stepBeats(entries.slice(i, i + size));
    }
  }

  private async stepBeats(entries: [string, PendingBeat][]): Promise<void> {
    const now = this.o.clock.now();
    // A worn fob's heartbeat is its worker's sighting at most once a minute (the check-in state's
    // write). Noted only once committed, so a transaction the store retries, or one that fails,
    // does not use up the minute's sighting.
    const due = (workerId: string): boolean => now - (this.lastSightingWrite.get(workerId) ?? 0) >= SIGHTING_EVERY_MS;
    const beats = entries.map(([deviceId, b]) => ({ deviceId, at: b.at, battery: b.battery, worn: b.worn }));
    // row_locked (TransactionOptions, docs/cluster.md "Heartbeat batches of two workers"): two cluster
    // workers' batches must not abort each other; recordBeats' row locks keep what the batch relies on.
    const { sighted } = await this.o.runtime.run((tx, unit) => this.o.runtime.stepHeartbeats(tx, unit, beats, due), { isolation: 'row_locked' });
    for (const workerId of sighted) this.lastSightingWrite.set(workerId, now);
  }

  async close(): Promise<void> {
    this.rejections.flush();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.flush();
  }

  /**
   * The device's worker may have changed (assigned on the dashboard or with the CLI): the next
   * heartbeat looks its worker up again, so it is never counted as a sighting of the old one.
   */
  forgetDevice(deviceId: string): void {
    this.workerOf.delete(deviceId);
    this.positions.forget(deviceId);
  }
}
