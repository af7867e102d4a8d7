/**
 * E-mail through an SMTP relay (nodemailer). Plain text a person reads at a glance on a phone: who,
 * what, where (the visit reference: the address is behind the link, for roles that may see it),
 * when, and the link. Nothing private (R22): a Notice carries no phone, address or medical detail,
 * and this file adds none. The one private thing it may carry is the worker's latest position, and
 * only while the alarm is open (the alert's `position`, issue 20): the people on the ladder are the
 * ones who need to know where to go (R5 puts location first).
 */
import nodemailer, { type Transporter } from 'nodemailer';
import { DeliveryError, type DeliveryOutcome, type Notice, type Notifier } from './notifier.js';
import { positionLine } from './position-text.js';
import { ALARM_KIND, ALARM_OUTCOME } from '../../shared/vocabulary.js';

/** The e-mail's words for a kind: the vocabulary's `noticeText` (shared/vocabulary.ts, one table). */
const kindText = (kind: string): string | undefined => (ALARM_KIND as Record<string, { noticeText: string } | undefined>)[kind]?.noticeText;

const STATE_TEXT: Record<string, string> = {
  raised: 'raised, nobody has taken it yet',
  notifying: 'raised, nobody has taken it yet',
  acknowledged: 'taken by an officer',
  exhausted: 'NOBODY HAS TAKEN IT: the whole escalation ladder ran',
  resolved: 'resolved',
  cancelled: 'cancelled',
};

/** The outcome the officer chose when closing (issue 15 item 10), in words for the close e-mail: the vocabulary's label, lower-cased at the start. */
function outcomeText(outcome: string): string {
  const label = (ALARM_OUTCOME as Record<string, { label: string } | undefined>)[outcome]?.label;
  return label ? label.charAt(0).toLowerCase() + label.slice(1) : outcome;
}

/** "resolved", or "resolved: false alarm" when the officer gave the outcome. */
function howItEnded(a: Notice['alert']): string {
  const state = a.state === 'cancelled' ? 'cancelled' : 'resolved';
  return a.outcome ? `${state}: ${outcomeText(a.outcome)}` : state;
}

