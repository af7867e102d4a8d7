/**
 * Builds the Dispatcher and its notifiers from `[notifiers]`, resolving secrets (env:/file:) here, at
 * start, so a missing one stops the hub with a clear message instead of failing the first alarm.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { Dispatcher, type ChannelSpec, type DispatcherOptions, type RetryPolicy } from './dispatcher.js';
import { EmailNotifier } from './email-notifier.js';
import { WebhookNotifier } from './webhook-notifier.js';
import { Dc09Notifier } from './sia-dc09/dc09-notifier.js';
import { parseKey } from './sia-dc09/dc09-frame.js';
import { DEFAULT_RETAIN_DAYS, resolveSecret, type NotifiersConfig, type RetryConfig } from './notifiers-config.js';
import type { NoticeJournal } from './notice-journal.js';
import { ModemSmsNotifier } from './sms/modem-sms-notifier.js';
import { GatewaySmsNotifier } from './sms/gateway-sms-notifier.js';

/** Where an SMS gateway posts its delivery reports (hub/http/routes-sms.ts). */
export const SMS_CALLBACK_PATH = '/api/notifiers/sms/status';

export function retryPolicy(r: RetryConfig): RetryPolicy {
  return {
    timeoutMs: r.timeout_s * 1000,
    firstDelayMs: r.first_retry_s * 1000,
    factor: r.factor,
    maxDelayMs: r.max_retry_s * 1000,
    giveUpAfterMs: r.give_up_after_s * 1000,
    maxAttempts: r.max_attempts,
  };
}

export interface CreateDispatcherOptions {
  notifiers: NotifiersConfig;
  hubName: string;
  clock: Clock;
  log: Logger;
  record: DispatcherOptions['record'];
  undeliverable?: DispatcherOptions['undeliverable'];
  isOpen?: DispatcherOptions['isOpen'];
  onPathChange?: DispatcherOptions['onPathChange'];
  wake?: DispatcherOptions['wake'];
  /** Where notices and their due work are kept until finished (the hub's store, so their rows fire after a restart). */
  journal?: NoticeJournal;
  env?: NodeJS.ProcessEnv;
  /** The hub's public URL, for the SMS gateway's delivery callback (`<url>/api/notifiers/sms/status`). */
  publicUrl?: string;
}

/** Null when no channel is configured. */
export function createDispatcher(o: CreateDispatcherOptions): Dispatcher | null {
  const n = o.notifiers;
  const env = o.env ?? process.env;
  const channels: Record<string, ChannelSpec> = {};
  if (n.email) {
    const e = n.email;
    channels.email = {
      notifier: new EmailNotifier({
        host: e.host,
        port: e.port,
        secure: e.secure,
        requireTls: e.require_tls,
        username: e.username ?? null,
        password: e.password ? resolveSecret(e.password, 'notifiers.email.password', env) : null,
        from: e.from,
        hubName: o.hubName,
        timeoutMs: e.retry.timeout_s * 1000,
      }),
      retry: retryPolicy(e.retry),
      fallback: e.fallback,
      perRecipient: true,
    };
  }
  if (n.webhook) {
    const w = n.webhook;
    channels.webhook = {
      notifier: new WebhookNotifier({ url: w.url, secret: resolveSecret(w.secret, 'notifiers.webhook.secret', env), now: () => o.clock.now() }),
      retry: retryPolicy(w.retry),
      fallback: w.fallback,
      perRecipient: false,
      address: new URL(w.url).host,
      failedAdvice: 'The control-room integration was NOT told: check the alarm on the dashboard.',
    };
  }
  if (n.arc) {
    const a = n.arc;
    let key: Buffer | null = null;
    if (a.encryption_key) {
      try {
        key = parseKey(resolveSecret(a.encryption_key, 'notifiers.arc.encryption_key', env));
      } catch (err) {
        const msg = (err as Error).message;
        throw new Error(msg.startsWith('notifiers.') ? msg : `notifiers.arc.encryption_key: ${msg}`);
      }
    }
    channels.arc = {
      notifier: new Dc09Notifier({
        host: a.host,
        port: a.port,
        account: a.account.toUpperCase(),
        receiver: a.receiver?.toUpperCase() ?? null,
        line: a.line.toUpperCase(),
        key,
        group: a.group,
        users: a.users,
        maxNaks: a.max_naks,
        supervisionMs: a.supervision_s * 1000,
        supervisionTimeoutMs: a.retry.timeout_s * 1000,
        clock: o.clock,
        log: o.log.child({ channel: 'arc' }),
        onSupervision: (err) => made?.notePath('arc', err),
      }),
      retry: retryPolicy(a.retry),
      fallback: a.fallback,
      perRecipient: false,
      address: `${a.host}:${a.port} #${a.account.toUpperCase()}`,
      failedAdvice: `The alarm receiving centre (ARC) was NOT told of this alarm: ${a.phone ? `phone them on ${a.phone}` : 'phone them'} or dial 999.`,
      retryWhileOpenMs: a.retry_while_open_s * 1000,
    };
  }
  if (n.sms) {
    const s = n.sms;
    const log = o.log.child({ channel: 'sms' });
    const notifier = s.modem
      ? new ModemSmsNotifier({ path: s.modem.port, baudRate: s.modem.baud_rate, commandTimeoutMs: s.modem.command_timeout_s * 1000, clock: o.clock, log })
      : new GatewaySmsNotifier({
          url: s.gateway!.url,
          token: resolveSecret(s.gateway!.token, 'notifiers.sms.gateway.token', env),
          callbackUrl: `${(o.publicUrl ?? 'http://localhost:8080').replace(/\/$/, '')}${SMS_CALLBACK_PATH}`,
          clock: o.clock,
          log,
        });
    channels.sms = {
      notifier,
      retry: retryPolicy(s.retry),
      fallback: s.fallback,
      perRecipient: true,
      failedAdvice: 'The SMS to your phone could NOT be sent.',
    };
  }
  if (Object.keys(channels).length === 0) return null;
  let made: Dispatcher | null = null;
  made = new Dispatcher({
    clock: o.clock,
    log: o.log,
    channels,
    record: o.record,
    retainDays: n.retain_days ?? DEFAULT_RETAIN_DAYS,
    ...(o.undeliverable ? { undeliverable: o.undeliverable } : {}),
    ...(o.isOpen ? { isOpen: o.isOpen } : {}),
    ...(o.onPathChange ? { onPathChange: o.onPathChange } : {}),
    ...(o.journal ? { journal: o.journal } : {}),
    ...(o.wake ? { wake: o.wake } : {}),
  });
  return made;
}
