/**
 * Issue 16: forwarding that tells the truth. Each point the issue found, against real receivers: a
 * real SMTP server (smtp-server), a real HTTP receiver that checks the HMAC, and the DC-09 receiver in
 * test/helpers answering every NAK/DUH form. Time is the hub's ManualClock; no test sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hub/clock.js';
import { parseKey } from '../../hub/notifiers/sia-dc09/dc09-frame.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { Dc09Receiver, type Dc09ReceiverOptions } from '../helpers/dc09-receiver.js';
import { TestSmtpServer, TestWebhookReceiver } from '../helpers/notify-receivers.js';
import type { StoredTimelineEntry } from '../../hub/store/store-types.js';
import type { Browser } from 'playwright-core';
import { createUser } from '../../hub/http/users.js';
import { PASSWORD, TEST_PASSWORD_COST } from '../dashboard/api-client.js';
import { launchChromium, signInPage } from '../dashboard/browser.js';

const KEY_HEX = '00112233445566778899AABBCCDDEEFF';
const SECRET = 'whsec-test-0123456789';
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TRUTH_ARC_KEY;
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

interface Rig {
  t: TestHub;
  clock: ManualClock;
  smtp: TestSmtpServer;
  webhook: TestWebhookReceiver;
  arc: Dc09Receiver;
  arcOptions: Dc09ReceiverOptions;
  fob: TestFob;
  deliveries(alarmId: string): Promise<StoredTimelineEntry[]>;
}

async function rig(o: { arc?: Partial<Dc09ReceiverOptions>; arcDown?: boolean; supervisionS?: number } = {}): Promise<Rig> {
  const clock = new ManualClock();
  const smtp = await TestSmtpServer.start();
  closers.push(() => smtp.close());
  const webhook = await TestWebhookReceiver.start(SECRET, () => clock.now());
  closers.push(() => webhook.close());
  const arcOptions: Dc09ReceiverOptions = { account: '4321', line: '3', key: parseKey(KEY_HEX), now: () => clock.now(), ...o.arc };
  const arc = await Dc09Receiver.start(arcOptions);
  closers.push(() => arc.close());
  if (o.arcDown) await arc.close();
  process.env.LW_TRUTH_ARC_KEY = KEY_HEX;
  const notifiers = {
    email: { host: '127.0.0.1', port: smtp.port, require_tls: false, from: 'Lonewatch <alerts@example.org>', retry: { timeout_s: 10, first_retry_s: 1, give_up_after_s: 30 } },
    webhook: { url: webhook.url, secret: SECRET, retry: { timeout_s: 10, first_retry_s: 1, give_up_after_s: 30 } },
    arc: {
      host: '127.0.0.1',
      port: arc.port,
      account: '4321',
      line: '3',
      encryption_key: 'env:LW_TRUTH_ARC_KEY',
      supervision_s: o.supervisionS ?? 0,
      phone: '0300 123 4567',
      retry_while_open_s: 10,
      retry: { timeout_s: 10, first_retry_s: 1, factor: 2, give_up_after_s: 5 },
      fallback: ['email'],
    },
  };
  const t = await startTestHub({ clock, config: { notifiers } });
  closers.push(() => t.stop());
  await t.addWorker('sam', { name: 'Sam Carter' });
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
  closers.push(() => fob.close());
  return { t, clock, smtp, webhook, arc, arcOptions, fob, deliveries: async (id) => (await t.timeline(id)).filter((e) => e.type === 'delivery') };
}

/** One second at a time, letting real I/O (connect, refuse, answer) finish between steps. */
async function stepSeconds(r: Rig, seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    await r.t.advance(1000);
    for (let k = 0; k < 5; k++) await new Promise((res) => setTimeout(res, 5));
  }
}

