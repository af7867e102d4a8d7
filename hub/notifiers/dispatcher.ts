/**
 * Carries the runtime's DispatchRequests out on the configured channels, each notice on its own:
 * a per-send time limit (AbortSignal), retries with back-off until a give-up time, then fall-through
 * to the channel's fallbacks. Every outcome (sent, delivered, failed with reason, gave up, fell
 * through) is appended to the alarm's escalation record (R20). `dispatch` returns at once: a notifier
 * that hangs or throws delays only its own notice, never another alarm or the ladder.
 *
 * The store is the only scheduler (issue 18). Every notice is written to the journal (the hub's
 * store) before its first send, and every unfinished notice has a row of due work, `notice:<id>`,
 * written in the same transaction as its state: at its next-try time while it waits for a retry, a
 * guard a little after its time limit while an attempt is in flight (so a process that dies mid-send
 * leaves work that comes due again), and a check on its children while it falls through. The hub's
 * one due-work loop fires the row (`fireDue`); the dispatcher loads the notice from the journal,
 * takes one step (an attempt, whose result the pure `stepNotice` turns into the next state, or a
 * fall-through's next move), and writes the next state with its next row, or removes the row when the
 * notice is finished. No promise waits across attempts and nothing sleeps: a restart needs no re-run,
 * the rows that were there simply fall due. `resume` at start-up only tells each notifier its last
 * reference (the ARC's sequence number), prunes, and counts the unfinished notices.
 *
 * Delivery is at-least-once; the notice id is the idempotency key a receiver dedupes on. "The ARC is
 * told once per alarm" and the close events are once-keys in the same journal, so they hold across
 * restarts too. Time (time limits, back-off, the rows' due times) comes from the hub's Clock, so
 * tests drive it with a ManualClock and a DueWorkLoop.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { DispatchRequest } from '../rules/effect-executor.js';
import type { PeriodicJob } from '../rules/periodic-work.js';
import type { NoticeRecord, TimelineEntry } from '../store/store-types.js';
import type { AlertMessage } from '../../shared/protocol-schemas.js';
import { DeliveryError, type DeliveryOutcome, type DeliveryReport, type Notice, type Notifier, type Recipient, type UnmatchedReport } from './notifier.js';
import { REPORT_MAX_AGE_MS } from './sms/pending-reports.js';
import { MemoryNoticeJournal, type NoticeJournal } from './notice-journal.js';
import { channelInfo } from './channel-registry.js';
import { DEFAULT_RETAIN_DAYS } from './notifiers-config.js';
import { followUpDecision } from './position-follow-up.js';
import type { AlertPosition } from './position-text.js';
import { stepNotice, WAIT_CHECK_MS, type NoticeInput, type RetryPolicy } from './notice-step.js';
import { makeNotice, type NewNotice, type NoticeRequest } from './notice-record.js';
import { sendWithin } from './timed-send.js';

export { nextAttemptDelay, WAIT_CHECK_MS, type RetryPolicy } from './notice-step.js';
export { noticeIdFor, type NoticeRequest } from './notice-record.js';

/**
 * An attempt's guard: its due work is moved this far past the attempt's time limit before the send
 * starts. The attempt's result moves it again (to the next try) or removes it; only a process that
 * died mid-send leaves it, and then the attempt is made again, with the same number, when it falls due.
 */
export const ATTEMPT_GUARD_MS = 5000;
/** A close on the ARC whose alert is being tried by no notice of this process looks again this often. */
export const ALERT_CHECK_MS = 1000;

export interface ChannelSpec {
  notifier: Notifier;
  retry: RetryPolicy;
  /** Channels tried in order once this one gives up on a notice. */
  fallback: string[];
  /** One notice per recipient (e-mail) or one per request for the organisation (webhook, ARC). */
  perRecipient: boolean;
  /** Where an organisation channel goes, for the timeline (`arc.example.net:7000 #1234`, a URL's host). */
  address?: string;
  /** What the people told instead must do when this channel gave up ("phone the ARC on ... or dial 999"). */
  failedAdvice?: string;
  /**
   * An alarm path (the ARC): once an alert notice gave up and fell through, keep trying it every this
   * many ms while the alarm is open, and deliver it when the path returns.
   */
  retryWhileOpenMs?: number;
}

/** The state of a channel's path as its last attempt (or supervision message) found it. */
export interface PathState {
  state: 'up' | 'down' | 'refusing';
  since: number;
  reason: string | null;
}

export interface DispatcherOptions {
  clock: Clock;
  log: Logger;
  channels: Record<string, ChannelSpec>;
  /** Appends to the alarm's escalation record (RulesRuntime.recordDelivery). */
  record(alarmId: string, entry: TimelineEntry): Promise<void>;
  /** Every channel, fallbacks included, failed for someone on this level (the ladder may climb now). */
  undeliverable?(alarmId: string, level: number, recipientId: string): Promise<void>;
  /**
   * Where notices are kept until finished, with each unfinished notice's due work `notice:<id>`
   * (the hub's store, StoreNoticeJournal). Absent: in memory with no Store, so retries wait in
   * `MemoryNoticeJournal.scheduled` until someone calls `fireDue`.
   */
  journal?: NoticeJournal;
  /** Finished notices of alarms closed more than this many days ago are pruned at `resume` and daily (default 90). */
  retainDays?: number;
  /** Whether the alarm is still open (for an alarm path's retries after give-up); treated as closed when absent. */
  isOpen?(alarmId: string): Promise<boolean>;
  /** A channel's path went down, started refusing, or came back. */
  onPathChange?(channel: string, state: PathState): void;
  /**
   * This process has just armed a notice's due work for `at`: the one due-work loop brings its timer
   * forward (DueWorkLoop.wake). Absent: the row is found when the loop next reads the store.
   */
  wake?(at: number): void;
}

