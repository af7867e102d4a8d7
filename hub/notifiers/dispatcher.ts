/**
 * Carries the runtime's DispatchRequests out on the configured channels, each notice on its own:
 * a per-send time limit (AbortSignal), retries with back-off until a give-up time, then fall-through
 * to the channel's fallbacks. Every outcome (sent, delivered, failed with reason, gave up, fell
 * through) is appended to the alarm's escalation record (R20). `dispatch` returns at once: a notifier
 * that hangs or throws delays only its own notice, never another alarm or the ladder.
 *
 * Every notice is written to the journal (the hub's store) before its first send, with its attempt
 * count, next-try time, channel and fall-through state, and finished there when delivered or given up:
 * `resume` at start-up carries on with the ones a stop interrupted. Delivery is at-least-once; the
 * notice id is the idempotency key a receiver dedupes on. "The ARC is told once per alarm" and the
 * close events are once-keys in the same journal, so they hold across restarts too.
 *
 * Time (time limits and back-off) comes from the hub's Clock, so tests drive it with a ManualClock.
 * The retry schedule itself is pure (`nextAttemptDelay`).
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { DispatchRequest } from '../rules/rules-runtime.js';
import type { NoticeRecord, TimelineEntry } from '../store/store-types.js';
import type { AlertMessage } from '../../shared/protocol-schemas.js';
import { DeliveryError, type DeliveryOutcome, type Notice, type Notifier, type Recipient } from './notifier.js';
import { MemoryNoticeJournal, type NoticeJournal } from './notice-journal.js';
import { DEFAULT_RETAIN_DAYS } from './notifiers-config.js';

export interface RetryPolicy {
  /** Time limit of one attempt. */
  timeoutMs: number;
  firstDelayMs: number;
  factor: number;
  maxDelayMs: number;
  /** No attempt starts later than this after the first one. */
  giveUpAfterMs: number;
  maxAttempts: number;
}

export interface ChannelSpec {
  notifier: Notifier;
  retry: RetryPolicy;
  /** Channels tried in order once this one gives up on a notice. */
  fallback: string[];
  /** One notice per recipient (e-mail) or one per request for the organisation (webhook, ARC). */
  perRecipient: boolean;
}

export interface DispatcherOptions {
  clock: Clock;
  log: Logger;
  channels: Record<string, ChannelSpec>;
  /** Appends to the alarm's escalation record (RulesRuntime.recordDelivery). */
  record(alarmId: string, entry: TimelineEntry): Promise<void>;
  /** Every channel, fallbacks included, failed for someone on this level (the ladder may climb now). */
  undeliverable?(alarmId: string, level: number, recipientId: string): Promise<void>;
  /** Where notices are kept until finished; in memory (lost at a restart) when absent. */
  journal?: NoticeJournal;
  /** Finished notices of alarms closed more than this many days ago are pruned at `resume` and daily (default 90). */
  retainDays?: number;
}

const DAY_MS = 24 * 3600_000;

/** What a stored notice needs to be sent again after a restart. */
export interface NoticeRequest {
  alert: AlertMessage;
  /** The level's recipients, for a fall-through to a per-recipient channel. */
  recipients: Recipient[];
  recipient: Recipient | null;
  link: string;
  /** The ladder rung the notice belongs to (DispatchRequest.step); absent on older notices. */
  step?: string;
}

export interface ChannelCounters {
  /** Attempts started. */
  sent: number;
  delivered: number;
  /** Attempts that failed. */
  failed: number;
  gaveUp: number;
}

/** Delay before the next attempt after `attempt` failed, or null to give up. Pure. */
export function nextAttemptDelay(policy: RetryPolicy, attempt: number, elapsedMs: number): number | null {
  if (attempt >= policy.maxAttempts) return null;
  const delay = Math.min(policy.maxDelayMs, policy.firstDelayMs * policy.factor ** (attempt - 1));
  if (elapsedMs + delay > policy.giveUpAfterMs) return null;
  return delay;
}

/**
 * Stable over the retries of one notification and over a re-run of the notify effect that made it (it
 * derives from the ladder rung, `step`, not from when it was sent), distinct for the next notification
 * of the level, and for a fall-through (`via` the channel that gave up) so it is not taken for a copy
 * of the direct one. Without a step (an effect stored by an older hub) the alert's time stands in.
 */
