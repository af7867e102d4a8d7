/**
 * The notifiers inside a real hub: an SOS from a fob goes out as an e-mail to a real SMTP server, a
 * signed webhook to a real HTTP receiver and a DC-09 frame to a real (test) ARC receiver, each
 * recorded in the alarm's escalation record. Time is the hub's ManualClock; no test sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../hub/clock.js';
import { parseKey } from '../../hub/notifiers/sia-dc09/dc09-frame.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { Dc09Receiver } from '../helpers/dc09-receiver.js';
import { TestSmtpServer, TestWebhookReceiver } from '../helpers/notify-receivers.js';
import type { StoredTimelineEntry } from '../../hub/store/store-types.js';

const KEY_HEX = '00112233445566778899AABBCCDDEEFF';
const SECRET = 'whsec-test-0123456789';
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TEST_SMTP_PASSWORD;
  delete process.env.LW_TEST_ARC_KEY;
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

interface Rig {
  t: TestHub;
  clock: ManualClock;
  smtp: TestSmtpServer;
  webhook: TestWebhookReceiver;
  arc: Dc09Receiver;
  fob: TestFob;
  deliveries(alarmId: string): Promise<StoredTimelineEntry[]>;
}

async function rig(opts: { arcDown?: boolean; notifiers?: (n: Record<string, Record<string, unknown>>) => void; config?: Record<string, unknown> } = {}): Promise<Rig> {
  const clock = new ManualClock();
  const smtp = await TestSmtpServer.start({ user: 'lonewatch', pass: 'smtp-pass-1' });
  closers.push(() => smtp.close());
  const webhook = await TestWebhookReceiver.start(SECRET, () => clock.now());
  closers.push(() => webhook.close());
  const arc = await Dc09Receiver.start({ account: '4321', receiver: '12', line: '3', key: parseKey(KEY_HEX), now: () => clock.now() });
  closers.push(() => arc.close());
  if (opts.arcDown) await arc.close();

  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-secrets-'));
  writeFileSync(join(dir, 'webhook.secret'), `${SECRET}\n`);
  process.env.LW_TEST_SMTP_PASSWORD = 'smtp-pass-1';
  process.env.LW_TEST_ARC_KEY = KEY_HEX;
  const notifiers: Record<string, Record<string, unknown>> = {
    email: {
      host: '127.0.0.1',
      port: smtp.port,
      require_tls: false,
      username: 'lonewatch',
      password: 'env:LW_TEST_SMTP_PASSWORD',
      from: 'Lonewatch <alerts@example.org>',
      retry: { timeout_s: 10, first_retry_s: 1, give_up_after_s: 30 },
    },
    webhook: { url: webhook.url, secret: `file:${join(dir, 'webhook.secret')}`, retry: { timeout_s: 10, first_retry_s: 1, give_up_after_s: 30 } },
    arc: {
      host: '127.0.0.1',
      port: arc.port,
      account: '4321',
      receiver: '12',
      line: '3',
      encryption_key: 'env:LW_TEST_ARC_KEY',
      users: { sam: 7 },
      supervision_s: 0,
      retry: { timeout_s: 10, first_retry_s: 1, factor: 2, give_up_after_s: 5 },
      fallback: ['email'],
    },
  };
  opts.notifiers?.(notifiers);
  const t = await startTestHub({ clock, config: { notifiers, ...opts.config } });
  closers.push(() => t.stop());
  await t.addWorker('sam', { name: 'Sam Carter' });
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
  closers.push(() => fob.close());
  return {
    t,
    clock,
    smtp,
    webhook,
    arc,
    fob,
    // Results of attempts; "queued" entries (stored, about to be tried) are checked on their own.
    deliveries: async (alarmId) => (await t.timeline(alarmId)).filter((e) => e.type === 'delivery' && e.detail.status !== 'queued'),
  };
}

/** Moves the clock one second at a time, letting real I/O finish between steps. */
async function stepSeconds(r: Rig, seconds: number, until?: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    await r.t.advance(1000);
    if (until) await expect.poll(until, { timeout: 5000 }).toBe(true);
  }
}