const DAY_MS = 24 * 3600_000;

export interface ChannelCounters {
  /** Attempts started. */
  sent: number;
  delivered: number;
  /** Attempts that failed. */
  failed: number;
  gaveUp: number;
}


/**
 * Channels that get location follow-ups (issue 20): the alarm path (the ARC, "positions updated after
 * the first notice go to the ARC as the standard allows") and the webhook ("webhooks and alerts carry
 * it"). Not e-mail or SMS: a person told of the alarm follows the position on the dashboard, and a
 * message to their phone at every 25 m would bury the one that matters.
 */
export function followsPositions(channel: string, spec: Pick<ChannelSpec, 'retryWhileOpenMs'>): boolean {
  return channel === 'arc' || channel === 'webhook' || Boolean(spec.retryWhileOpenMs);
}

const isSuccess = (n: NoticeRecord): boolean => n.outcome === 'delivered' || n.outcome === 'fell_through';

/** A notice of an alarm path still being tried after it gave up and fell through (stored as its state). */
const LATE = 'late' as NoticeRecord['state'];

export class Dispatcher {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly controllers = new Set<AbortController>();
  /** Unfinished notices this process knows of (found at start-up, made or fired here), as last written. */
  private readonly active = new Map<string, NoticeRecord>();
  /** Notices with an attempt in flight in this process. */
  private readonly attempting = new Set<string>();
  /** Each notice's steps one after another (a row firing while its last step still writes waits for it). */
  private readonly locks = new Map<string, Promise<void>>();
  /** Close notices waiting for their channel's alert notice: alert id to close notice ids. */
  private readonly awaitingAlert = new Map<string, Set<string>>();
  private idleWaiters: (() => void)[] = [];
  private readonly journal: NoticeJournal;
  private closed = false;
  private resumed = false;
  readonly counters = { notices: 0, attempts: 0, delivered: 0, failedAttempts: 0, gaveUp: 0, resumed: 0 };
  readonly byChannel: Record<string, ChannelCounters> = {};
  /** Each channel's path as the last attempt found it (absent until one was made). */
  readonly paths: Record<string, PathState> = {};
  /** The last failure reason of a notice, handed to its fall-through notices. */
  private readonly lastReason = new Map<string, string>();

  constructor(private readonly o: DispatcherOptions) {
    this.journal = o.journal ?? new MemoryNoticeJournal();
    for (const c of Object.keys(o.channels)) this.byChannel[c] = { sent: 0, delivered: 0, failed: 0, gaveUp: 0 };
    for (const [c, spec] of Object.entries(o.channels)) {
      spec.notifier.onReport?.((r) => {
        const p = this.takeReport(c, r);
        this.track(p);
        return p;
      });
    }
  }

  /** The notifier of a configured channel (the SMS gateway's callback route reaches its notifier here). */
  notifierFor(channel: string): Notifier | null {
    return this.o.channels[channel]?.notifier ?? null;
  }

  /**
   * A report that came after the notice was `sent` (an SMS delivery report): appended to the alarm's
   * timeline as the notice's latest state, `delivered` or `failed` with what the network said. An
   * alert notice reported `failed` while its alarm is open is taken up again where a give-up would
   * leave it: it falls through to the channel's fallbacks, and when none reaches the person the
   * runtime is told it is undeliverable (a step ladder climbs now). Not retried on its own channel:
   * the network already tried and said it cannot deliver.
   */
  private async takeReport(channel: string, r: DeliveryReport | UnmatchedReport): Promise<boolean> {
    try {
      const report = 'unmatched' in r ? await this.matchReport(channel, r) : r;
      if (!report) return false;
      // One final report per SMS: the reference is marked so a repeat (or a late copy) matches nothing.
      await this.journal.update(report.noticeId, { ref: `${report.ref} (reported)` });
      await this.recordReport(channel, report);
      return true;
    } catch (err) {
      this.o.log.error({ err, channel }, 'could not record a delivery report');
      return false;
    }
  }

  /** A report the notifier had no notice for (sent before a restart): its reference, looked up in the journal. */
  private async matchReport(channel: string, r: UnmatchedReport): Promise<DeliveryReport | null> {
    const n = await this.journal.findByRef(channel, r.ref);
    // The modem's reference is one octet and wraps: an old notice with the same one is not this SMS.
    if (!n || n.state !== 'done' || this.o.clock.now() - n.createdAt > REPORT_MAX_AGE_MS) return null;
    const req = n.request as NoticeRequest;
    return { noticeId: n.id, alarmId: n.alarmId, level: n.level, recipient: req.recipient, status: r.status, detail: r.detail, ref: r.ref, event: n.event, via: n.via };
  }

