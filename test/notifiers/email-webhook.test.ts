import { afterEach, describe, expect, it } from 'vitest';
import { EmailNotifier, emailText } from '../../hub/notifiers/email-notifier.js';
import { WebhookNotifier, signWebhook } from '../../hub/notifiers/webhook-notifier.js';
import { DeliveryError, type Notice } from '../../hub/notifiers/notifier.js';
import { TestSmtpServer, TestWebhookReceiver, verifyWebhook } from '../helpers/notify-receivers.js';

const NOW = Date.UTC(2026, 10, 23, 9, 0, 0);
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function notice(over: Partial<Notice> = {}): Notice {
  const iso = new Date(NOW).toISOString();
  return {
    noticeId: 'a1.L0.x.email.do-1',
    attempt: 1,
    recipient: { id: 'do-1', name: 'Dana Duty', role: 'duty_officer', email: 'duty@example.org', phone: '07700 900999' },
    link: 'https://hub.example.org/alarms/a1',
    alert: { v: 1, alarmId: 'a1', kind: 'covert_sos', state: 'notifying', priority: 1, deviceId: 'fob-1', workerId: 'sam', workerName: 'Sam Carter', visitRef: 'V-22', level: 0, targets: ['duty_officer'], raisedAt: iso, at: iso, drill: true, summary: 'DRILL: COVERT SOS from Sam Carter (visit V-22): covert alarm' },
    ...over,
  };
}
const never = () => new AbortController().signal;

async function mailer(auth = { user: 'u', pass: 'p' }, pass = 'p') {
  const smtp = await TestSmtpServer.start(auth);
  closers.push(() => smtp.close());
  const n = new EmailNotifier({ host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false, username: 'u', password: pass, from: 'hub@example.org', hubName: 'Lonewatch', timeoutMs: 5000 });
  closers.push(() => n.close());
  return { smtp, n };
}

describe('e-mail notifier', () => {
  it('R22: writes who, what, where, when and the link, marks drills, and shows no phone number', () => {
    const text = emailText(notice(), 'Lonewatch');
    expect(text).toMatch(/^THIS IS A DRILL\.\n\nCOVERT SOS alarm/);
    expect(text).toContain('Who:    Sam Carter (sam)');
    expect(text).toContain('Where:  visit V-22 (the address is in the dashboard)');
    expect(text).toContain('When:   raised 2026-11-23 09:00:00 UTC');
    expect(text).toContain('Open the alarm: https://hub.example.org/alarms/a1');
    expect(text).not.toContain('07700');
  });

  it('a temporary SMTP refusal (451) is retryable, a permanent one (550) is not, a wrong password is retryable', async () => {
    const { smtp, n } = await mailer();
    smtp.failNext.push({ code: 451, message: 'try later' }, { code: 550, message: 'no such user' });
    const e1 = await n.send(notice(), never()).catch((e) => e);
    expect(e1).toBeInstanceOf(DeliveryError);
    expect(e1.retryable).toBe(true);
    const e2 = await n.send(notice(), never()).catch((e) => e);
    expect(e2.retryable).toBe(false);
    const ok = await n.send(notice(), never());
    expect(ok.status).toBe('sent');
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0].subject).toBe('[DRILL] COVERT SOS alarm: Sam Carter');

    const bad = await mailer({ user: 'u', pass: 'p' }, 'wrong');
    const e3 = await bad.n.send(notice(), never()).catch((e) => e);
    expect(e3).toBeInstanceOf(DeliveryError);
    expect(e3.message).not.toContain('wrong');
  });

  it('a recipient without an address is not retried', async () => {
    const { n } = await mailer();
    const e = await n.send(notice({ recipient: { id: 'x', name: 'X', role: 'director' } }), never()).catch((err) => err);
    expect(e.retryable).toBe(false);
  });
});

describe('webhook notifier', () => {
  it('signs timestamp.body; the receiver verifies it, and a changed body or old timestamp fails', async () => {
    const rx = await TestWebhookReceiver.start('s3cret', () => NOW);
    closers.push(() => rx.close());
    const n = new WebhookNotifier({ url: rx.url, secret: 's3cret', now: () => NOW });
    expect(await n.send(notice({ recipient: null }), never())).toEqual({ status: 'delivered', detail: 'HTTP 200' });
    const got = rx.received[0];
    expect(got.verified).toBe(true);
    expect(got.headers['lonewatch-timestamp']).toBe(String(NOW / 1000));
    expect(got.headers['lonewatch-signature']).toBe(signWebhook('s3cret', NOW / 1000, got.body));
    expect(verifyWebhook('s3cret', got.headers, got.body.replace('Sam', 'Sal'), NOW)).toBe('bad signature');
    expect(verifyWebhook('s3cret', got.headers, got.body, NOW + 301_000)).toMatch(/timestamp/);
    expect(verifyWebhook('other', got.headers, got.body, NOW)).toBe('bad signature');
  });

  it('5xx and 429 are retried, other 4xx are not; a wrong secret is refused by the receiver', async () => {
    const rx = await TestWebhookReceiver.start('s3cret', () => NOW);
    closers.push(() => rx.close());
    rx.statuses.push(503, 429, 400);
    const n = new WebhookNotifier({ url: rx.url, secret: 's3cret', now: () => NOW });
    const errs = [];
    for (let i = 0; i < 3; i++) errs.push(await n.send(notice(), never()).catch((e) => e));
    expect(errs.map((e) => [e.message, e.retryable])).toEqual([
      ['webhook answered HTTP 503', true],
      ['webhook answered HTTP 429', true],
      ['webhook answered HTTP 400', false],
    ]);
    const wrong = new WebhookNotifier({ url: rx.url, secret: 'nope', now: () => NOW });
    const e = await wrong.send(notice(), never()).catch((err) => err);
    expect(e.message).toBe('webhook answered HTTP 401');
  });

  it('a receiver that is down is a retryable failure; an aborted send ends at once', async () => {
    const rx = await TestWebhookReceiver.start('s3cret', () => NOW);
    const url = rx.url;
    await rx.close();
    const n = new WebhookNotifier({ url, secret: 's3cret', now: () => NOW });
    const e = await n.send(notice(), never()).catch((err) => err);
    expect(e).toBeInstanceOf(DeliveryError);
    expect(e.retryable).toBe(true);
    const ctl = new AbortController();
    ctl.abort(new Error('time limit'));
    await expect(n.send(notice(), ctl.signal)).rejects.toBeInstanceOf(DeliveryError);
  });
});
