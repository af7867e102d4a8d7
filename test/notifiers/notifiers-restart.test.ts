/**
 * Alert forwarding across a hub restart ("nothing is lost"): a real hub is stopped and a new one is
 * started on the same SQLite file. A notice being retried when the hub stopped is resumed at its
 * next-try time with the same idempotency key; the ARC is told of an alarm once and restored once;
 * the webhook hears of the close. Time is a ManualClock per hub (the second starts where the first
 * stopped); no test sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../hub/clock.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { Dc09Receiver } from '../helpers/dc09-receiver.js';
import { createApiToken } from '../../hub/http/users.js';
import { TestWebhookReceiver } from '../helpers/notify-receivers.js';

const SECRET = 'whsec-restart-0123456789';
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-notice-restart-'));
  closers.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(dataDir: string, clock: ManualClock, notifiers: Record<string, unknown>): Promise<TestHub> {
  const t = await startTestHub({ clock, dataDir, config: { notifiers } });
  closers.push(() => t.stop());
  return t;
}

/** A hub with a worker and a connected fob that has pressed SOS; returns the alarm id. */
async function sos(t: TestHub): Promise<string> {
  await t.addWorker('sam', { name: 'Sam Carter' });
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
  closers.push(() => fob.close());
  await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
  const [alarm] = await t.alarms();
  await fob.close();
  return alarm.id;
}

const webhookEntries = async (t: TestHub, alarmId: string) => (await t.timeline(alarmId)).filter((e) => e.type === 'delivery' && e.actor === 'notifier:webhook' && e.detail.status !== 'queued');

function notifiersMetrics(t: TestHub): Record<string, number> {
  return t.hub.metrics().notifiers as Record<string, number>;
}