export function noticeIdFor(alert: AlertMessage, level: number, channel: string, recipient: Recipient | null, via: string | null = null, step: string | null = null): string {
  const rung = step ?? Date.parse(alert.at).toString(36);
  const who = (recipient?.id ?? 'org').replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${alert.alarmId}.L${level}.${rung}.${channel}.${who}${via ? `.via-${via}` : ''}`;
}

class Closed extends Error {}

const isSuccess = (n: NoticeRecord): boolean => n.outcome === 'delivered' || n.outcome === 'fell_through';

export class Dispatcher {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly waits = new Set<{ timer: TimerHandle; wake(): void }>();
  private readonly controllers = new Set<AbortController>();
  /** Notices being worked on by this process (attempting, waiting for a retry, or falling through). */
  private readonly active = new Set<string>();
  private readonly journal: NoticeJournal;
  private closed = false;
  private resumed = false;
  private pruneTimer: TimerHandle | null = null;
  readonly counters = { notices: 0, attempts: 0, delivered: 0, failedAttempts: 0, gaveUp: 0, resumed: 0 };
  readonly byChannel: Record<string, ChannelCounters> = {};

  constructor(private readonly o: DispatcherOptions) {
    this.journal = o.journal ?? new MemoryNoticeJournal();
    for (const c of Object.keys(o.channels)) this.byChannel[c] = { sent: 0, delivered: 0, failed: 0, gaveUp: 0 };
  }

  get channels(): string[] {
    return Object.keys(this.o.channels);
  }

  /**
   * The runtime's `outputs.dispatch`. Resolves (never rejects) once the notices are stored, before any
   * is sent: the runtime completes its effect after that, so no crash falls between the two.
   */
  dispatch(req: DispatchRequest): Promise<void> {
    if (this.closed) return Promise.resolve();
    const alarmId = req.alert.alarmId;
    const records: NoticeRecord[] = [];
    for (const channel of req.channels) {
      if (!this.o.channels[channel]) {
        this.o.log.debug({ alarmId, channel }, 'channel not configured; skipped');
        continue;
      }
      if (channel === 'email') {
        for (const r of req.recipients.filter((x) => !x.email)) {
          void this.record(alarmId, channel, { status: 'skipped', channel, level: req.level, recipientId: r.id, recipientRole: r.role, reason: 'no e-mail address' });
        }
      }
      for (const recipient of this.recipientsFor(channel, req.recipients, null)) {
        records.push(
          this.newNotice({
            channel,
            request: { alert: req.alert, recipients: req.recipients, recipient, link: req.link, ...(req.step ? { step: req.step } : {}) },
            level: req.level,
            event: 'alert',
            parent: null,
            tried: [channel],
            // An ARC is told once per alarm, not at every rung or repeat of the ladder.
            onceKey: channel === 'arc' ? `${alarmId}:arc:alert` : null,
          }),
        );
      }
    }
    return records.length > 0 ? this.store(() => records) : Promise.resolve();
  }

  /**
   * Called with every alert the hub publishes. A closed alarm is restored (or cancelled) at the ARC if
   * the ARC was told of it, and sent to the webhook as `lonewatch.alarm.resolved`/`.cancelled` if the
   * webhook was told of it; once each.
   */
  async alarmChanged(alert: AlertMessage): Promise<void> {
    if (this.closed) return;
    if (alert.state !== 'resolved' && alert.state !== 'cancelled') return;
    const alarmId = alert.alarmId;
    for (const channel of ['arc', 'webhook'].filter((c) => this.o.channels[c])) {
      await this.store(async (reader) => {
        const told = (await reader.listNotices(alarmId)).filter((n) => n.channel === channel && n.event === 'alert');
        if (told.length === 0) return [];
        const link = (told[0].request as NoticeRequest).link;
        return [
          this.newNotice({
            channel,
            request: { alert, recipients: [], recipient: null, link },
            level: alert.level,
            event: 'closed',
            parent: null,
            tried: [channel],
            onceKey: `${alarmId}:${channel}:closed`,
            id: `${alarmId}.${alert.state}.${channel}`,
          }),
        ];
      });
    }
  }

  /**
   * At start-up: tells each notifier its last reference (the ARC's sequence number) and carries on with
   * every notice a stop left unfinished (at its next-try time, keeping its attempt count and id).
   */
  async resume(): Promise<number> {
    if (this.resumed) return 0;
    this.resumed = true;
    await this.prune();
    this.armPrune();
    for (const [channel, spec] of Object.entries(this.o.channels)) {
      if (spec.notifier.resume) spec.notifier.resume(await this.journal.lastRef(channel));
    }
    const open = await this.journal.unfinished();
    const openIds = new Set(open.map((n) => n.id));
    // A fall-through notice is carried on by its parent, which waits for it.
    const roots = open.filter((n) => n.parentId === null || !openIds.has(n.parentId));
    for (const n of roots) this.track(this.run(n));
    this.counters.resumed += open.length;
    if (open.length > 0) this.o.log.info({ notices: open.length }, 'resuming unfinished notices');
    return open.length;
  }

  /**
   * Deletes finished notices of alarms closed more than `retainDays` ago (the escalation record keeps
   * their results), always keeping the one each channel's next reference follows. Never throws.
   */
  async prune(): Promise<number> {
    const days = this.o.retainDays ?? DEFAULT_RETAIN_DAYS;
    try {
      const removed = await this.journal.prune(this.o.clock.now() - days * DAY_MS);
      if (removed > 0) this.o.log.info({ removed, retainDays: days }, 'pruned finished notices of old alarms');
      return removed;
    } catch (err) {
      this.o.log.warn({ err }, 'could not prune finished notices');
      return 0;
    }
  }

  /** Daily on the hub's clock, until close. */
  private armPrune(): void {
    if (this.closed) return;
    this.pruneTimer = this.o.clock.setTimer(() => {
      this.armPrune();
      this.track(this.prune());
    }, DAY_MS);
  }

  private newNotice(o: { channel: string; request: NoticeRequest; level: number; event: 'alert' | 'closed'; parent: NoticeRecord | null; tried: string[]; onceKey: string | null; id?: string }): NoticeRecord {
    const via = o.parent?.channel ?? null;
    return {
      id: o.id ?? noticeIdFor(o.request.alert, o.level, o.channel, o.request.recipient, via, o.request.step ?? null),
      alarmId: o.request.alert.alarmId,
      channel: o.channel,
      level: o.level,
      event: o.event,
      parentId: o.parent?.id ?? null,
      via,
      onceKey: o.onceKey,
      request: o.request,
      tried: o.tried,
      state: 'pending',
      outcome: null,
      ref: null,
      attempts: 0,
      fallbackPos: 0,
      // The first attempt follows the insert at once; the give-up time counts from here.
      firstAttemptAt: this.o.clock.now(),
      nextAttemptAt: null,
      createdAt: this.o.clock.now(),
      finishedAt: null,
    };
  }

  /** Stores the notices built, then starts the ones that were new; resolves once they are stored. */
  private store(build: Parameters<NoticeJournal['add']>[0]): Promise<void> {
    const stored = this.journal.add(build).then(
      (notices) => {
        for (const n of notices) this.track(this.run(n));
      },
      (err: unknown) => this.o.log.error({ err }, 'could not store notices'),
    );
    this.track(stored);
    return stored;
  }

  private recipientsFor(channel: string, all: Recipient[], given: Recipient | null): (Recipient | null)[] {
    const spec = this.o.channels[channel];
    if (!spec.perRecipient) return [given];
    const list = given ? [given] : all;
    return list.filter((r) => r.email || channel !== 'email');
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
  }

  /** Resolves when no notice is being delivered or waiting for a retry (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Notices that are being delivered, waiting for their next attempt, or falling through. */
  get pending(): number {
    return this.active.size;
  }

  /** For /metrics. */
  metrics(): Record<string, unknown> {
    return {
      notices: this.counters.notices,
      sent: this.counters.attempts,
      delivered: this.counters.delivered,
      failed: this.counters.failedAttempts,
      gaveUp: this.counters.gaveUp,
      resumed: this.counters.resumed,
      retrying: this.waits.size,
      queueDepth: this.active.size,
      channels: structuredClone(this.byChannel),
    };
  }

  /** One notice to its end: its own channel, then its fallbacks. True when someone got it. */
  private async run(n: NoticeRecord): Promise<boolean> {
    this.active.add(n.id);
    try {
      if (n.state === 'pending' && (await this.deliver(n))) return true;
      return await this.fallThrough(n);
    } catch (err) {
      if (!(err instanceof Closed)) this.o.log.error({ err, alarmId: n.alarmId, channel: n.channel }, 'notice delivery failed unexpectedly');
      return false;
    } finally {
      this.active.delete(n.id);
    }
  }

  private async finish(n: NoticeRecord, outcome: string, ref: string | null = null): Promise<void> {
    // A reserved reference stays with the notice, delivered or not: it was given out.
    Object.assign(n, { state: 'done', outcome, ref: ref ?? n.ref, finishedAt: this.o.clock.now(), nextAttemptAt: null });
    await this.journal.update(n.id, { state: 'done', outcome, ref: n.ref, attempts: n.attempts, finishedAt: n.finishedAt, nextAttemptAt: null });
  }

  /** The notice's channel gave up: its fallbacks in order, each as notices of their own. */
  private async fallThrough(n: NoticeRecord): Promise<boolean> {
    const req = n.request as NoticeRequest;
    const spec = this.o.channels[n.channel];
    // The close of an alarm is not worth a fall-through: there is no one on a level to reach.
    const fallbacks = n.event === 'closed' ? [] : (spec?.fallback ?? []);
    for (let pos = n.fallbackPos; pos < fallbacks.length; pos++) {
      if (this.closed) throw new Closed();
      const next = fallbacks[pos];
      if (n.tried.includes(next) || !this.o.channels[next]) continue;
      let kids = (await this.journal.children(n.id)).filter((k) => k.channel === next);
      if (kids.length === 0) {
        n.fallbackPos = pos;
        await this.journal.update(n.id, { fallbackPos: pos });
        await this.record(n.alarmId, n.channel, {
          status: 'fallthrough',
          channel: n.channel,
          to: next,
          level: n.level,
          recipientId: req.recipient?.id ?? null,
          why: `${n.channel} gave up`,
        });
        const tried = [...new Set([...n.tried, ...fallbacks.slice(0, pos + 1).filter((c) => this.o.channels[c])])];
        const targets = this.recipientsFor(next, req.recipients, req.recipient);
        if (targets.length === 0) continue;
        const made = targets.map((r) =>
          this.newNotice({ channel: next, request: { ...req, recipient: r }, level: n.level, event: n.event, parent: n, tried, onceKey: null }),
        );
        kids = await this.journal.add(() => made);
      }
      const results = await Promise.all(kids.map((k) => (k.state === 'done' ? isSuccess(k) : this.run(k))));
      if (this.closed) throw new Closed();
      if (results.some(Boolean)) {
        await this.finish(n, 'fell_through');
        return true;
      }
    }
    if (this.o.undeliverable && n.event === 'alert') {
      await this.o.undeliverable(n.alarmId, n.level, req.recipient?.id ?? `channel:${n.channel}`).catch((err) => this.o.log.warn({ err, alarmId: n.alarmId }, 'could not report an undeliverable notice'));
    }
    await this.finish(n, 'undeliverable');
    return false;
  }

  /** One notice on its channel: attempts until delivered or given up (state falling). */
  private async deliver(n: NoticeRecord): Promise<boolean> {
    const spec = this.o.channels[n.channel];
    const req = n.request as NoticeRequest;
    const alarmId = n.alarmId;
    const channel = n.channel;
    const recipient = req.recipient;
    if (!spec) {
      // Resumed after the channel was removed from the configuration.
      await this.record(alarmId, channel, { status: 'skipped', channel, noticeId: n.id, level: n.level, recipientId: recipient?.id ?? null, reason: 'channel no longer configured' });
      n.state = 'falling';
      await this.journal.update(n.id, { state: 'falling' });
      return false;
    }
    const counters = this.byChannel[channel];
    const log = this.o.log.child({ alarmId, channel, noticeId: n.id });
    if (n.attempts === 0) this.counters.notices++;
    const started = n.firstAttemptAt ?? this.o.clock.now();
    // Resumed while waiting for its next attempt: wait out the rest.
    if (n.nextAttemptAt !== null && n.nextAttemptAt > this.o.clock.now()) await this.sleep(n.nextAttemptAt - this.o.clock.now());
    // A reference the far end dedupes retransmissions by (DC-09: the sequence number) is kept with the
    // notice before its first send, so every retransmission, after a restart too, carries the same one.
    if (n.ref === null && spec.notifier.reserveRef) {
      n.ref = spec.notifier.reserveRef();
      await this.journal.assignRef(n.id, n.ref);
    }
    // `attempts` counts attempts with a known result: one a stop interrupted is made again, with its number.
    for (let attempt = n.attempts + 1; ; attempt++) {
      if (this.closed) throw new Closed();
      const notice: Notice = { noticeId: n.id, alert: req.alert, recipient, link: req.link, attempt, event: n.event, ref: n.ref };
      this.counters.attempts++;
      counters.sent++;
      const base = { channel, noticeId: n.id, level: n.level, recipientId: recipient?.id ?? null, recipientRole: recipient?.role ?? null, attempt, ...(n.via ? { via: n.via } : {}), ...(n.event === 'closed' ? { event: 'closed' } : {}) };
      try {
        const outcome = await this.attempt(spec, notice);
        this.counters.delivered++;
        counters.delivered++;
        log.info({ attempt, status: outcome.status, detail: outcome.detail }, `${channel} notice ${outcome.status}`);
        await this.record(alarmId, channel, { ...base, status: outcome.status, detail: outcome.detail });
        n.attempts = attempt;
        await this.finish(n, 'delivered', outcome.ref ?? null);
        return true;
      } catch (err) {
        if (this.closed) throw new Closed();
        const retryable = !(err instanceof DeliveryError) || err.retryable;
        const reason = err instanceof Error ? err.message : String(err);
        const elapsed = this.o.clock.now() - started;
        const delay = retryable ? nextAttemptDelay(spec.retry, attempt, elapsed) : null;
        this.counters.failedAttempts++;
        counters.failed++;
        if (delay === null) {
          this.counters.gaveUp++;
          counters.gaveUp++;
        }
        log.warn({ attempt, reason, retryable, retryInMs: delay }, delay === null ? `${channel} notice failed; giving up` : `${channel} notice failed; will retry`);
        const nextAttemptAt = delay === null ? null : this.o.clock.now() + delay;
        await this.record(alarmId, channel, {
          ...base,
          status: 'failed',
          reason,
          retryable,
          ...(nextAttemptAt === null ? { gaveUp: true } : { nextAttemptAt }),
        });
        if (nextAttemptAt === null) {
          Object.assign(n, { state: 'falling', attempts: attempt });
          await this.journal.update(n.id, { state: 'falling', attempts: attempt, firstAttemptAt: started });
          return false;
        }
        Object.assign(n, { attempts: attempt, nextAttemptAt });
        await this.journal.update(n.id, { attempts: attempt, firstAttemptAt: started, nextAttemptAt });
        await this.sleep(delay!);
      }
    }
  }

  /** One send under the channel's time limit; a notifier that ignores its signal is left behind. */
  private attempt(spec: ChannelSpec, notice: Notice): Promise<DeliveryOutcome> {
    const ctl = new AbortController();
    this.controllers.add(ctl);
    let timer: TimerHandle | null = null;
    const timedOut = new Promise<never>((_, reject) => {
      const fire = (): void => {
        const why = new DeliveryError(`no result within ${spec.retry.timeoutMs} ms`);
        ctl.abort(why);
        reject(why);
      };
      timer = this.o.clock.setTimer(fire, spec.retry.timeoutMs);
      ctl.signal.addEventListener('abort', () => reject(ctl.signal.reason instanceof Error ? ctl.signal.reason : new DeliveryError('aborted')), { once: true });
    });
    timedOut.catch(() => undefined);
    const sending = Promise.resolve().then(() => spec.notifier.send(notice, ctl.signal));
    sending.catch(() => undefined);
    return Promise.race([sending, timedOut]).finally(() => {
      (timer as TimerHandle | null)?.cancel();
      this.controllers.delete(ctl);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closed) return reject(new Closed());
      const w = {
        timer: this.o.clock.setTimer(() => {
          this.waits.delete(w);
          resolve();
        }, ms),
        wake: () => reject(new Closed()),
      };
      this.waits.add(w);
    });
  }

  private async record(alarmId: string, channel: string, detail: Record<string, unknown>): Promise<void> {
    try {
      await this.o.record(alarmId, { at: this.o.clock.now(), type: 'delivery', actor: `notifier:${channel}`, detail });
    } catch (err) {
      this.o.log.error({ err, alarmId, channel }, 'could not record a delivery result');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pruneTimer?.cancel();
    for (const w of this.waits) {
      w.timer.cancel();
      w.wake();
    }
    this.waits.clear();
    for (const c of this.controllers) c.abort(new DeliveryError('hub stopping', false));
    await this.idle();
    for (const spec of Object.values(this.o.channels)) await spec.notifier.close?.().catch(() => undefined);
  }
}
