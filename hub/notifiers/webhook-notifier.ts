/**
 * Webhooks: a JSON POST per notice, signed with HMAC-SHA256 over `<timestamp>.<body>` so the receiver
 * can check it came from this hub and is fresh; `Idempotency-Key` (the notice id) lets it drop the
 * copies that retries may deliver. The payload is documented in docs/notifications.md.
 */
import { createHmac } from 'node:crypto';
import { DeliveryError, type DeliveryOutcome, type Notice, type Notifier } from './notifier.js';
import type { AlertMessage } from '../../shared/protocol-schemas.js';

export const WEBHOOK_SCHEMA_VERSION = 1;
export const SIGNATURE_HEADER = 'lonewatch-signature';
export const TIMESTAMP_HEADER = 'lonewatch-timestamp';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/**
 * `lonewatch.alert`: a notification of the ladder (one per level and repeat); `lonewatch.alarm.resolved`
 * and `lonewatch.alarm.cancelled`: the alarm closed (once per alarm the webhook was told of);
 * `lonewatch.alarm.position`: a newer position of an open alarm the webhook was told of (issue 20,
 * Dispatcher.positionUpdated: at most one per fix, by the rule of position-follow-up.ts).
 */
export type WebhookEventType = 'lonewatch.alert' | 'lonewatch.alarm.resolved' | 'lonewatch.alarm.cancelled' | 'lonewatch.alarm.position';

function eventType(notice: Notice): WebhookEventType {
  if (notice.event === 'closed') return notice.alert.state === 'cancelled' ? 'lonewatch.alarm.cancelled' : 'lonewatch.alarm.resolved';
  // Its own type, so a receiver that pages people on `lonewatch.alert` does not page them again at every fix.
  if (notice.event === 'position') return 'lonewatch.alarm.position';
  return 'lonewatch.alert';
}

export interface WebhookPayload {
  type: WebhookEventType;
  version: typeof WEBHOOK_SCHEMA_VERSION;
  noticeId: string;
  attempt: number;
  alarm: {
    id: string;
    kind: string;
    state: string;
    priority: number;
    level: number;
    /** The roles told at this level (duty_officer, line_manager, ...). */
    targets: string[];
    drill: boolean;
    raisedAt: string;
    at: string;
    summary: string;
    workerId: string | null;
    workerName: string | null;
    visitRef: string | null;
    deviceId: string | null;
    position: AlertMessage['position'] | null;
  };
  recipient: { id: string; name: string; role: string } | null;
  /**
   * Why this notice was sent: the ladder's reason (raised, escalated, repeat, re_alert, police,
   * exhausted; closed for the close event; `new position: moved 100 m` and the like for a position
   * event), who holds the alarm, and for a fall-through the channel that failed and why.
   */
  notice: { reason: string; holder: string | null; failed: { channel: string; reason: string } | null };
  link: string;
}

export function webhookPayload(notice: Notice): WebhookPayload {
  const a = notice.alert;
  return {
    type: eventType(notice),
    version: WEBHOOK_SCHEMA_VERSION,
    noticeId: notice.noticeId,
    attempt: notice.attempt,
    alarm: {
      id: a.alarmId,
      kind: a.kind,
      state: a.state,
      priority: a.priority,
      level: a.level,
      targets: a.targets,
      drill: a.drill,
      raisedAt: a.raisedAt,
      at: a.at,
      summary: a.summary,
      workerId: a.workerId,
      workerName: a.workerName,
      visitRef: a.visitRef,
      deviceId: a.deviceId,
      // Issue 20: the worker's latest known position while the alarm is open, else null.
      position: a.position ?? null,
    },
    // Only who is told and in which role: never a phone number or address.
    recipient: notice.recipient ? { id: notice.recipient.id, name: notice.recipient.name, role: notice.recipient.role } : null,
    notice: {
      reason: notice.event === 'closed' ? 'closed' : (notice.reason ?? 'raised'),
      holder: notice.holder ?? null,
      failed: notice.failed ? { channel: notice.failed.channel, reason: notice.failed.reason } : null,
    },
    link: notice.link,
  };
}

/** `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">` */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface WebhookOptions {
  url: string;
  secret: string;
  /** Unix seconds for the signature timestamp (the hub's clock). */
  now: () => number;
  fetch?: typeof fetch;
}

export class WebhookNotifier implements Notifier {
  readonly channel = 'webhook';
  constructor(private readonly o: WebhookOptions) {}

  async send(notice: Notice, signal: AbortSignal): Promise<DeliveryOutcome> {
    const body = JSON.stringify(webhookPayload(notice));
    const timestamp = Math.floor(this.o.now() / 1000);
    let res: Response;
    try {
      res = await (this.o.fetch ?? fetch)(this.o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'lonewatch-webhook/1',
          [SIGNATURE_HEADER]: signWebhook(this.o.secret, timestamp, body),
          [TIMESTAMP_HEADER]: String(timestamp),
          [IDEMPOTENCY_HEADER]: notice.noticeId,
        },
        body,
        signal,
        redirect: 'manual',
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      throw new DeliveryError(`webhook POST failed: ${e.cause?.code ?? e.cause?.message ?? e.message}`);
    }
    // The body is not needed; reading it releases the connection.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { status: 'delivered', detail: `HTTP ${res.status}` };
    const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
    throw new DeliveryError(`webhook answered HTTP ${res.status}`, retryable);
  }
}
