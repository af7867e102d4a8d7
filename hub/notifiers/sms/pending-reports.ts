/**
 * The SMS sent and waiting for their delivery report, by the reference the report will carry (the
 * modem's message reference, a gateway's message id). In memory; a report that arrives after a restart
 * finds nothing here and the dispatcher looks its reference up in the journal instead.
 * Bounded: the oldest are dropped past `max`, and entries older than `maxAgeMs` are forgotten; the
 * modem's message reference is one octet (TS 23.040 §9.2.3.6) and wraps after 256 messages.
 */
import type { DeliveryReport, Notice } from '../notifier.js';

export interface PendingSms {
  noticeId: string;
  alarmId: string;
  level: number;
  recipient: Notice['recipient'];
  event: 'alert' | 'closed' | 'position';
  via: string | null;
  sentAt: number;
}

/** How long an SMS waits for its delivery report (TP-VP of 24 h plus the network's slack, generously). */
export const REPORT_MAX_AGE_MS = 7 * 24 * 3600_000;

export class PendingReports {
  private readonly byRef = new Map<string, PendingSms>();
  constructor(
    private readonly max = 256,
    private readonly maxAgeMs = REPORT_MAX_AGE_MS,
  ) {}

  add(ref: string, notice: Notice, now: number): void {
    this.byRef.delete(ref);
    this.byRef.set(ref, { noticeId: notice.noticeId, alarmId: notice.alert.alarmId, level: notice.alert.level, recipient: notice.recipient, event: notice.event ?? 'alert', via: notice.failed?.channel ?? null, sentAt: now });
    while (this.byRef.size > this.max) this.byRef.delete(this.byRef.keys().next().value as string);
  }

  /** The report for `ref`, or null when no SMS with it is waiting. Final reports remove the entry. */
  take(ref: string, status: DeliveryReport['status'], detail: string, now: number, final = true): DeliveryReport | null {
    const p = this.byRef.get(ref);
    if (!p || now - p.sentAt > this.maxAgeMs) {
      this.byRef.delete(ref);
      return null;
    }
    if (final) this.byRef.delete(ref);
    return { noticeId: p.noticeId, alarmId: p.alarmId, level: p.level, recipient: p.recipient, status, detail, ref, event: p.event, via: p.via };
  }

  has(ref: string): boolean {
    return this.byRef.has(ref);
  }
}