describe('alert forwarding from a running hub', () => {
  it('R20, R21: an SOS reaches e-mail, a signed webhook and the ARC, each recorded in the escalation record', async () => {
    const r = await rig();
    await r.fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    const [alarm] = await r.t.alarms();

    // The default SOS policy tells everyone at once: level 0 the duty officer (e-mail, webhook, ARC),
    // level 1 the chain (R21: line manager, head of service, director) by e-mail and webhook.
    await expect.poll(async () => (await r.deliveries(alarm.id)).length, { timeout: 10_000 }).toBe(7);
    const d = await r.deliveries(alarm.id);
    const by = (ch: string) => d.filter((e) => e.detail.channel === ch);
    expect(by('email').map((e) => e.detail.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(new Set(by('email').map((e) => e.detail.recipientRole))).toEqual(new Set(['duty_officer', 'line_manager', 'head_of_service', 'director']));
    expect(by('email')[0].detail.detail).toMatch(/^250 /);
    expect(by('webhook').map((e) => e.detail.status)).toEqual(['delivered', 'delivered']);
    expect(by('arc')).toHaveLength(1);
    expect(by('arc')[0].detail).toMatchObject({ status: 'delivered', attempt: 1 });
    expect(by('arc')[0].detail.detail).toMatch(/^ACK seq 0001 \(1120 01 007 Panic alarm\)$/);

    // E-mail: readable, who/what/where/when/link, and nothing private (R22).
    expect(r.smtp.mails.map((m) => m.to[0]).sort()).toEqual(['dev@example.org', 'duty@example.org', 'hana@example.org', 'lee@example.org']);
    const mail = r.smtp.mails.find((m) => m.to[0] === 'duty@example.org')!;
    expect(mail.subject).toBe('SOS alarm: Sam Carter');
    expect(mail.text).toContain('Who:    Sam Carter (sam)');
    expect(mail.text).toContain(`When:   raised ${new Date(alarm.raisedAt).toISOString().slice(0, 10)}`);
    expect(mail.text).toContain(`Open the alarm: http://127.0.0.1:8080/alarms/${alarm.id}`);
    for (const secretThing of ['07700 900123', 'Private Road', 'asthma', 'Fiat', '900456']) expect(mail.raw).not.toContain(secretThing);

    // Webhook: signature verified by the receiver, one per level, documented payload.
    expect(r.webhook.accepted).toHaveLength(2);
    const hook = r.webhook.accepted[0];
    expect(hook.headers['idempotency-key']).toBe(hook.json.noticeId);
    expect(hook.json).toMatchObject({ type: 'lonewatch.alert', version: 1, attempt: 1, recipient: null, alarm: { id: alarm.id, kind: 'sos', workerName: 'Sam Carter', drill: false } });
    expect(hook.body).not.toContain('07700');

    // DC-09: encrypted ADM-CID, every field checked by the receiver.
    expect(r.arc.accepted).toHaveLength(1);
    expect(r.arc.accepted[0]).toMatchObject({ id: 'ADM-CID', encrypted: true, seq: 1, receiver: '12', line: '3', account: '4321', cid: { qualifier: 1, code: 120, group: 1, zone: 7 } });

    // Resolved: the ARC gets the restore (qualifier 3), recorded too.
    await r.t.hub.runtime.alarmAction(alarm.id, { type: 'resolve', by: 'user:dana', note: 'safe' });
    await r.t.settle();
    const restore = await r.arc.waitFor((f) => f.cid?.qualifier === 3);
    expect(restore).toMatchObject({ ok: true, seq: 2, cid: { code: 120 } });
    await expect.poll(async () => (await r.deliveries(alarm.id)).filter((e) => e.detail.channel === 'arc').length).toBe(2);
  });

  it('R20: an ARC that is down is retried, then the notice falls through to e-mail, all recorded', async () => {
    const r = await rig({ arcDown: true });
    await r.fob.send({ i: makeEventId(1, 2), k: 'sos', ag: 0 });
    const [alarm] = await r.t.alarms();
    const arcEntries = async () => (await r.deliveries(alarm.id)).filter((e) => e.actor === 'notifier:arc');
    await expect.poll(async () => (await arcEntries()).length).toBe(1);
    // Attempts at 0 s, 1 s, 3 s; the next would start after the 5 s give-up time: give up at 3 s.
    await stepSeconds(r, 1, async () => (await arcEntries()).length === 2);
    await stepSeconds(r, 2, async () => (await arcEntries()).length >= 2);
    await expect.poll(async () => (await arcEntries()).length).toBe(4);
    const entries = await arcEntries();
    expect(entries.map((e) => [e.detail.status, e.detail.attempt ?? null])).toEqual([
      ['failed', 1],
      ['failed', 2],
      ['failed', 3],
      ['fallthrough', null],
    ]);
    expect(entries[0].detail.reason).toMatch(/unreachable/);
    expect(entries[2].detail).toMatchObject({ gaveUp: true });
    expect(entries[3].detail).toMatchObject({ channel: 'arc', to: 'email' });
    // The fall-through e-mail went to the duty officer, as its own notice.
    await expect.poll(async () => (await r.deliveries(alarm.id)).some((e) => e.detail.via === 'arc' && e.detail.status === 'sent')).toBe(true);
    const via = (await r.deliveries(alarm.id)).find((e) => e.detail.via === 'arc')!;
    expect(via.detail).toMatchObject({ channel: 'email', recipientRole: 'duty_officer' });
    expect(r.smtp.mails.some((m) => m.headers['x-lonewatch-notice'] === via.detail.noticeId)).toBe(true);
  });

  it('the ladder keeps climbing while a channel keeps failing', async () => {
    const r = await rig({
      notifiers: (n) => {
        n.webhook.retry = { timeout_s: 10, first_retry_s: 30, factor: 1, give_up_after_s: 3600 };
      },
    });
    for (let i = 0; i < 100; i++) r.webhook.statuses.push(503);
    await r.fob.send({ i: makeEventId(1, 3), k: 'sos', ag: 0 });
    const [alarm] = await r.t.alarms();
    await expect.poll(async () => (await r.deliveries(alarm.id)).filter((e) => e.detail.channel === 'webhook').length).toBe(2);
    // Six minutes: the SOS repeats every 2 minutes (unacknowledged) whatever the webhook does.
    for (let i = 0; i < 12; i++) {
      await r.t.advance(30_000);
      await expect.poll(() => r.webhook.received.length >= 2 * (i + 2) - 2, { timeout: 5000 }).toBe(true);
    }
    const timeline = await r.t.timeline(alarm.id);
    expect(timeline.filter((e) => e.type === 'repeated').length).toBe(3);
    const failed = timeline.filter((e) => e.type === 'delivery' && e.detail.channel === 'webhook' && e.detail.status === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(10);
    expect(failed.every((e) => e.detail.reason === 'webhook answered HTTP 503' && e.detail.retryable === true)).toBe(true);
    // E-mail kept working meanwhile: one round of four e-mails per repeat.
    expect(r.smtp.mails.length).toBeGreaterThanOrEqual(4 * 4);
    expect((await r.t.alarms())[0].state).toBe('notifying');
  });

  it('R13, R20: when every channel fails for a level, a step-by-step ladder climbs at once instead of waiting', async () => {
    const r = await rig({
      config: {
        policies: {
          sos: {
            mode: 'step',
            levels: [
              { name: 'duty officer by webhook', targets: ['duty_officer'], channels: ['dashboard', 'webhook'], delay_min: 10 },
              { name: 'line manager by e-mail', targets: ['line_manager'], channels: ['email'], delay_min: 10 },
            ],
          },
          missed_checkin: { mode: 'step', levels: [{ name: 'x', targets: ['duty_officer'], channels: ['dashboard'], delay_min: 5 }] },
          device_health: { mode: 'step', levels: [{ name: 'x', targets: ['duty_officer'], channels: ['dashboard'], delay_min: 5 }] },
        },
      },
    });
    r.webhook.statuses.push(400);
    await r.fob.send({ i: makeEventId(1, 4), k: 'sos', ag: 0 });
    const [alarm] = await r.t.alarms();
    await expect.poll(async () => (await r.t.timeline(alarm.id)).some((e) => e.type === 'escalated'), { timeout: 5000 }).toBe(true);
    const timeline = await r.t.timeline(alarm.id);
    const undeliverable = timeline.find((e) => e.type === 'undeliverable')!;
    expect(undeliverable.detail).toMatchObject({ level: 0, recipientId: 'channel:webhook', action: 'climb now' });
    // No time has passed: the climb came from the failed delivery, not from the 10-minute delay.
    expect(timeline.find((e) => e.type === 'escalated')!.at).toBe(alarm.raisedAt);
    await expect.poll(() => r.smtp.mails.map((m) => m.to[0])).toEqual(['lee@example.org']);
  });

  it('a missing secret stops the hub at start with a clear message that does not contain any secret', async () => {
    delete process.env.LW_TEST_MISSING;
    await expect(
      startTestHub({
        manualClock: true,
        config: { notifiers: { webhook: { url: 'http://127.0.0.1:9/x', secret: 'env:LW_TEST_MISSING' } } },
      }),
    ).rejects.toThrow(/notifiers.webhook.secret: the environment variable LW_TEST_MISSING is not set/);
  });
});
