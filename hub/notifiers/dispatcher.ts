/**
 * Carries the runtime's DispatchRequests out on the configured channels, each notice on its own:
 * a per-send time limit (AbortSignal), retries with back-off until a give-up time, then fall-through
 * to the channel's fallbacks. Every outcome (sent, delivered, failed with reason, gave up, fell
 * through) is appended to the alarm's escalation record (R20). `dispatch` returns at once: a notifier
 * that hangs or throws delays only its own notice, never another alarm or the ladder.
 *
 * Time (time limits and back-off) comes from the hub's Clock, so tests drive it with a ManualClock.
 * The retry schedule itself is pure (`nextAttemptDelay`).
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { DispatchRequest } from '../rules/rules-runtime.js';
import type { TimelineEntry } from '../store/store-types.js';
import type { AlertMessage } from '../../shared/protocol-schemas.js';
import { DeliveryError, type DeliveryOutcome, type Notice, type Notifier, type Recipient } from './notifier.js';

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
}

/** Delay before the next attempt after `attempt` failed, or null to give up. Pure. */
export function nextAttemptDelay(policy: RetryPolicy, attempt: number, elapsedMs: number): number | null {
  if (attempt >= policy.maxAttempts) return null;
  const delay = Math.min(policy.maxDelayMs, policy.firstDelayMs * policy.factor ** (attempt - 1));
  if (elapsedMs + delay > policy.giveUpAfterMs) return null;
  return delay;
}

/**
 * Stable over the retries of one notification, distinct for the next notification of the level, and
 * for a fall-through (`via` the channel that gave up) so it is not taken for a copy of the direct one.
 */
