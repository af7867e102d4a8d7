/**
 * The contract between the hub's escalation runtime and the channels that carry an alert out of the
 * hub (e-mail, webhook, alarm receiving centre). The runtime decides *who* is told at each level of
 * the ladder; a notifier only knows *how* to reach them on its channel.
 */
import type { AlertMessage } from '../../shared/protocol-schemas.js';

/** A person (or a role's on-call holder) to be told. Private fields are present only where the
 * recipient's role may see them; notifiers must not add any. */
export interface Recipient {
  id: string;
  name: string;
  /** duty_officer, line_manager, head_of_service, director, buddy, ... */
  role: string;
  email?: string;
  phone?: string;
}

export interface Notice {
  /** Stable per (alarm, level, recipient, channel): the idempotency key a receiver can dedupe on. */
  noticeId: string;
  alert: AlertMessage;
  /** null for channels that go to an organisation rather than a person (an ARC). */
  recipient: Recipient | null;
  /** Link to the alarm in the dashboard. */
  link: string;
  /** 1 for the first try of this notice on this channel. */
  attempt: number;
  /** 'alert' (default): a notification of the ladder; 'closed': the alarm was resolved or cancelled; 'position': a newer position of the open alarm (issue 20: ARC, webhook). */
  event?: 'alert' | 'closed' | 'position';
  /** The reference `reserveRef` gave this notice (DC-09: its sequence number), on every attempt. */
  ref?: string | null;
  /** Why the ladder sent it: raised, escalated, repeat, re_alert (a reminder), police, exhausted. */
  reason?: string;
  /** Who has taken the alarm (for a reminder), or null. */
  holder?: string | null;
  /** Set on a fall-through: the channel that could not be used, why, and what to do instead. */
  failed?: { channel: string; reason: string; advice: string | null } | null;
}

export type DeliveryStatus = 'sent' | 'delivered';

export interface DeliveryOutcome {
  status: DeliveryStatus;
  /** What the far end said, for the escalation record (e.g. "250 OK queued as 1A2B", "HTTP 202", "ACK seq 0007"). */
  detail: string;
  /** The far end's reference, kept with the notice (DC-09: the sequence number), for `resume`. */
  ref?: string;
}

/**
 * Why a delivery failed, as far as the channel can tell: `unreachable` (no connection, no answer),
 * `refused` (the far end answered and said no: NAK, DUH, HTTP 4xx, SMTP 5xx), or `other`. The ARC's
 * path state on the dashboard (down or refusing) is read from it.
 */
export type FailureKind = 'unreachable' | 'refused' | 'other';

/** Thrown (or rejected) by a notifier when a delivery failed; `retryable` false stops retries at once. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable = true,
    readonly kind: FailureKind = 'other',
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/**
 * What the far end said about a notice after `send` returned `sent`: an SMS delivery report (+CDS, a
 * gateway's callback). The dispatcher appends it to the alarm's timeline under the notice it belongs to.
 */
export interface DeliveryReport {
  noticeId: string;
  alarmId: string;
  level: number;
  recipient: Recipient | null;
  status: 'delivered' | 'failed';
  /** What the far end said ("+CDS status 0: the phone received it"), or why it failed. */
  detail: string;
  /** The channel's reference the report came with (the SMS message reference, the gateway's id). */
  ref: string;
  /** As on the notice: the close of an alarm, and the channel it fell through from. */
  event: 'alert' | 'closed' | 'position';
  via: string | null;
}

/** A report the notifier has no notice for in memory: only the reference it came with. */
export interface UnmatchedReport {
  unmatched: true;
  ref: string;
  status: 'delivered' | 'failed';
  detail: string;
}

export interface Notifier {
  readonly channel: string;
  /**
   * Set by the dispatcher: where reports that arrive after `send` returned go (SMS delivery reports).
   * One the notifier cannot match itself (sent before a restart) comes as an `UnmatchedReport`, looked up
   * by its reference in the journal. Resolves true when it was recorded on a timeline.
   */
  onReport?(listener: (report: DeliveryReport | UnmatchedReport) => Promise<boolean>): void;
  /** Must settle or honour `signal` (aborted at the channel's time limit); never hangs the caller. */
  send(notice: Notice, signal: AbortSignal): Promise<DeliveryOutcome>;
  close?(): Promise<void>;
  /** At start-up, the last `ref` given out on this channel (reserved or delivered) before the restart. */
  resume?(lastRef: string | null): void;
  /**
   * A reference for a notice about to be sent for the first time (DC-09: the next sequence number).
   * The dispatcher stores it with the notice before the send and passes it in `Notice.ref` on every
   * attempt, after a restart too, so a retransmission keeps it.
   */
  reserveRef?(): string;
}