describe('alert forwarding across a hub restart', () => {
  it('a webhook notice being retried when the hub stops is delivered once, with the same key, after the restart', async () => {
    const dataDir = tempDir();
    // The receiver is down: nothing listens on its port.
    const down = await TestWebhookReceiver.start(SECRET, () => 0);
    const port = down.port;
    await down.close();
    const notifiers = {
      webhook: { url: `http://127.0.0.1:${port}/lonewatch`, secret: SECRET, retry: { timeout_s: 10, first_retry_s: 30, factor: 1, give_up_after_s: 3600 } },
    };
    const clock1 = new ManualClock();
    const t1 = await start(dataDir, clock1, notifiers);
    const alarmId = await sos(t1);

    // The default SOS policy tells level 0 and level 1 at once: two webhook notices, both refused.
    await expect.poll(async () => (await webhookEntries(t1, alarmId)).length).toBe(2);
    const failed = await webhookEntries(t1, alarmId);
    expect(failed.every((e) => e.detail.status === 'failed' && e.detail.attempt === 1 && e.detail.nextAttemptAt === clock1.now() + 30_000)).toBe(true);
    const keys = failed.map((e) => e.detail.noticeId as string).sort();
    expect(new Set(keys).size).toBe(2);
    await expect.poll(() => notifiersMetrics(t1).retrying).toBe(2);
    expect(notifiersMetrics(t1)).toMatchObject({ sent: 2, failed: 2, delivered: 0, gaveUp: 0, queueDepth: 2 });
    // The metrics endpoint shows the same counters.
    // (/metrics needs sign-in: an API token.)
    const { token } = await createApiToken(t1.hub.store, 'metrics', 'duty_officer', 'test', clock1.now());
    const http = (await (await fetch(`${t1.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).json()) as { notifiers: Record<string, unknown> };
    expect(http.notifiers).toMatchObject({ sent: 2, failed: 2, retrying: 2, queueDepth: 2, channels: { webhook: { sent: 2, failed: 2, delivered: 0, gaveUp: 0 } } });
    // Stored before the first send, with the attempt count and next-try time.
    const stored = await t1.hub.store.read((tx) => tx.listNotices(alarmId));
    expect(stored.map((n) => [n.id, n.channel, n.state, n.attempts, n.nextAttemptAt]).sort()).toEqual(keys.map((k) => [k, 'webhook', 'pending', 1, clock1.now() + 30_000]));
    await t1.stop();

    // Five seconds later the hub starts again, and the receiver is back on its address.
    const clock2 = new ManualClock(clock1.now() + 5000);
    const up = await TestWebhookReceiver.start(SECRET, () => clock2.now(), port);
    closers.push(() => up.close());
    const t2 = await start(dataDir, clock2, notifiers);
    await t2.settle();
    expect(notifiersMetrics(t2)).toMatchObject({ resumed: 2, retrying: 2, queueDepth: 2, sent: 0 });
    // Not before its next-try time.
    expect(up.received).toHaveLength(0);
    await t2.advance(25_000);
    await expect.poll(() => up.received.length).toBe(2);
    await expect.poll(async () => (await t2.hub.store.read((tx) => tx.listNotices(alarmId))).every((n) => n.state === 'done')).toBe(true);
    // Another minute (before the SOS repeats at two minutes): nothing more arrives.
    await t2.advance(60_000);
    await t2.hub.dispatcher!.idle();
    expect(up.received).toHaveLength(2);
    expect(up.accepted).toHaveLength(2);
    expect(up.received.map((r) => String(r.headers['idempotency-key'])).sort()).toEqual(keys);
    expect(up.received.every((r) => r.verified && r.json.attempt === 2 && r.json.type === 'lonewatch.alert')).toBe(true);

    const after = await webhookEntries(t2, alarmId);
    expect(after.slice(2).map((e) => [e.detail.noticeId, e.detail.status, e.detail.attempt]).sort()).toEqual(keys.map((k) => [k, 'delivered', 2]));
    expect(after).toHaveLength(4);
    const notices = await t2.hub.store.read((tx) => tx.listNotices(alarmId));
    expect(notices.map((n) => n.outcome)).toEqual(['delivered', 'delivered']);
    expect(notifiersMetrics(t2)).toMatchObject({ sent: 2, delivered: 2, failed: 0, retrying: 0, queueDepth: 0, resumed: 2 });
  });

  it('an ARC notice still being tried after its give-up when the hub stops carries on after the restart: the ARC gets the alarm (same seq), then the restore', async () => {
    const dataDir = tempDir();
    let clock = new ManualClock();
    const rxOptions = { account: '4321', line: '3', now: () => clock.now() };
    const down = await Dc09Receiver.start(rxOptions);
    const port = down.port;
    await down.close();
    const notifiers = {
      arc: { host: '127.0.0.1', port, account: '4321', line: '3', supervision_s: 0, retry_while_open_s: 10, retry: { timeout_s: 10, first_retry_s: 1, give_up_after_s: 5 } },
    };
    const t1 = await start(dataDir, clock, notifiers);
    const alarmId = await sos(t1);
    for (let i = 0; i < 6; i++) {
      await t1.advance(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
    await expect.poll(async () => (await t1.timeline(alarmId)).some((e) => e.type === 'delivery' && e.detail.late === true)).toBe(true);
    await t1.stop();

    clock = new ManualClock(clock.now() + 5_000);
    const arc = await Dc09Receiver.start(rxOptions, port);
    closers.push(() => arc.close());
    const t2 = await start(dataDir, clock, notifiers);
    await t2.settle();
    for (let i = 0; i < 12 && arc.accepted.length === 0; i++) {
      await t2.advance(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
    await expect.poll(() => arc.accepted.map((f) => [f.seq, f.cid?.qualifier, f.cid?.code])).toEqual([[1, 1, 120]]);
    await expect.poll(async () => (await t2.timeline(alarmId)).some((e) => e.type === 'delivery' && e.detail.status === 'delivered' && e.detail.late === true)).toBe(true);
    await t2.hub.runtime.alarmAction(alarmId, { type: 'resolve', by: 'user:dana', note: 'safe' });
    await t2.settle();
    await t2.hub.dispatcher!.idle();
    expect(arc.accepted.map((f) => [f.seq, f.cid?.qualifier])).toEqual([
      [1, 1],
      [2, 3],
    ]);
  });

  it('after a restart, closing the alarm restores it at the ARC once (next sequence number) and tells the webhook once', async () => {
    const dataDir = tempDir();
    let clock = new ManualClock();
    const arc = await Dc09Receiver.start({ account: '4321', receiver: '12', line: '3', now: () => clock.now() });
    closers.push(() => arc.close());
    const hook = await TestWebhookReceiver.start(SECRET, () => clock.now());
    closers.push(() => hook.close());
    const notifiers = {
      arc: { host: '127.0.0.1', port: arc.port, account: '4321', receiver: '12', line: '3', users: { sam: 7 }, supervision_s: 0, retry: { timeout_s: 10, first_retry_s: 1, give_up_after_s: 5 } },
      webhook: { url: hook.url, secret: SECRET },
    };
    const t1 = await start(dataDir, clock, notifiers);
    const alarmId = await sos(t1);
    await arc.waitFor((f) => f.cid?.qualifier === 1);
    await expect.poll(() => hook.accepted.length).toBe(2);
    await t1.hub.dispatcher!.idle();
    await t1.stop();

    clock = new ManualClock(clock.now() + 60_000);
    const t2 = await start(dataDir, clock, notifiers);
    await t2.settle();
    await t2.hub.dispatcher!.idle();
    // Nothing was unfinished, so nothing is sent again at start.
    expect(arc.frames.filter((f) => f.id === 'ADM-CID')).toHaveLength(1);
    expect(hook.received).toHaveLength(2);

    await t2.hub.runtime.alarmAction(alarmId, { type: 'resolve', by: 'user:dana', note: 'safe' });
    await t2.settle();
    const restore = await arc.waitFor((f) => f.cid?.qualifier === 3);
    // The sequence carries on from the last acknowledged number: 0001 again could be taken for a copy.
    expect(restore).toMatchObject({ ok: true, answer: 'ACK', seq: 2, cid: { code: 120, zone: 7 } });
    await expect.poll(() => hook.accepted.length).toBe(3);
    const closed = hook.accepted[2];
    expect(closed.verified).toBe(true);
    expect(closed.json).toMatchObject({ type: 'lonewatch.alarm.resolved', version: 1, noticeId: `${alarmId}.resolved.webhook`, alarm: { id: alarmId, state: 'resolved' } });
    expect(closed.headers['idempotency-key']).toBe(`${alarmId}.resolved.webhook`);
    expect(closed.json.link).toBe(`http://127.0.0.1:8080/alarms/${alarmId}`);

    // The same change published again (an effect re-run after a crash), and another restart: once only.
    const alert = (await t2.hub.runtime.alertFor(alarmId, null))!;
    t2.hub.dispatcher!.alarmChanged(alert);
    await t2.hub.dispatcher!.idle();
    await t2.stop();
    clock = new ManualClock(clock.now() + 60_000);
    const t3 = await start(dataDir, clock, notifiers);
    t3.hub.dispatcher!.alarmChanged({ ...alert, at: new Date(clock.now()).toISOString() });
    await t3.settle();
    await t3.hub.dispatcher!.idle();
    expect(arc.frames.filter((f) => f.id === 'ADM-CID').map((f) => [f.seq, f.cid?.qualifier])).toEqual([
      [1, 1],
      [2, 3],
    ]);
    expect(hook.received.map((r) => r.json.type)).toEqual(['lonewatch.alert', 'lonewatch.alert', 'lonewatch.alarm.resolved']);
    const records = (await t3.timeline(alarmId)).filter((e) => e.type === 'delivery' && e.detail.event === 'closed' && e.detail.status !== 'queued');
    expect(records.map((e) => `${e.actor} ${e.detail.status}`).sort()).toEqual(['notifier:arc delivered', 'notifier:webhook delivered']);
  });

  it('a notify effect re-run after a crash makes the same notice ids (nothing twice); a genuine repeat of the ladder makes new ones', async () => {
    const dataDir = tempDir();
    let clock = new ManualClock();
    const hook = await TestWebhookReceiver.start(SECRET, () => clock.now());
    closers.push(() => hook.close());
    const notifiers = { webhook: { url: hook.url, secret: SECRET } };
    const t1 = await start(dataDir, clock, notifiers);
    // The process dies after the notices were stored and before its effects were marked done: they
    // stay pending, as a crash leaves them, and the next start runs them again.
    t1.hub.store.complete = async () => false;
    const alarmId = await sos(t1);
    await expect.poll(() => hook.accepted.length).toBe(2);
    await t1.hub.dispatcher!.idle();
    const keys = hook.received.map((r) => String(r.headers['idempotency-key'])).sort();
    expect(new Set(keys).size).toBe(2);
    expect((await t1.hub.store.listWork('effect', 100)).filter((p) => (p.payload as { type: string }).type === 'notify')).toHaveLength(2);
    await t1.stop();

    clock = new ManualClock(clock.now() + 30_000);
    const t2 = await start(dataDir, clock, notifiers);
    await t2.settle();
    await t2.hub.dispatcher!.idle();
    expect(await t2.hub.store.listWork('effect', 100)).toEqual([]);
    // The re-run made the same ids: the journal already had them, so nothing was sent again.
    expect(hook.received).toHaveLength(2);
    expect((await t2.hub.store.read((tx) => tx.listNotices(alarmId))).map((n) => n.id).sort()).toEqual(keys);

    // The SOS ladder repeats at two minutes: a new notification, with new ids.
    await t2.advance(90_000);
    await expect.poll(() => hook.accepted.length).toBe(4);
    await t2.hub.dispatcher!.idle();
    const all = hook.received.map((r) => String(r.headers['idempotency-key']));
    expect(new Set(all).size).toBe(4);
    expect(all.slice(0, 2).sort()).toEqual(keys);
  });

  it('a DC-09 notice resumed after a restart is retransmitted with the sequence number it was first sent with', async () => {
    const dataDir = tempDir();
    let clock = new ManualClock();
    const arc = await Dc09Receiver.start({ account: '4321', now: () => clock.now() });
    closers.push(() => arc.close());
    const notifiers = {
      arc: { host: '127.0.0.1', port: arc.port, account: '4321', users: { sam: 7, kim: 8 }, supervision_s: 0, max_naks: 1, retry: { timeout_s: 10, first_retry_s: 60, factor: 1, give_up_after_s: 3600 } },
    };
    const t1 = await start(dataDir, clock, notifiers);
    // Sam's SOS: the ARC refuses the first frame (NAK); the notice waits a minute for its retry.
    arc.forced.push('NAK');
    const samAlarm = await sos(t1);
    await expect.poll(async () => (await t1.timeline(samAlarm)).some((e) => e.type === 'delivery' && e.detail.status === 'failed')).toBe(true);
    // Meanwhile Kim's SOS goes through with the next number.
    await t1.addWorker('kim', { name: 'Kim Lee' });
    const { secret } = await t1.addDevice('fob-2', { workerId: 'kim' });
    const fob = await connectFob(t1.mqttUrl, 'fob-2', secret);
    closers.push(() => fob.close());
    await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    await fob.close();
    await arc.waitFor((f) => f.answer === 'ACK' && f.cid?.zone === 8);
    const kimAlarm = (await t1.alarms()).find((a) => a.id !== samAlarm)!.id;
    await expect.poll(async () => (await t1.hub.store.read((tx) => tx.listNotices(kimAlarm))).every((n) => n.state === 'done')).toBe(true);
    await t1.stop();

    clock = new ManualClock(clock.now() + 10_000);
    const t2 = await start(dataDir, clock, notifiers);
    await t2.settle();
    await t2.advance(50_000);
    await arc.waitFor((f) => f.answer === 'ACK' && f.cid?.zone === 7);
    await expect.poll(async () => (await t2.hub.store.read((tx) => tx.listNotices(samAlarm))).every((n) => n.state === 'done')).toBe(true);
    // Sam's event keeps 0001 (the ARC sees a retransmission, not a second event); Kim's had 0002.
    expect(arc.frames.filter((f) => f.id === 'ADM-CID').map((f) => [f.seq, f.cid?.zone, f.answer, f.retransmission])).toEqual([
      [1, 7, 'NAK', false],
      [2, 8, 'ACK', false],
      [1, 7, 'ACK', true],
    ]);
    // A new message after the restart carries on after the last number given out.
    await t2.hub.runtime.alarmAction(kimAlarm, { type: 'resolve', by: 'user:dana', note: 'safe' });
    await t2.settle();
    const restore = await arc.waitFor((f) => f.cid?.qualifier === 3);
    expect(restore).toMatchObject({ answer: 'ACK', seq: 3, retransmission: false, cid: { zone: 8 } });
  });

  it('finished notices of alarms closed more than retain_days ago are pruned at start and daily, keeping the one the next ARC number follows', async () => {
    const dataDir = tempDir();
    const DAY = 24 * 3600_000;
    let clock = new ManualClock();
    const arc = await Dc09Receiver.start({ account: '4321', now: () => clock.now() });
    closers.push(() => arc.close());
    const hook = await TestWebhookReceiver.start(SECRET, () => clock.now());
    closers.push(() => hook.close());
    const notifiers = { retain_days: 1, arc: { host: '127.0.0.1', port: arc.port, account: '4321', supervision_s: 0 }, webhook: { url: hook.url, secret: SECRET } };
    const notices = (t: TestHub, alarmId: string) => t.hub.store.read((tx) => tx.listNotices(alarmId));
    const t1 = await start(dataDir, clock, notifiers);
    const first = await sos(t1);
    await arc.waitFor((f) => f.answer === 'ACK' && f.cid?.qualifier === 1);
    await t1.hub.runtime.alarmAction(first, { type: 'resolve', by: 'user:dana', note: 'safe' });
    await t1.settle();
    await arc.waitFor((f) => f.answer === 'ACK' && f.cid?.qualifier === 3);
    await expect.poll(async () => (await notices(t1, first)).filter((n) => n.state === 'done').length).toBe(5);
    await t1.hub.dispatcher!.idle();
    // Kept while the alarm closed less than a day ago.
    await t1.hub.dispatcher!.prune();
    expect(await notices(t1, first)).toHaveLength(5);
    await t1.stop();

    // Three days later: pruned at start, all but the ARC restore (0002), which the next number follows.
    clock = new ManualClock(clock.now() + 3 * DAY);
    const t2 = await start(dataDir, clock, notifiers);
    expect((await notices(t2, first)).map((n) => [n.channel, n.event, n.ref])).toEqual([['arc', 'closed', '2']]);
    // The escalation record keeps every delivery result.
    expect((await t2.timeline(first)).filter((e) => e.type === 'delivery' && (e.detail.status === 'delivered' || e.detail.status === 'sent'))).toHaveLength(5);

    await t2.addWorker('kim', { name: 'Kim Lee' });
    const { secret } = await t2.addDevice('fob-2', { workerId: 'kim' });
    const fob = await connectFob(t2.mqttUrl, 'fob-2', secret);
    closers.push(() => fob.close());
    await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    await fob.close();
    const second = (await t2.alarms()).find((a) => a.id !== first)!.id;
    await t2.hub.runtime.alarmAction(second, { type: 'resolve', by: 'user:dana', note: 'safe' });
    await t2.settle();
    await expect.poll(async () => (await notices(t2, second)).filter((n) => n.state === 'done').length).toBe(5);
    await t2.hub.dispatcher!.idle();
    expect(arc.frames.filter((f) => f.id === 'ADM-CID').map((f) => [f.seq, f.cid?.qualifier, f.answer])).toEqual([
      [1, 1, 'ACK'],
      [2, 3, 'ACK'],
      [3, 1, 'ACK'],
      [4, 3, 'ACK'],
    ]);

    // Daily on the hub's clock: two days on, the second alarm's notices go too, all but the last ARC one.
    clock.advance(2 * DAY);
    await t2.settle();
    await t2.hub.dispatcher!.idle();
    expect(await notices(t2, first)).toEqual([]);
    expect((await notices(t2, second)).map((n) => [n.channel, n.event, n.ref])).toEqual([['arc', 'closed', '4']]);
  });

  it('a cancelled alarm reaches the webhook as lonewatch.alarm.cancelled; an alarm the webhook never heard of sends no close', async () => {
    const dataDir = tempDir();
    const clock = new ManualClock();
    const hook = await TestWebhookReceiver.start(SECRET, () => clock.now());
    closers.push(() => hook.close());
    const t = await start(dataDir, clock, { webhook: { url: hook.url, secret: SECRET } });
    const alarmId = await sos(t);
    await expect.poll(() => hook.accepted.length).toBe(2);
    await t.hub.runtime.alarmAction(alarmId, { type: 'cancel', by: 'user:dana', source: 'officer', reason: 'pressed by mistake' });
    await t.settle();
    await expect.poll(() => hook.accepted.length).toBe(3);
    expect(hook.accepted[2].json).toMatchObject({ type: 'lonewatch.alarm.cancelled', noticeId: `${alarmId}.cancelled.webhook`, alarm: { state: 'cancelled' } });

    // A close for an alarm no webhook notice went out for is not sent.
    const alert = (await t.hub.runtime.alertFor(alarmId, null))!;
    t.hub.dispatcher!.alarmChanged({ ...alert, alarmId: 'a-unknown', state: 'resolved' });
    await t.hub.dispatcher!.idle();
    expect(hook.received).toHaveLength(3);
  });

  it('a hub that refuses to start (a missing secret) leaves its SQLite file closed', async () => {
    const dataDir = tempDir();
    delete process.env.LW_TEST_MISSING_RESTART;
    const dbFds = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(join(dataDir, 'lonewatch.db'));
        } catch {
          return false;
        }
      });
    await expect(
      startTestHub({ manualClock: true, dataDir, config: { notifiers: { webhook: { url: 'http://127.0.0.1:9/x', secret: 'env:LW_TEST_MISSING_RESTART' } } } }),
    ).rejects.toThrow(/LW_TEST_MISSING_RESTART is not set/);
    // The store was opened (and written: the contacts from config) before the secret was resolved.
    expect(existsSync(join(dataDir, 'lonewatch.db'))).toBe(true);
    if (existsSync('/proc/self/fd')) expect(dbFds()).toEqual([]);
    // A closed WAL database leaves no -wal file behind.
    expect(existsSync(join(dataDir, 'lonewatch.db-wal'))).toBe(false);
  });
});