export function noticeIdFor(alert: AlertMessage, level: number, channel: string, recipient: Recipient | null, via: string | null = null): string {
  const at = Date.parse(alert.at).toString(36);
  const who = (recipient?.id ?? 'org').replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${alert.alarmId}.L${level}.${at}.${channel}.${who}${via ? `.via-${via}` : ''}`;
}

class Closed extends Error {}

export class Dispatcher {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly waits = new Set<{ timer: TimerHandle; wake(): void }>();
  private readonly controllers = new Set<AbortController>();
  /** ARC events already delivered per alarm ('new' / 'restore'): an ARC is told once, not at every rung. */
  private readonly arcState = new Map<string, Set<string>>();
  private closed = false;
  readonly counters = { notices: 0, attempts: 0, delivered: 0, failedAttempts: 0, gaveUp: 0 };

  constructor(private readonly o: DispatcherOptions) {}

  get channels(): string[] {
    return Object.keys(this.o.channels);
  }

  /** The runtime's `outputs.dispatch`. Returns at once. */
  dispatch(req: DispatchRequest): void {
    if (this.closed) return;
    for (const channel of req.channels) {
      if (!this.o.channels[channel]) {
        this.o.log.debug({ alarmId: req.alert.alarmId, channel }, 'channel not configured; skipped');
        continue;
      }
      if (channel === 'arc' && !this.claimArc(req.alert.alarmId, 'new')) continue;
      if (channel === 'email') {
        for (const r of req.recipients.filter((x) => !x.email)) {
          void this.record(req.alert.alarmId, channel, { status: 'skipped', channel, level: req.level, recipientId: r.id, recipientRole: r.role, reason: 'no e-mail address' });
        }
      }
      for (const recipient of this.recipientsFor(channel, req.recipients, null)) {
        this.track(this.deliverChain(channel, req, recipient, new Set([channel]), null));
      }
    }
  }

  /** Called with every alert the hub publishes: a closed alarm the ARC has is restored (or cancelled) there. */
  alarmChanged(alert: AlertMessage): void {
    if (this.closed || !this.o.channels.arc) return;
    if (alert.state !== 'resolved' && alert.state !== 'cancelled') return;
    if (!this.arcState.get(alert.alarmId)?.has('new')) return;
    if (!this.claimArc(alert.alarmId, 'restore')) return;
    const req: DispatchRequest = { alert, level: alert.level, recipients: [], channels: ['arc'], link: '' };
    this.track(this.deliverChain('arc', req, null, new Set(['arc']), null));
  }

  private claimArc(alarmId: string, what: string): boolean {
    const s = this.arcState.get(alarmId) ?? new Set<string>();
    if (s.has(what)) return false;
    s.add(what);
    this.arcState.set(alarmId, s);
    if (this.arcState.size > 10_000) this.arcState.delete(this.arcState.keys().next().value!);
    return true;
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

  /** Notices that are being delivered or waiting for their next attempt. */
  get pending(): number {
    return this.inFlight.size;
  }

  private async deliverChain(channel: string, req: DispatchRequest, recipient: Recipient | null, tried: Set<string>, via: string | null): Promise<boolean> {
    const alarmId = req.alert.alarmId;
    try {
      if (await this.deliver(channel, req, recipient, via)) return true;
      for (const next of this.o.channels[channel].fallback) {
        if (tried.has(next) || !this.o.channels[next]) continue;
        tried.add(next);
        const targets = this.recipientsFor(next, req.recipients, recipient);
        await this.record(alarmId, channel, {
          status: 'fallthrough',
          channel,
          to: next,
          level: req.level,
          recipientId: recipient?.id ?? null,
          why: `${channel} gave up`,
        });
        if (targets.length === 0) continue;
        const results = await Promise.all(targets.map((r) => this.deliverChain(next, req, r, new Set(tried), channel)));
        if (results.some(Boolean)) return true;
      }
      if (this.o.undeliverable) {
        await this.o.undeliverable(alarmId, req.level, recipient?.id ?? `channel:${channel}`).catch((err) => this.o.log.warn({ err, alarmId }, 'could not report an undeliverable notice'));
      }
      return false;
    } catch (err) {
      if (err instanceof Closed) return false;
      this.o.log.error({ err, alarmId, channel }, 'notice delivery failed unexpectedly');
      return false;
    }
  }

  /** One notice on one channel: attempts until delivered or given up. */
  private async deliver(channel: string, req: DispatchRequest, recipient: Recipient | null, via: string | null): Promise<boolean> {
    const spec = this.o.channels[channel];
    const alarmId = req.alert.alarmId;
    const noticeId = noticeIdFor(req.alert, req.level, channel, recipient, via);
    const log = this.o.log.child({ alarmId, channel, noticeId });
    const started = this.o.clock.now();
    this.counters.notices++;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new Closed();
      const notice: Notice = { noticeId, alert: req.alert, recipient, link: req.link, attempt };
      this.counters.attempts++;
      const base = { channel, noticeId, level: req.level, recipientId: recipient?.id ?? null, recipientRole: recipient?.role ?? null, attempt, ...(via ? { via } : {}) };
      try {
        const outcome = await this.attempt(spec, notice);
        this.counters.delivered++;
        log.info({ attempt, status: outcome.status, detail: outcome.detail }, `${channel} notice ${outcome.status}`);
        await this.record(alarmId, channel, { ...base, status: outcome.status, detail: outcome.detail });
        return true;
      } catch (err) {
        if (this.closed) throw new Closed();
        const retryable = !(err instanceof DeliveryError) || err.retryable;
        const reason = err instanceof Error ? err.message : String(err);
        const elapsed = this.o.clock.now() - started;
        const delay = retryable ? nextAttemptDelay(spec.retry, attempt, elapsed) : null;
        this.counters.failedAttempts++;
        if (delay === null) this.counters.gaveUp++;
        log.warn({ attempt, reason, retryable, retryInMs: delay }, delay === null ? `${channel} notice failed; giving up` : `${channel} notice failed; will retry`);
        await this.record(alarmId, channel, {
          ...base,
          status: 'failed',
          reason,
          retryable,
          ...(delay === null ? { gaveUp: true } : { nextAttemptAt: this.o.clock.now() + delay }),
        });
        if (delay === null) return false;
        await this.sleep(delay);
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