  private async recordReport(channel: string, r: DeliveryReport): Promise<void> {
    const address = r.recipient ? (channelInfo(channel)?.addressOf?.(r.recipient) ?? null) : (this.o.channels[channel]?.address ?? null);
    const who = { recipientId: r.recipient?.id ?? null, recipientName: r.recipient?.name ?? null, recipientRole: r.recipient?.role ?? null, address };
    const log = this.o.log.child({ alarmId: r.alarmId, channel, noticeId: r.noticeId });
    if (r.status === 'delivered') log.info({ ref: r.ref }, `${channel} notice delivered: ${r.detail}`);
    else log.warn({ ref: r.ref }, `${channel} notice NOT delivered: ${r.detail}`);
    await this.record(r.alarmId, channel, {
      status: r.status,
      channel,
      noticeId: r.noticeId,
      level: r.level,
      ...who,
      ...(r.via ? { via: r.via } : {}),
      ...(r.event === 'closed' ? { event: 'closed' } : {}),
      report: true,
      ...(r.status === 'delivered' ? { detail: r.detail } : { reason: r.detail, retryable: false, gaveUp: true }),
    });
    if (r.status === 'failed' && r.event === 'alert') await this.reportedFailed(r);
  }


  private async reportedFailed(r: DeliveryReport): Promise<void> {
    if (this.closed || this.active.has(r.noticeId)) return;
    const found = await this.journal.get(r.noticeId);
    if (!found || found.alarmId !== r.alarmId || found.state !== 'done' || found.outcome !== 'delivered') return;
    if (this.o.isOpen && !(await this.o.isOpen(r.alarmId))) return;
    this.lastReason.set(found.id, r.detail);
    await this.exclusive(found.id, async () => {
      Object.assign(found, { state: 'falling', outcome: null, finishedAt: null });
      // Kept in the journal as falling, with its row, so a restart carries the fall-through on.
      await this.journal.update(found.id, { state: 'falling', outcome: null, finishedAt: null }, this.o.clock.now() + WAIT_CHECK_MS);
      this.active.set(found.id, found);
      await this.fallStep(found);
    });
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
      const info = channelInfo(channel);
      if (info?.addressOf) {
        for (const r of req.recipients.filter((x) => info.addressOf!(x) === null)) {
          void this.record(alarmId, channel, { status: 'no_address', channel, level: req.level, recipientId: r.id, recipientName: r.name, recipientRole: r.role, reason: `${r.name} has no ${info.label} address` });
        }
      }
      for (const recipient of this.recipientsFor(channel, req.recipients, null)) {
        records.push(
          this.newNotice({
            channel,
            request: {
              alert: req.alert,
              recipients: req.recipients,
              recipient,
              link: req.link,
              ...(req.step ? { step: req.step } : {}),
              ...(req.reason ? { reason: req.reason } : {}),
              ...(req.holder ? { holder: req.holder } : {}),
            },
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
   * Called with every alert the hub publishes. When an alarm closes, everyone who was told of it is
   * told it is over, once each: the ARC gets the restore (or cancel) only for an alarm it acknowledged
   * (the close notice waits for the alert notice still being tried); the webhook gets
   * `lonewatch.alarm.resolved`/`.cancelled`; each person e-mailed about it (directly or as a
   * fall-through) gets an e-mail with the outcome.
   */
  async alarmChanged(alert: AlertMessage): Promise<void> {
    if (this.closed) return;
    if (alert.state !== 'resolved' && alert.state !== 'cancelled') return;
    const alarmId = alert.alarmId;
    for (const channel of Object.keys(this.o.channels)) {
      const spec = this.o.channels[channel];
      await this.store(async (reader) => {
        const told = (await reader.listNotices(alarmId)).filter((n) => n.channel === channel && n.event === 'alert');
        if (told.length === 0) return [];
        const link = (told[0].request as NoticeRequest).link;
        if (!spec.perRecipient) {
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
        }
        // Per person: those whose notice got through (or is still being tried), once each.
        const people = new Map<string, Recipient>();
        for (const n of told) {
          const r = (n.request as NoticeRequest).recipient;
          if (r && (n.state !== 'done' || n.outcome === 'delivered') && !people.has(r.id)) people.set(r.id, r);
        }
        return [...people.values()].map((r) =>
          this.newNotice({
            channel,
            request: { alert, recipients: [], recipient: r, link },
            level: alert.level,
            event: 'closed',
            parent: null,
            tried: [channel],
            onceKey: `${alarmId}:${channel}:closed:${r.id}`,
            id: `${alarmId}.${alert.state}.${channel}.${r.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
          }),
        );
      });
    }
  }

  /**
   * A fix stored for an open alarm (issue 20): when it is newer than the position a channel was last
   * given for the alarm by enough (position-follow-up.ts), one follow-up message on each channel that
   * takes them (`followsPositions`: the alarm path, the ARC, and the webhook) and already has the
   * alarm: the ARC once it ACKed the alert, the webhook once one of its alert notices was delivered
   * (HTTP 2xx). The message restates the alert the channel was last given, with the new position. Its
   * id and once-key come from the alarm, the channel and the fix time, so a retry (after a restart
   * too) is the same message, never a second one. Nothing for a channel whose alert has not got
   * through yet: that alert, when it does, is the first the far end hears (with the position it was
   * made with).
   */
  async positionUpdated(alarmId: string, position: AlertPosition): Promise<void> {
    if (this.closed) return;
    const fix = { lat: position.lat, lon: position.lon, fixAt: Date.parse(position.fixAt) };
    for (const [channel, spec] of Object.entries(this.o.channels)) {
      if (!followsPositions(channel, spec)) continue;
      await this.store(async (reader) => {
        const mine = (await reader.listNotices(alarmId)).filter((n) => n.channel === channel && (n.event === 'alert' || n.event === 'position') && n.parentId === null);
        // The latest alert that got through: the ARC has one (told once per alarm), the webhook one per level.
        const alert = mine.filter((n) => n.event === 'alert' && n.state === 'done' && n.outcome === 'delivered').reduce<NoticeRecord | null>((a, b) => (a && a.createdAt > b.createdAt ? a : b), null);
        if (!alert) return [];
        const last = mine.reduce((a, b) => (b.createdAt >= a.createdAt ? b : a));
        const lastReq = last.request as NoticeRequest;
        const had = lastReq.alert.position;
        const to = channel === 'webhook' ? 'the webhook' : 'the ARC';
        const decision = followUpDecision({ given: had ? { lat: had.lat, lon: had.lon, fixAt: Date.parse(had.fixAt) } : null, givenAt: last.createdAt, fix, now: this.o.clock.now(), to });
        if (!decision.send) {
          this.o.log.debug({ alarmId, channel, why: decision.why }, 'no location follow-up');
          return [];
        }
        this.o.log.info({ alarmId, channel, why: decision.why }, `location follow-up to the ${channelInfo(channel)?.label ?? channel}`);
        const req = alert.request as NoticeRequest;
        return [
          this.newNotice({
            channel,
            request: { alert: { ...req.alert, position }, recipients: [], recipient: null, link: req.link, reason: `new position: ${decision.why}` },
            level: alert.level,
            event: 'position',
            parent: null,
            tried: [channel],
            onceKey: `${alarmId}:${channel}:position:${fix.fixAt}`,
            id: `${alarmId}.position.${fix.fixAt.toString(36)}.${channel}`,
          }),
        ];
      });
    }
  }

  /**
   * At start-up: prunes old notices (then daily, as due work: pruneJob), tells each notifier its last reference (the ARC's sequence
   * number), and counts the notices a stop left unfinished. Nothing is re-run: each has its due work
   * in the store, which the one loop fires at its time. A notice without a row (written by a hub from
   * before notices kept one for every step) is given one, due now.
   */
  async resume(): Promise<number> {
    if (this.resumed) return 0;
    this.resumed = true;
    await this.prune();
    for (const [channel, spec] of Object.entries(this.o.channels)) {
      if (spec.notifier.resume) spec.notifier.resume(await this.journal.lastRef(channel));
    }
    const open = await this.journal.unfinished();
    let armed = 0;
    for (const n of open) {
      this.active.set(n.id, n);
      if ((await this.journal.dueAt(n.id)) === null) {
        await this.arm(n.id, Math.max(this.o.clock.now(), n.nextAttemptAt ?? 0));
        armed++;
      }
    }
    this.counters.resumed += open.length;
    if (open.length > 0) this.o.log.info({ notices: open.length, armed }, 'unfinished notices: each carries on when its due work falls due');
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

  /** The daily prune, as due work (hub/rules/periodic-work.ts): periodic:notices. */
  pruneJob(): PeriodicJob {
    return { key: 'notices', everyMs: DAY_MS, what: 'pruning finished notices of old alarms', run: () => this.prune() };
  }

  private newNotice(o: NewNotice): NoticeRecord {
    return makeNotice(o, this.o.clock.now());
  }

  /** Stores the notices built, each with its attempt's guard, then starts the ones that were new; resolves once they are stored. */
  private store(build: Parameters<NoticeJournal['add']>[0]): Promise<void> {
    const stored = this.journal.add(build, (n) => this.guardAt(n)).then(
      (notices) => {
        for (const n of notices) this.kick(n.id, n);
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
    const info = channelInfo(channel);
    return list.filter((r) => !info?.addressOf || info.addressOf(r) !== null);
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    p.finally(() => {
      this.inFlight.delete(p);
      this.signal();
    }).catch(() => undefined);
  }

  private signal(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Resolves when this process has no step in flight and no unfinished notice (tests, shutdown): a
   * notice waiting for its next attempt counts, so on a ManualClock the test moves the clock first. An
   * alarm path's notice still being tried while its alarm is open counts as waiting: `close` ends it.
   */
  async idle(): Promise<void> {
    for (;;) {
      if (this.inFlight.size > 0) {
        await Promise.allSettled([...this.inFlight]);
        continue;
      }
      if (this.active.size === 0 || this.closed) return;
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  /** Unfinished notices of this process: being attempted, waiting for their next attempt, or falling through. */
  get pending(): number {
    return this.active.size;
  }

  /** For /metrics. */
  metrics(): Record<string, unknown> {
    let retrying = 0;
    for (const n of this.active.values()) if (n.state !== 'falling' && n.nextAttemptAt !== null && !this.attempting.has(n.id)) retrying++;
    return {
      notices: this.counters.notices,
      sent: this.counters.attempts,
      delivered: this.counters.delivered,
      failed: this.counters.failedAttempts,
      gaveUp: this.counters.gaveUp,
      resumed: this.counters.resumed,
      retrying,
      queueDepth: this.active.size,
      channels: structuredClone(this.byChannel),
    };
  }

  /**
   * The due work `notice:<key>` fell due (the one loop claimed it), or a notice was just stored:
   * loads the notice and takes its next step, which writes its next row (or removes it). False when
   * the dispatcher is closed: the row is left to its lease, for the next process to claim.
   */
  async fireDue(key: string): Promise<boolean> {
    if (this.closed) return false;
    await this.exclusive(key, () => this.advance(key));
    return true;
  }

  /** Runs a notice's step after any of its own still running, never beside one. */
  private exclusive(id: string, fn: () => Promise<void>): Promise<void> {
    const run = (this.locks.get(id) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return run;
  }

  /**
   * The notice's next step now, in this process, in the background (a new notice, a woken parent).
   * `stored`: the notice as just stored by this process, so its first attempt needs no read first.
   */
  private kick(id: string, stored?: NoticeRecord): void {
    if (this.closed) return;
    this.track(this.exclusive(id, () => this.advance(id, stored)).catch((err) => this.o.log.error({ err, noticeId: id }, 'notice step failed; its due work tries it again')));
  }

  /** Arms the notice's due work and brings the loop's timer forward to it. */
  private async arm(id: string, at: number | null): Promise<void> {
    await this.journal.arm(id, at);
    if (at !== null) this.o.wake?.(at);
  }

  /** Writes the notice's changes with its next row, keeps the copy of this process, and wakes the loop. */
  private async write(n: NoticeRecord, changes: Partial<Omit<NoticeRecord, 'id'>>, dueAt: number | null): Promise<void> {
    Object.assign(n, changes);
    await this.journal.update(n.id, changes, dueAt);
    if (dueAt !== null) this.o.wake?.(dueAt);
    if (n.state === 'done') this.forget(n);
    else this.active.set(n.id, n);
  }

  /** When an attempt of this notice starting now would be made again if its process died mid-send. */
  private guardAt(n: NoticeRecord): number {
    return this.o.clock.now() + (this.o.channels[n.channel]?.retry.timeoutMs ?? 0) + ATTEMPT_GUARD_MS;
  }

  /** One step of a notice, from its state in the journal. */
  private async advance(id: string, stored?: NoticeRecord): Promise<void> {
    if (this.closed) return;
    const n = stored ? structuredClone(stored) : await this.journal.get(id);
    if (!n || n.state === 'done') {
      // Finished (or pruned) already: its due work, if any is left, has nothing to do.
      await this.journal.arm(id, null);
      if (n) this.forget(n);
      else this.active.delete(id);
      return;
    }
    const now = this.o.clock.now();
    // An attempt of this process is in flight (a row fired past its guard): its result writes the next step.
    if (this.attempting.has(id)) return this.arm(id, this.guardAt(n));
    this.active.set(id, n);
    if (n.state === LATE) return this.lateStep(n);
    if (n.state === 'falling') return this.fallStep(n);
    // Woken before its next-try time (a second wake-up): it waits for that.
    if (n.nextAttemptAt !== null && n.nextAttemptAt > now) return this.arm(id, n.nextAttemptAt);
    if (n.attempts === 0) {
      // On an alarm path the close (restore) waits for the alert's ACK, and is not sent without one.
      if (n.event === 'closed' && (n.channel === 'arc' || this.o.channels[n.channel]?.retryWhileOpenMs) && !(await this.alertAcknowledged(n))) return;
      // A location follow-up is for an open alarm only (R22): one the close overtook is not sent.
      if (n.event === 'position' && !(await (this.o.isOpen ?? (async () => false))(n.alarmId))) {
        await this.record(n.alarmId, n.channel, { status: 'skipped', channel: n.channel, noticeId: n.id, level: n.level, event: 'position', recipientId: null, address: this.o.channels[n.channel]?.address ?? null, reason: 'no new position sent: the alarm closed first' });
        await this.finish(n, 'skipped');
        return;
      }
    }
    await this.startAttempt(n);
  }

  private forget(n: NoticeRecord): void {
    this.active.delete(n.id);
    this.lastReason.delete(n.id);
    this.signal();
  }

  /** The notice is finished: written with its row removed; whoever waited for it takes its next step. */
  private async finish(n: NoticeRecord, outcome: string, ref: string | null = null): Promise<void> {
    // A reserved reference stays with the notice, delivered or not: it was given out.
    await this.write(n, { state: 'done', outcome, ref: ref ?? n.ref, attempts: n.attempts, finishedAt: this.o.clock.now(), nextAttemptAt: null }, null);
    this.finished(n);
  }

  private finished(n: NoticeRecord): void {
    if (n.parentId) this.kick(n.parentId);
    const closes = this.awaitingAlert.get(n.id);
    this.awaitingAlert.delete(n.id);
    for (const id of closes ?? []) this.kick(id);
  }

  /**
   * One attempt of a pending notice on its channel: its guard row is written first, then the send
   * runs in the background under the channel's time limit and its result is the next step.
   */
  private async startAttempt(n: NoticeRecord): Promise<void> {
    const spec = this.o.channels[n.channel];
    const req = n.request as NoticeRequest;
    const recipient = req.recipient;
    if (!spec) {
      // Stored before the channel was removed from the configuration.
      await this.record(n.alarmId, n.channel, { status: 'skipped', channel: n.channel, noticeId: n.id, level: n.level, recipientId: recipient?.id ?? null, reason: 'channel no longer configured' });
      await this.write(n, { state: 'falling' }, this.o.clock.now() + WAIT_CHECK_MS);
      return this.fallStep(n);
    }
    if (n.attempts === 0 && n.nextAttemptAt === null) {
      await this.record(n.alarmId, n.channel, { status: 'queued', channel: n.channel, noticeId: n.id, level: n.level, ...this.who(n), ...(n.via ? { via: n.via } : {}), ...(n.event !== 'alert' ? { event: n.event } : {}) });
    }
    if (n.attempts === 0) this.counters.notices++;
    // The give-up time counts from the first attempt (kept in the journal by the first failure).
    if (n.firstAttemptAt === null) n.firstAttemptAt = this.o.clock.now();
    // A reference the far end dedupes retransmissions by (DC-09: the sequence number) is kept with the
    // notice before its first send, so every retransmission, after a restart too, carries the same one.
    if (n.ref === null && spec.notifier.reserveRef) {
      n.ref = spec.notifier.reserveRef();
      await this.journal.assignRef(n.id, n.ref);
    }
    // `attempts` counts attempts with a known result: one a stop interrupted is made again, with its number.
    const attempt = n.attempts + 1;
    const notice: Notice = {
      noticeId: n.id,
      alert: req.alert,
      recipient,
      link: req.link,
      attempt,
      event: n.event,
      ref: n.ref,
      reason: req.reason ?? 'raised',
      holder: req.holder ?? null,
      failed: req.failed ?? null,
    };
    await this.send(n, spec, notice, (result) => this.attempted(n, spec, attempt, result));
  }

  /** Writes the guard row, then starts one send in the background; `then` takes its result as the notice's next step. */
  private async send(n: NoticeRecord, spec: ChannelSpec, notice: Notice, then: (result: { outcome: DeliveryOutcome } | { err: unknown }) => Promise<void>): Promise<void> {
    this.attempting.add(n.id);
    try {
      await this.arm(n.id, this.guardAt(n));
    } catch (err) {
      this.attempting.delete(n.id);
      throw err;
    }
    this.counters.attempts++;
    this.byChannel[n.channel].sent++;
    const sent = this.attempt(spec, notice)
      .then(
        (outcome) => ({ outcome }),
        (err: unknown) => ({ err }),
      )
      .then((result) =>
        this.exclusive(n.id, async () => {
          this.attempting.delete(n.id);
          // A stop interrupted it: no result is known, and the guard row makes it again after a restart.
          if (this.closed && 'err' in result) return;
          await then(result);
        }),
      )
      .catch((err) => this.o.log.error({ err, alarmId: n.alarmId, channel: n.channel, noticeId: n.id }, 'notice step failed; its due work tries it again'))
      .finally(() => this.attempting.delete(n.id));
    this.track(sent);
  }

  private who(n: NoticeRecord): { recipientId: string | null; recipientName: string | null; recipientRole: string | null; address: string | null } {
    const recipient = (n.request as NoticeRequest).recipient;
    const spec = this.o.channels[n.channel];
    const address = recipient ? (channelInfo(n.channel)?.addressOf?.(recipient) ?? null) : (spec?.address ?? null);
    return { recipientId: recipient?.id ?? null, recipientName: recipient?.name ?? null, recipientRole: recipient?.role ?? null, address };
  }

  /** An attempt's result through the pure step; what follows only carries its decision out. */
  private async attempted(n: NoticeRecord, spec: ChannelSpec, attempt: number, result: { outcome: DeliveryOutcome } | { err: unknown }): Promise<void> {
    const channel = n.channel;
    const counters = this.byChannel[channel];
    const log = this.o.log.child({ alarmId: n.alarmId, channel, noticeId: n.id });
    let input: NoticeInput;
    if ('outcome' in result) {
      // One person's bad address says nothing of the path; an organisation channel's answer does.
      if (!spec.perRecipient) this.notePath(channel, null);
      input = { type: 'delivered', attempt, status: result.outcome.status, detail: result.outcome.detail, ref: result.outcome.ref ?? null, retry: spec.retry };
    } else {
      const err = result.err;
      const reason = err instanceof Error ? err.message : String(err);
      this.lastReason.set(n.id, reason);
      if (!spec.perRecipient) this.notePath(channel, err);
      input = { type: 'failed', attempt, reason, retryable: !(err instanceof DeliveryError) || err.retryable, retry: spec.retry };
    }
    const base = { channel, noticeId: n.id, level: n.level, ...this.who(n), attempt, ...(n.via ? { via: n.via } : {}), ...(n.event !== 'alert' ? { event: n.event } : {}) };
    const step = stepNotice(n, input, this.o.clock.now());
    for (const action of step.actions) {
      if (action.type !== 'record') continue;
      if (action.detail.status === 'failed') {
        const d = action.detail;
        this.counters.failedAttempts++;
        counters.failed++;
        if (d.gaveUp) {
          this.counters.gaveUp++;
          counters.gaveUp++;
        }
        const retryInMs = d.nextAttemptAt === undefined ? null : d.nextAttemptAt - this.o.clock.now();
        log.warn({ attempt, reason: d.reason, retryable: d.retryable, retryInMs }, d.gaveUp ? `${channel} notice failed; giving up` : `${channel} notice failed; will retry`);
      } else {
        this.counters.delivered++;
        counters.delivered++;
        log.info({ attempt, status: action.detail.status, detail: action.detail.detail }, `${channel} notice ${action.detail.status}`);
      }
      await this.record(n.alarmId, channel, { ...base, ...action.detail });
    }
    const next = step.actions.at(-1)!;
    // The state and the next row (the retry's time, the fall-through's check, none once finished) in one write.
    await this.write(n, step.changes, step.dueAt);
    if (next.type === 'finished') this.finished(n);
    else if (next.type === 'fall_back') await this.fallStep(n);
  }

  /** An alert notice on an alarm path carries on after its fall-through instead of finishing. */
  private lateRetry(n: NoticeRecord): boolean {
    return n.event === 'alert' && Boolean(this.o.channels[n.channel]?.retryWhileOpenMs);
  }

  /**
   * The notice's channel gave up: its fallbacks in order, each as notices of their own with their own
   * due work. The notice waits (its row checks on them) until one of a fallback's notices got through
   * or all of them gave up; each child that finishes here wakes it at once.
   */
  private async fallStep(n: NoticeRecord): Promise<void> {
    if (this.closed) return;
    const req = n.request as NoticeRequest;
    const spec = this.o.channels[n.channel];
    // The close of an alarm is not worth a fall-through: there is no one on a level to reach; nor is a
    // location follow-up (issue 20): the people on the level have the position on the dashboard.
    const fallbacks = n.event !== 'alert' ? [] : (spec?.fallback ?? []);
    for (let pos = n.fallbackPos; pos < fallbacks.length; pos++) {
      const next = fallbacks[pos];
      if (n.tried.includes(next) || !this.o.channels[next]) continue;
      const kids = (await this.journal.children(n.id)).filter((k) => k.channel === next);
      if (kids.length === 0) {
        await this.write(n, { fallbackPos: pos }, this.o.clock.now() + WAIT_CHECK_MS);
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
        const failed = { channel: n.channel, reason: this.lastReason.get(n.id) ?? `${n.channel} gave up`, advice: spec?.failedAdvice ?? null };
        const made = targets.map((r) => this.newNotice({ channel: next, request: { ...req, recipient: r, failed }, level: n.level, event: n.event, parent: n, tried, onceKey: null }));
        const stored = await this.journal.add(() => made, (k) => this.guardAt(k));
        for (const k of stored) this.kick(k.id, k);
        // None new (an id already taken): as if this fallback reached nobody, the next is tried.
        if (stored.length > 0) return;
        continue;
      }
      if (kids.some((k) => k.state !== 'done')) {
        // Still being tried: woken when one finishes; the row is the check if that is missed.
        await this.arm(n.id, this.o.clock.now() + WAIT_CHECK_MS);
        return;
      }
      if (kids.some(isSuccess)) {
        if (this.lateRetry(n)) return this.goLate(n);
        return this.finish(n, 'fell_through');
      }
    }
    if (this.o.undeliverable && n.event === 'alert') {
      await this.o.undeliverable(n.alarmId, n.level, req.recipient?.id ?? `channel:${n.channel}`).catch((err) => this.o.log.warn({ err, alarmId: n.alarmId }, 'could not report an undeliverable notice'));
    }
    if (this.lateRetry(n)) return this.goLate(n);
    return this.finish(n, 'undeliverable');
  }

  /**
   * An alarm path's alert notice after it gave up (DC-09: the ARC never got the alarm): tried again
   * every `retryWhileOpenMs` while the alarm is open, each try a row of its due work, so the ARC gets
   * it when the path returns. The alarm closing first ends it: the ARC was never told, and gets no
   * restore either.
   */
  private async goLate(n: NoticeRecord): Promise<void> {
    const spec = this.o.channels[n.channel];
    const every = spec?.retryWhileOpenMs ?? 0;
    if (n.state !== LATE) {
      await this.write(n, { state: LATE }, this.o.clock.now() + WAIT_CHECK_MS);
      if (spec && (await this.isOpen(n.alarmId))) {
        await this.record(n.alarmId, n.channel, {
          ...this.lateBase(n),
          status: 'failed',
          reason: `${this.lastReason.get(n.id) ?? 'gave up'}; trying again every ${Math.round(every / 1000)} s while the alarm is open`,
          retryable: true,
          late: true,
        });
      }
    }
    if (!spec || !(await this.isOpen(n.alarmId))) return this.lateClosed(n);
    const now = this.o.clock.now();
    const at = n.nextAttemptAt !== null && n.nextAttemptAt > now ? n.nextAttemptAt : now + every;
    await this.write(n, { nextAttemptAt: at }, at);
  }

  /** A late notice's row fell due: one more try while its alarm is open. */
  private async lateStep(n: NoticeRecord): Promise<void> {
    const spec = this.o.channels[n.channel];
    if (!spec || !(await this.isOpen(n.alarmId))) return this.lateClosed(n);
    if (n.nextAttemptAt !== null && n.nextAttemptAt > this.o.clock.now()) return this.arm(n.id, n.nextAttemptAt);
    n.nextAttemptAt = null;
    const req = n.request as NoticeRequest;
    const attempt = n.attempts + 1;
    const notice: Notice = { noticeId: n.id, alert: req.alert, recipient: null, link: req.link, attempt, event: 'alert', ref: n.ref, reason: req.reason ?? 'raised', holder: req.holder ?? null };
    await this.send(n, spec, notice, (result) => this.lateAttempted(n, spec, attempt, result));
  }

  private async lateAttempted(n: NoticeRecord, spec: ChannelSpec, attempt: number, result: { outcome: DeliveryOutcome } | { err: unknown }): Promise<void> {
    const every = spec.retryWhileOpenMs ?? 0;
    const base = { ...this.lateBase(n), attempt };
    n.attempts = attempt;
    if ('outcome' in result) {
      this.notePath(n.channel, null);
      this.counters.delivered++;
      this.byChannel[n.channel].delivered++;
      this.o.log.info({ alarmId: n.alarmId, channel: n.channel, attempt }, `${n.channel} notice delivered after it had given up`);
      await this.record(n.alarmId, n.channel, { ...base, status: result.outcome.status, detail: `${result.outcome.detail} (late: after the path returned)`, late: true });
      return this.finish(n, 'delivered', result.outcome.ref ?? null);
    }
    const reason = result.err instanceof Error ? result.err.message : String(result.err);
    this.notePath(n.channel, result.err);
    this.counters.failedAttempts++;
    this.byChannel[n.channel].failed++;
    const at = this.o.clock.now() + every;
    // Recorded when the reason changes, not once a minute for as long as the path is down.
    if (reason !== (this.lastReason.get(n.id) ?? null)) {
      await this.record(n.alarmId, n.channel, { ...base, status: 'failed', reason, retryable: true, late: true, nextAttemptAt: at });
      this.lastReason.set(n.id, reason);
    }
    await this.write(n, { attempts: attempt, nextAttemptAt: at }, at);
  }

  private lateBase(n: NoticeRecord): Record<string, unknown> {
    return { channel: n.channel, noticeId: n.id, level: n.level, recipientId: null, recipientName: null, address: this.o.channels[n.channel]?.address ?? null };
  }

  private async lateClosed(n: NoticeRecord): Promise<void> {
    await this.record(n.alarmId, n.channel, {
      ...this.lateBase(n),
      status: 'failed',
      gaveUp: true,
      reason: `the alarm closed before the ${channelInfo(n.channel)?.label ?? n.channel} acknowledged it: it was never told of this alarm, and is sent no restore`,
    });
    return this.finish(n, 'undeliverable');
  }

  private isOpen(alarmId: string): Promise<boolean> {
    return (this.o.isOpen ?? (async () => false))(alarmId);
  }

  /**
   * The close of an alarm on the ARC waits for its alert: a restore is sent only for an alarm the ARC
   * acknowledged. While the alert notice is unfinished the close's row looks again (and the alert's
   * finish here wakes it at once); false then, and false with the close finished as skipped when the
   * ARC never acknowledged the alarm.
   */
  private async alertAcknowledged(n: NoticeRecord): Promise<boolean> {
    const alert = await this.findOnce(`${n.alarmId}:${n.channel}:alert`);
    if (alert && alert.state !== 'done') {
      const waiting = this.awaitingAlert.get(alert.id) ?? new Set<string>();
      waiting.add(n.id);
      this.awaitingAlert.set(alert.id, waiting);
      await this.arm(n.id, this.o.clock.now() + (this.active.has(alert.id) ? WAIT_CHECK_MS : ALERT_CHECK_MS));
      return false;
    }
    if (alert && alert.outcome === 'delivered') return true;
    const label = channelInfo(n.channel)?.label ?? n.channel;
    await this.record(n.alarmId, n.channel, {
      status: 'skipped',
      channel: n.channel,
      noticeId: n.id,
      level: n.level,
      event: 'closed',
      recipientId: null,
      address: this.o.channels[n.channel]?.address ?? null,
      reason: `no ${(n.request as NoticeRequest).alert.state === 'cancelled' ? 'cancel' : 'restore'} sent: the ${label} never acknowledged the alarm`,
    });
    await this.finish(n, 'skipped');
    return false;
  }

  private async findOnce(onceKey: string): Promise<NoticeRecord | null> {
    let found: NoticeRecord | null = null;
    await this.journal.add(async (reader) => {
      found = await reader.getNoticeByOnceKey(onceKey);
      return [];
    });
    return found;
  }

  /** Keeps each channel's path state from its attempts; tells the hub when it changes. */
  notePath(channel: string, err: unknown): void {
    const state: PathState['state'] = err === null ? 'up' : err instanceof DeliveryError && err.kind === 'refused' ? 'refusing' : 'down';
    const reason = err === null ? null : err instanceof Error ? err.message : String(err);
    const before = this.paths[channel];
    if (before && before.state === state && before.reason === reason) return;
    if (before && before.state === state && state === 'up') return;
    this.paths[channel] = { state, since: before?.state === state ? before.since : this.o.clock.now(), reason };
    if (state !== 'up') this.o.log.warn({ channel, state, reason }, `the path to the ${channelInfo(channel)?.label ?? channel} is ${state === 'down' ? 'down' : 'refusing our messages'}`);
    else if (before) this.o.log.info({ channel }, `the path to the ${channelInfo(channel)?.label ?? channel} is back`);
    this.o.onPathChange?.(channel, this.paths[channel]);
  }

  /** One send under the channel's time limit (timed-send.ts); `close` aborts it. */
  private attempt(spec: ChannelSpec, notice: Notice): Promise<DeliveryOutcome> {
    return sendWithin(spec.notifier, notice, spec.retry.timeoutMs, this.o.clock, this.controllers);
  }

  private async record(alarmId: string, channel: string, detail: Record<string, unknown>): Promise<void> {
    try {
      await this.o.record(alarmId, { at: this.o.clock.now(), type: 'delivery', actor: `notifier:${channel}`, detail });
    } catch (err) {
      this.o.log.error({ err, alarmId, channel }, 'could not record a delivery result');
    }
  }

  /**
   * Stops: sends in flight are aborted (their notices keep their guard rows, so the next start makes
   * them again), nothing new starts, and the notifiers are closed. The notices' state and due work
   * stay in the journal.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.controllers) c.abort(new DeliveryError('hub stopping', false));
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.active.clear();
    this.awaitingAlert.clear();
    this.signal();
    for (const spec of Object.values(this.o.channels)) await spec.notifier.close?.().catch(() => undefined);
  }
}
