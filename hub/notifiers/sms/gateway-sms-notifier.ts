/**
 * SMS through an HTTP SMS gateway (a provider's API or the organisation's own relay), generic:
 *
 *   POST <url>   Authorization: Bearer <token>   Idempotency-Key: <notice id>
 *   {"to": "+447700900123", "text": "...", "reference": "<notice id>", "callbackUrl": "<hub>/api/notifiers/sms/status"}
 *
 * answered 2xx with `{"id": "<the gateway's message id>"}`: recorded `sent` (the gateway took it).
 * The gateway later calls the hub's callback with that id and `delivered` or `failed` (and a reason);
 * `report` turns it into a timeline entry. 5xx, 408 and 429 are retried; other 4xx are not.
 */
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { DeliveryError, type DeliveryOutcome, type DeliveryReport, type Notice, type Notifier, type UnmatchedReport } from '../notifier.js';
import { dialable } from './sms-codes.js';
import { smsText } from './sms-text.js';
import { PendingReports } from './pending-reports.js';

export interface GatewaySmsOptions {
  url: string;
  token: string;
  /** Where the gateway sends its delivery reports (`<public_url>/api/notifiers/sms/status`). */
  callbackUrl: string;
  clock: Clock;
  log: Logger;
  fetch?: typeof fetch;
}

export type CallbackResult = 'recorded' | 'noted' | 'unknown';

export class GatewaySmsNotifier implements Notifier {
  readonly channel = 'sms';
  private readonly pending = new PendingReports(10_000);
  private listener: ((r: DeliveryReport | UnmatchedReport) => Promise<boolean>) | null = null;

  constructor(private readonly o: GatewaySmsOptions) {}

  onReport(listener: (r: DeliveryReport | UnmatchedReport) => Promise<boolean>): void {
    this.listener = listener;
  }

  async send(notice: Notice, signal: AbortSignal): Promise<DeliveryOutcome> {
    const to = notice.recipient?.phone ? dialable(notice.recipient.phone) : null;
    if (!to) throw new DeliveryError(`"${notice.recipient?.phone ?? ''}" is not a phone number the gateway can send to`, false, 'refused');
    const body = JSON.stringify({ to, text: smsText(notice), reference: notice.noticeId, callbackUrl: this.o.callbackUrl });
    let res: Response;
    try {
      res = await (this.o.fetch ?? fetch)(this.o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.o.token}`, 'idempotency-key': notice.noticeId, 'user-agent': 'lonewatch-sms/1' },
        body,
        signal,
        redirect: 'manual',
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      throw new DeliveryError(`SMS gateway POST failed: ${e.cause?.code ?? e.cause?.message ?? e.message}`, true, 'unreachable');
    }
    const text = await res.text().catch(() => '');
    if (res.status < 200 || res.status >= 300) {
      const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
      throw new DeliveryError(`the SMS gateway answered HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, retryable, retryable ? 'unreachable' : 'refused');
    }
    let id: unknown;
    try {
      id = (JSON.parse(text) as { id?: unknown }).id;
    } catch {
      id = undefined;
    }
    if (typeof id !== 'string' && typeof id !== 'number') {
      // Taken, but no id to match a delivery report with: say so rather than wait for one forever.
      return { status: 'sent', detail: `the SMS gateway took it (HTTP ${res.status}) but gave no message id: no delivery report can be matched` };
    }
    this.pending.add(String(id), notice, this.o.clock.now());
    this.o.log.info({ alarmId: notice.alert.alarmId, noticeId: notice.noticeId, messageId: String(id) }, 'SMS taken by the gateway; waiting for its delivery report');
    return { status: 'sent', detail: `the SMS gateway took it (HTTP ${res.status}, id ${String(id)}); waiting for the delivery report`, ref: String(id) };
  }

  /**
   * A delivery callback (already authenticated): `delivered` and `failed` are recorded on the alarm's
   * timeline; other states (queued, sent, ...) are only logged. `unknown`: no SMS with that id waits.
   */
  async report(messageId: string, status: string, reason: string | null): Promise<CallbackResult> {
    const now = this.o.clock.now();
    if (status !== 'delivered' && status !== 'failed') {
      this.o.log.info({ messageId, status }, 'SMS gateway status (not final)');
      return 'noted';
    }
    const detail = status === 'delivered' ? `the SMS gateway reports it delivered (id ${messageId})` : `NOT delivered: the SMS gateway reports it failed (id ${messageId})${reason ? `: ${reason}` : ''}`;
    // Not in memory (sent before a restart): the dispatcher looks the id up among the notices.
    const r = this.pending.take(messageId, status, detail, now) ?? { unmatched: true as const, ref: messageId, status, detail };
    return (await this.listener?.(r)) ? 'recorded' : 'unknown';
  }
}
