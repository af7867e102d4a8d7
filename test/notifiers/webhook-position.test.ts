/**
 * Issue 20, "webhooks and alerts carry it": a fix stored for an open alarm after the webhook was told
 * of it sends the webhook one signed `lonewatch.alarm.position` event, by the same rule as the ARC's
 * follow-up (position-follow-up.ts), with a stable id that is its Idempotency-Key: a retry after a
 * 503 carries the same key, and the same fix again makes nothing. A webhook whose alert never got
 * through gets no position event. A real hub, a real HTTP receiver and DC-09 receiver, the hub's
 * ManualClock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../hub/clock.js';
import { parseKey } from '../../hub/notifiers/sia-dc09/dc09-frame.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { positionTopic } from '../../shared/protocol-core.js';
import { Dc09Receiver } from '../helpers/dc09-receiver.js';
import { TestWebhookReceiver } from '../helpers/notify-receivers.js';

const KEY_HEX = '00112233445566778899AABBCCDDEEFF';
const SECRET = 'whsec-test-0123456789';
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TEST_ARC_KEY;
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

async function rig() {
  const clock = new ManualClock();
  const webhook = await TestWebhookReceiver.start(SECRET, () => clock.now());
  closers.push(() => webhook.close());
  const arc = await Dc09Receiver.start({ account: '4321', receiver: '12', line: '3', key: parseKey(KEY_HEX), now: () => clock.now() });
  closers.push(() => arc.close());
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-secrets-'));
  writeFileSync(join(dir, 'webhook.secret'), `${SECRET}\n`);
  process.env.LW_TEST_ARC_KEY = KEY_HEX;
  const retry = { timeout_s: 10, first_retry_s: 1, give_up_after_s: 30 };
  const t = await startTestHub({
    clock,
    config: {
      notifiers: {
        webhook: { url: webhook.url, secret: `file:${join(dir, 'webhook.secret')}`, retry },
        arc: { host: '127.0.0.1', port: arc.port, account: '4321', receiver: '12', line: '3', encryption_key: 'env:LW_TEST_ARC_KEY', users: { sam: 7 }, supervision_s: 0, retry: { ...retry, factor: 2 } },
      },
    },
  });
  closers.push(() => t.stop());
  await t.addWorker('sam', { name: 'Sam Carter' });
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
  closers.push(() => fob.close());
  return { t, clock, webhook, arc, fob };
}

async function sendPosition(f: TestFob, payload: unknown): Promise<void> {
  await f.client.publishAsync(positionTopic(f.deviceId), JSON.stringify(payload), { qos: 1 });
}

type Rig = Awaited<ReturnType<typeof rig>>;
const ofType = (r: Rig, type: string) => r.webhook.received.filter((x) => x.verified && x.json.type === type);
const positionNotices = async (r: Rig, alarmId: string, channel: string) => {
  await r.t.settle();
  return (await r.t.hub.store.read((tx) => tx.listNotices(alarmId))).filter((n) => n.event === 'position' && n.channel === channel);
};

describe('webhook position events (issue 20)', () => {
  it('a fix 100 m on after the alert was delivered: one signed lonewatch.alarm.position; a 503 is retried with the same key; the same fix again and a close make nothing', async () => {
    const r = await rig();
    await r.fob.send({ i: '1-1', k: 'sos', ag: 0, l: { la: 53.4808, lo: -2.24263, ac: 9, fa: 0, s: 'g' } });
    const [alarm] = await r.t.alarms();
    const id = alarm!.id;
    await expect.poll(() => ofType(r, 'lonewatch.alert').filter((x) => x.status < 300).length, { timeout: 10_000 }).toBeGreaterThan(0);

    // Within the 30 s rate limit: nothing yet.
    await r.t.advance(10_000);
    await sendPosition(r.fob, { la: 53.4817, lo: -2.24263, ac: 8, fa: 0, s: 'g' });
    expect(await positionNotices(r, id, 'webhook')).toHaveLength(0);

    // 40 s after the alert, 100 m north: one position event with the new fix.
    await r.t.advance(30_000);
    const fixAt = r.clock.now();
    await sendPosition(r.fob, { la: 53.4817, lo: -2.24264, ac: 8, fa: 0, s: 'g' });
    await expect.poll(() => ofType(r, 'lonewatch.alarm.position').length, { timeout: 10_000 }).toBe(1);
    const ev = ofType(r, 'lonewatch.alarm.position')[0]!;
    const key = `${id}.position.${fixAt.toString(36)}.webhook`;
    expect(ev.headers['idempotency-key']).toBe(key);
    expect(ev.json).toMatchObject({
      version: 1,
      noticeId: key,
      attempt: 1,
      alarm: { id, kind: 'sos', position: { lat: 53.4817, lon: -2.24264, accuracyM: 8, fixAt: new Date(fixAt).toISOString(), source: 'gnss' } },
      recipient: null,
      notice: { reason: 'new position: moved 100 m', failed: null },
    });
    // The ARC, told by the same rule, has its own follow-up (Contact ID qualifier 6).
    await expect.poll(() => r.arc.accepted.length, { timeout: 10_000 }).toBe(2);
    expect(r.arc.accepted[1]!.cid).toMatchObject({ qualifier: 6, code: 120 });

    // The same fix again (the fob resending its ps): not newer, nothing.
    await sendPosition(r.fob, { la: 53.4817, lo: -2.24264, ac: 8, fa: 0, s: 'g' });
    expect(await positionNotices(r, id, 'webhook')).toHaveLength(1);

    // A minute later 100 m further: the receiver answers 503 first; the retry has the same key.
    await r.t.advance(60_000);
    const fix3At = r.clock.now();
    r.webhook.statuses.push(503);
    await sendPosition(r.fob, { la: 53.4826, lo: -2.24264, ac: 8, fa: 0, s: 'g' });
    await expect.poll(() => ofType(r, 'lonewatch.alarm.position').length, { timeout: 10_000 }).toBe(2);
    await r.t.advance(1_000);
    await expect.poll(() => ofType(r, 'lonewatch.alarm.position').length, { timeout: 10_000 }).toBe(3);
    const third = ofType(r, 'lonewatch.alarm.position').slice(1);
    const key3 = `${id}.position.${fix3At.toString(36)}.webhook`;
    expect(third.map((x) => [x.headers['idempotency-key'], x.json.attempt, x.status])).toEqual([
      [key3, 1, 503],
      [key3, 2, 200],
    ]);
    expect(r.webhook.accepted.filter((x) => x.json.type === 'lonewatch.alarm.position').map((x) => x.headers['idempotency-key'])).toEqual([key, key3]);
    const timeline = (await r.t.timeline(id)).filter((e) => e.type === 'delivery' && e.detail.event === 'position' && e.detail.channel === 'webhook');
    expect(timeline.map((e) => e.detail.status)).toEqual(['queued', 'delivered', 'queued', 'failed', 'delivered']);

    // Closed: a fix after it sends nothing (it belongs to no alarm).
    await r.t.hub.runtime.alarmAction(id, { type: 'acknowledge', by: 'user:dana' });
    await r.t.hub.runtime.alarmAction(id, { type: 'resolve', by: 'user:dana', outcome: 'false_alarm', authority: 'taker' });
    await expect.poll(() => ofType(r, 'lonewatch.alarm.resolved').length, { timeout: 10_000 }).toBe(1);
    await r.t.advance(60_000);
    await sendPosition(r.fob, { la: 53.4850, lo: -2.24264, ac: 8, fa: 0, s: 'g' });
    expect(await positionNotices(r, id, 'webhook')).toHaveLength(2);
    expect(ofType(r, 'lonewatch.alarm.position')).toHaveLength(3);
    expect(r.webhook.received.filter((x) => !x.verified)).toEqual([]);
  });

  it('a webhook whose alert never got through gets no position event (the ARC, which ACKed, does)', async () => {
    const r = await rig();
    // Every answer a 503 until the alert notice gives up (give_up_after_s 30).
    r.webhook.statuses.push(...Array.from({ length: 50 }, () => 503));
    await r.fob.send({ i: '1-1', k: 'sos', ag: 0, l: { la: 53.4808, lo: -2.24263, ac: 9, fa: 0, s: 'g' } });
    const [alarm] = await r.t.alarms();
    const id = alarm!.id;
    await expect.poll(() => r.arc.accepted.length, { timeout: 10_000 }).toBe(1);
    for (let i = 0; i < 40; i++) await r.t.advance(1_000);
    const webhookAlert = async () => (await r.t.hub.store.read((tx) => tx.listNotices(id))).find((n) => n.channel === 'webhook' && n.event === 'alert');
    await expect.poll(async () => (await webhookAlert())?.state, { timeout: 10_000 }).toBe('done');
    expect((await webhookAlert())?.outcome).not.toBe('delivered');

    await sendPosition(r.fob, { la: 53.4817, lo: -2.24263, ac: 8, fa: 0, s: 'g' });
    await expect.poll(() => r.arc.accepted.length, { timeout: 10_000 }).toBe(2);
    expect(await positionNotices(r, id, 'webhook')).toHaveLength(0);
    expect(ofType(r, 'lonewatch.alarm.position')).toHaveLength(0);
  });

  it('a position event being retried when the hub stops is delivered once after the restart, with the same key; the same fix again makes none', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-webhook-position-restart-'));
    closers.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const clock1 = new ManualClock();
    let webhook = await TestWebhookReceiver.start(SECRET, () => clock1.now());
    const port = webhook.port;
    const notifiers = { webhook: { url: webhook.url, secret: SECRET, retry: { timeout_s: 10, first_retry_s: 30, factor: 1, give_up_after_s: 3600 } } };
    const t1: TestHub = await startTestHub({ clock: clock1, dataDir, config: { notifiers } });
    let t1Stopped = false;
    closers.push(async () => {
      if (!t1Stopped) await t1.stop();
    });
    await t1.addWorker('sam', { name: 'Sam Carter' });
    const { secret } = await t1.addDevice('fob-1', { workerId: 'sam' });
    const fob1 = await connectFob(t1.mqttUrl, 'fob-1', secret);
    await fob1.send({ i: '1-1', k: 'sos', ag: 0, l: { la: 53.4808, lo: -2.24263, ac: 9, fa: 0, s: 'g' } });
    const [alarm] = await t1.alarms();
    const id = alarm!.id;
    await expect.poll(() => webhook.accepted.filter((x) => x.json.type === 'lonewatch.alert').length, { timeout: 10_000 }).toBeGreaterThan(0);

    // The receiver goes down; 40 s on, a fix 100 m away: its position event fails and waits 30 s.
    await webhook.close();
    await t1.advance(40_000);
    const fixAt = clock1.now();
    const key = `${id}.position.${fixAt.toString(36)}.webhook`;
    await sendPosition(fob1, { la: 53.4817, lo: -2.24263, ac: 8, fa: 0, s: 'g' });
    const positionEntries = async (t: TestHub) => (await t.timeline(id)).filter((e) => e.type === 'delivery' && e.detail.event === 'position');
    await expect.poll(async () => (await positionEntries(t1)).map((e) => e.detail.status), { timeout: 10_000 }).toEqual(['queued', 'failed']);
    await fob1.close();
    await t1.stop();
    t1Stopped = true;

    // Back up on the same port, and a new hub on the same store, its clock where the first stopped.
    const clock2 = new ManualClock(clock1.now());
    webhook = await TestWebhookReceiver.start(SECRET, () => clock2.now(), port);
    closers.push(() => webhook.close());
    const t2 = await startTestHub({ clock: clock2, dataDir, config: { notifiers } });
    closers.push(() => t2.stop());
    await t2.advance(30_000);
    await expect.poll(() => webhook.accepted.filter((x) => x.json.type === 'lonewatch.alarm.position').length, { timeout: 10_000 }).toBe(1);
    const ev = webhook.accepted.find((x) => x.json.type === 'lonewatch.alarm.position')!;
    expect(ev.headers['idempotency-key']).toBe(key);
    expect(ev.json).toMatchObject({ noticeId: key, attempt: 2, alarm: { id, position: { lat: 53.4817, lon: -2.24263, fixAt: new Date(fixAt).toISOString() } } });

    // The fob resends that same fix to the new hub (30 s later, so 30 s old: the same fix time).
    const fob2 = await connectFob(t2.mqttUrl, 'fob-1', secret);
    closers.push(() => fob2.close());
    await sendPosition(fob2, { la: 53.4817, lo: -2.24263, ac: 8, fa: 30, s: 'g' });
    await t2.settle();
    const notices = (await t2.hub.store.read((tx) => tx.listNotices(id))).filter((n) => n.event === 'position');
    expect(notices.map((n) => n.id)).toEqual([key]);
    expect(webhook.received.filter((x) => x.json.type === 'lonewatch.alarm.position')).toHaveLength(1);
  });
});