describe('forwarding that tells the truth (issue 16)', () => {
  it('1. a default install (no channel configured): the SOS timeline names each person and says "not configured" for every channel', async () => {
    const t = await startTestHub({ manualClock: true });
    closers.push(() => t.stop());
    await t.addWorker('sam', { name: 'Sam Carter' });
    const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
    const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
    closers.push(() => fob.close());
    await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    await t.settle();
    const [alarm] = await t.alarms();
    const d = (await t.timeline(alarm.id)).filter((e) => e.type === 'delivery');
    expect(d.length).toBeGreaterThan(0);
    expect(d.every((e) => e.detail.status === 'not_configured')).toBe(true);
    const email = d.filter((e) => e.detail.channel === 'email');
    expect(email.map((e) => `${e.detail.recipientName} ${e.detail.address}`).sort()).toEqual(['Dana Duty d***@example.org', 'Dev Director d***@example.org', 'Hana Head h***@example.org', 'Lee Manager l***@example.org']);
    expect(d.filter((e) => e.detail.channel === 'webhook')).toHaveLength(2);
    expect(d.filter((e) => e.detail.channel === 'arc')).toHaveLength(1);
    expect(d[0].detail.reason).toBe('[notifiers.email] is not configured');
  });

  it('2. a wrong key at the ARC (pysiaalarm\'s line-first NAK) is a refusal with its reason, and falls through at once, not after the give-up time', async () => {
    const r = await rig({ arc: { key: parseKey('F'.repeat(32)), nakForm: 'line-first' } });
    await r.fob.send({ i: makeEventId(1, 2), k: 'cov', ag: 0 });
    const [alarm] = await r.t.alarms();
    await expect.poll(async () => (await r.deliveries(alarm.id)).some((e) => e.detail.channel === 'arc' && e.detail.status === 'fallthrough')).toBe(true);
    const failed = (await r.deliveries(alarm.id)).filter((e) => e.detail.channel === 'arc' && e.detail.status === 'failed');
    expect(failed[0].detail).toMatchObject({ attempt: 1, retryable: false, gaveUp: true, address: '127.0.0.1:' + r.arc.port + ' #4321' });
    expect(failed[0].detail.reason).toMatch(/encryption key, account or line do not match/);
    expect(failed[0].detail.reason).not.toMatch(/unreadable|bad header/);
    // No time passed: the fall-through did not wait for the give-up time.
    expect(failed[0].at).toBe(alarm.raisedAt);
    expect(r.t.hub.dispatcher!.paths.arc).toMatchObject({ state: 'refusing' });

    // 3. The fall-through e-mail says the ARC was not told, with its own subject and what to do.
    await expect.poll(() => r.smtp.mails.some((m) => m.subject.startsWith('ARC NOT TOLD:'))).toBe(true);
    const mail = r.smtp.mails.find((m) => m.subject.startsWith('ARC NOT TOLD:'))!;
    expect(mail.subject).toBe('ARC NOT TOLD: COVERT SOS alarm: Sam Carter');
    expect(mail.text).toContain('The alarm receiving centre (ARC) was NOT told of this alarm: phone them on 0300 123 4567 or dial 999.');
    expect(mail.text).toMatch(/Why: the ARC refused the message/);
    const plain = r.smtp.mails.filter((m) => m.subject === 'COVERT SOS alarm: Sam Carter');
    expect(plain.length).toBeGreaterThan(0);
    expect(plain[0].text).not.toContain('NOT told');
  });

  it('4. the ARC back after the give-up gets the alarm while it is open, and the restore only after its ACK', async () => {
    const r = await rig({ arcDown: true });
    await r.fob.send({ i: makeEventId(1, 3), k: 'cov', ag: 0 });
    const [alarm] = await r.t.alarms();
    await stepSeconds(r, 4);
    await expect.poll(async () => (await r.deliveries(alarm.id)).some((e) => e.detail.channel === 'arc' && e.detail.status === 'fallthrough')).toBe(true);
    expect(r.t.hub.dispatcher!.paths.arc).toMatchObject({ state: 'down' });
    // The receiver comes back 20 s after the give-up.
    await stepSeconds(r, 20);
    const back = await Dc09Receiver.start(r.arcOptions, r.arc.port);
    closers.push(() => back.close());
    await stepSeconds(r, 10);
    await expect.poll(() => back.accepted.filter((f) => f.id === 'ADM-CID').map((f) => [f.cid?.qualifier, f.cid?.code])).toEqual([[1, 121]]);
    await expect.poll(async () => (await r.deliveries(alarm.id)).some((e) => e.detail.channel === 'arc' && e.detail.status === 'delivered' && e.detail.late === true)).toBe(true);
    expect(r.t.hub.dispatcher!.paths.arc).toMatchObject({ state: 'up' });

    await r.t.hub.runtime.alarmAction(alarm.id, { type: 'resolve', by: 'user:dana', note: 'safe', outcome: 'safe_after_callback' });
    await r.t.settle();
    await r.t.hub.dispatcher!.idle();
    expect(back.accepted.filter((f) => f.id === 'ADM-CID').map((f) => [f.cid?.qualifier, f.cid?.code])).toEqual([
      [1, 121],
      [3, 121],
    ]);
  });

  it('4b. an alarm closed before the ARC ever acknowledged it sends no restore, and says so', async () => {
    const r = await rig({ arcDown: true });
    await r.fob.send({ i: makeEventId(1, 4), k: 'sos', ag: 0 });
    const [alarm] = await r.t.alarms();
    await stepSeconds(r, 4);
    await r.t.hub.runtime.alarmAction(alarm.id, { type: 'resolve', by: 'user:dana', note: 'safe', outcome: 'safe_after_callback' });
    await r.t.settle();
    const back = await Dc09Receiver.start(r.arcOptions, r.arc.port);
    closers.push(() => back.close());
    await stepSeconds(r, 12);
    await r.t.hub.dispatcher!.idle();
    expect(back.frames.filter((f) => f.id === 'ADM-CID')).toEqual([]);
    const arc = (await r.deliveries(alarm.id)).filter((e) => e.detail.channel === 'arc');
    expect(arc.some((e) => e.detail.status === 'skipped' && /no restore sent: the alarm receiving centre never acknowledged the alarm/.test(String(e.detail.reason)))).toBe(true);
    expect(arc.some((e) => e.detail.gaveUp === true && /closed before the alarm receiving centre acknowledged it/.test(String(e.detail.reason)))).toBe(true);
  });

  it('6. a reminder and the close have their own subjects; the reminder names who holds the alarm; everyone e-mailed hears it is over', async () => {
    const r = await rig();
    await r.fob.send({ i: makeEventId(1, 5), k: 'cov', ag: 0 });
    const [alarm] = await r.t.alarms();
    await expect.poll(() => r.smtp.mails.length).toBe(4);
    await r.t.hub.dispatcher!.idle();
    await r.t.hub.runtime.alarmAction(alarm.id, { type: 'acknowledge', by: 'user:dana' });
    await r.t.advance(15 * 60_000);
    await expect.poll(() => r.smtp.mails.some((m) => m.subject.startsWith('REMINDER'))).toBe(true);
    const reminder = r.smtp.mails.find((m) => m.subject.startsWith('REMINDER'))!;
    expect(reminder.subject).toBe('REMINDER, still open: COVERT SOS alarm: Sam Carter');
    expect(reminder.text).toContain('REMINDER: this alarm was taken by dana but is still not resolved.');
    // The webhook says it is a reminder, and who holds the alarm, too (HMAC checked by the receiver).
    await r.t.hub.dispatcher!.idle();
    const hooks = r.webhook.accepted.map((x) => x.json as { notice: { reason: string; holder: string | null } });
    expect(hooks.some((j) => j.notice.reason === 're_alert' && j.notice.holder === 'user:dana')).toBe(true);
    await r.t.hub.runtime.alarmAction(alarm.id, { type: 'resolve', by: 'user:dana', note: 'safe', outcome: 'safe_after_callback' });
    await r.t.settle();
    await r.t.hub.dispatcher!.idle();
    const over = r.smtp.mails.filter((m) => m.subject.startsWith('OVER (resolved'));
    expect(over.map((m) => m.to[0]).sort()).toEqual(['dev@example.org', 'duty@example.org', 'hana@example.org', 'lee@example.org']);
    // The outcome the officer chose travels with the close (issue 15 item 10).
    expect(over[0].subject).toBe('OVER (resolved: worker safe after call-back): COVERT SOS alarm: Sam Carter');
    expect(over[0].text).toContain('This alarm is over: resolved: worker safe after call-back');
  });

  it('6b. the end of the ladder has its own subject', async () => {
    const r = await rig();
    await r.fob.send({ i: makeEventId(1, 6), k: 'sos', ag: 0 });
    // The default SOS policy: 2 minutes a round, 5 repeats, then exhausted.
    // Each minute's notices are delivered (real SMTP/HTTP I/O) before the clock moves on, so no
    // attempt's time limit fires because the manual clock jumped past it.
    await r.t.hub.dispatcher!.idle();
    for (let i = 0; i < 13; i++) {
      await r.t.advance(60_000);
      await r.t.hub.dispatcher!.idle();
    }
    expect(r.smtp.mails.some((m) => m.subject === 'NOBODY HAS TAKEN IT: SOS alarm: Sam Carter')).toBe(true);
    expect(r.smtp.mails.some((m) => m.subject === 'STILL NOT TAKEN: SOS alarm: Sam Carter')).toBe(true);
  });

  it('an ARC refusing our messages (supervision, no alarm open) is an alarm on the dashboard, with sound, until it is back', { timeout: 120_000 }, async () => {
    const r = await rig({ arc: { key: parseKey('F'.repeat(32)), nakForm: 'line-first' }, supervisionS: 90 });
    await createUser(r.t.hub.store, { username: 'dana', role: 'duty_officer', password: PASSWORD, name: 'Dana' }, 'test', r.clock.now(), { passwordCost: TEST_PASSWORD_COST });
    const browser: Browser = await launchChromium();
    closers.push(() => browser.close());
    const page = await signInPage(browser, r.t.httpUrl, 'dana');
    closers.push(() => page.close());
    expect(await page.$('#forwarding-warning [data-path=arc]')).toBeNull();
    const before = Number((await page.getAttribute('body', 'data-tones-path-down')) ?? '0');
    await r.t.advance(90_000);
    await expect.poll(() => r.t.hub.dispatcher!.paths.arc?.state).toBe('refusing');
    const banner = await page.waitForSelector('#forwarding-warning:not([hidden]) [data-path=arc]');
    expect(await banner.textContent()).toMatch(/ALARM: the path to the alarm receiving centre is REFUSING our messages since .*encryption key, account or line do not match/);
    await expect.poll(async () => Number(await page.getAttribute('body', 'data-tones-path-down'))).toBeGreaterThan(before);
    expect(await r.t.alarms()).toEqual([]);
    // The ARC gets the right key: the next supervision message is acknowledged and the alarm goes.
    r.arc.set({ key: parseKey(KEY_HEX) });
    await r.t.advance(90_000);
    await expect.poll(() => r.t.hub.dispatcher!.paths.arc?.state).toBe('up');
    await page.waitForSelector('#forwarding-warning [data-path=arc]', { state: 'detached' });
  });
});