function utc(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/**
 * What the e-mail is, first in the subject so a phone's inbox shows it: a fall-through says which
 * channel failed (the ARC was NOT told), a reminder and the end of the ladder have their own, and the
 * close of an alarm says it is over and how.
 */
function purpose(notice: Notice): string {
  const a = notice.alert;
  if (notice.event === 'closed') return `OVER (${howItEnded(a)}): `;
  if (notice.failed) return notice.failed.channel === 'arc' ? 'ARC NOT TOLD: ' : `${notice.failed.channel.toUpperCase()} FAILED: `;
  switch (notice.reason) {
    case 're_alert':
      return 'REMINDER, still open: ';
    case 'exhausted':
      return 'NOBODY HAS TAKEN IT: ';
    case 'police':
      return 'CALL 999 NOW: ';
    case 'repeat':
      return 'STILL NOT TAKEN: ';
    default:
      return '';
  }
}

export function emailSubject(notice: Notice): string {
  const a = notice.alert;
  const who = a.workerName ?? a.workerId ?? a.deviceId ?? 'unknown worker';
  return `${a.drill ? '[DRILL] ' : ''}${purpose(notice)}${kindText(a.kind)?.split(' (')[0] ?? a.kind}: ${who}`;
}

function leadLines(notice: Notice): string[] {
  const a = notice.alert;
  if (notice.event === 'closed') {
    return [`This alarm is over: ${howItEnded(a)}, at ${utc(a.at)}. You were told of it earlier; nothing more is needed from you.`, ''];
  }
  if (notice.failed) {
    return [
      `${notice.failed.advice ?? `The ${notice.failed.channel} channel failed.`}`,
      `Why: ${notice.failed.reason}.`,
      'You are getting this e-mail instead.',
      '',
    ];
  }
  switch (notice.reason) {
    case 're_alert':
      return [`REMINDER: this alarm was taken${notice.holder ? ` by ${notice.holder.replace(/^user:/, '')}` : ''} but is still not resolved.`, ''];
    case 'exhausted':
      return ['NOBODY HAS TAKEN THIS ALARM: the whole escalation ladder ran without anyone acknowledging it.', ''];
    case 'police':
      return ['No contact since the last confirmed sighting: call 999 and inform the Duty Officer, Head of Service and Director.', ''];
    case 'repeat':
      return ['Nobody has taken this alarm yet: this is a repeat of the earlier notice.', ''];
    default:
      return [];
  }
}

export function emailText(notice: Notice, hubName: string): string {
  const a = notice.alert;
  const who = a.workerName ?? a.workerId ?? a.deviceId ?? 'unknown worker';
  const lines = [
    ...(a.drill ? ['THIS IS A DRILL.', ''] : []),
    ...leadLines(notice),
    `${kindText(a.kind) ?? a.kind}`,
    '',
    `Who:    ${who}${a.workerId && a.workerName ? ` (${a.workerId})` : ''}`,
    `What:   ${a.summary}`,
    `Where:  ${a.visitRef ? `visit ${a.visitRef} (the address is in the dashboard)` : 'no visit in progress'}`,
    // Issue 20: the latest known position and a map link, while the alarm is open (absent otherwise).
    ...(a.position ? [`Last known position: ${positionLine(a.position, Date.parse(a.at))}`] : notice.event === 'closed' ? [] : ['Last known position: none (the fob and the phone have sent none the hub could use)']),
    `When:   raised ${utc(a.raisedAt)}`,
    `Status: ${STATE_TEXT[a.state] ?? a.state}${notice.event === 'closed' ? '' : `, escalation level ${a.level + 1}`}`,
    '',
    `Open the alarm: ${notice.link}`,
    '',
    notice.recipient ? `You are told as ${notice.recipient.role.replace(/_/g, ' ')}.` : '',
    `Sent by ${hubName} (notice ${notice.noticeId}).`,
  ];
  return lines.join('\n').replace(/\n{3,}/g, '\n\n') + '\n';
}

export interface EmailOptions {
  host: string;
  port: number;
  /** Implicit TLS (port 465). */
  secure: boolean;
  /** Refuse to send without STARTTLS. */
  requireTls: boolean;
  username: string | null;
  password: string | null;
  from: string;
  hubName: string;
  timeoutMs: number;
}

export class EmailNotifier implements Notifier {
  readonly channel = 'email';
  private readonly transport: Transporter;

  constructor(private readonly o: EmailOptions) {
    this.transport = nodemailer.createTransport({
      host: o.host,
      port: o.port,
      secure: o.secure,
      requireTLS: o.requireTls,
      ...(o.username ? { auth: { user: o.username, pass: o.password ?? '' } } : {}),
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: o.timeoutMs,
      logger: false,
    });
  }

  async send(notice: Notice, signal: AbortSignal): Promise<DeliveryOutcome> {
    const to = notice.recipient?.email;
    if (!to) throw new DeliveryError(`no e-mail address for ${notice.recipient?.id ?? 'an organisation notice'}`, false);
    signal.throwIfAborted();
    const sending = this.transport.sendMail({
      from: this.o.from,
      to,
      subject: emailSubject(notice),
      text: emailText(notice, this.o.hubName),
      headers: { 'X-Lonewatch-Notice': notice.noticeId, 'X-Lonewatch-Alarm': notice.alert.alarmId },
      messageId: `<${notice.noticeId}.${notice.attempt}@lonewatch>`,
    });
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(new DeliveryError(`SMTP send timed out (${String(signal.reason ?? 'aborted')})`)), { once: true });
    });
    let info: { response?: string; rejected?: unknown[] };
    try {
      info = (await Promise.race([sending, aborted])) as { response?: string; rejected?: unknown[] };
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      const e = err as Error & { responseCode?: number; code?: string };
      // 5xx is a permanent refusal (bad address, policy); anything else may pass on a retry.
      const permanent = typeof e.responseCode === 'number' && e.responseCode >= 500 && e.code !== 'EAUTH';
      throw new DeliveryError(`SMTP: ${e.message}`, !permanent);
    } finally {
      sending.catch(() => undefined);
    }
    if (info.rejected && info.rejected.length > 0) throw new DeliveryError(`SMTP rejected ${to}`, false);
    // The relay has it; whether it reached the mailbox is not something SMTP tells us.
    return { status: 'sent', detail: (info.response ?? 'accepted').slice(0, 200) };
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
