/**
 * Issue 20, forwarding: an SOS that comes with a fix goes out with it on every path: the `lw/alerts`
 * alert and the signed webhook carry `position`, the e-mail an OpenStreetMap link, the DC-09 frame
 * X/Y/H blocks (parsed by the test ARC's own code), and the police hand-over the position, its age
 * and accuracy with geo: and OpenStreetMap links. A real hub, real SMTP/HTTP/TCP receivers, the
 * hub's ManualClock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../hub/clock.js';
import { parseKey } from '../../hub/notifiers/sia-dc09/dc09-frame.js';
import { alertSchema, type AlertMessage } from '../../shared/protocol-schemas.js';
import { startTestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { positionTopic } from '../../shared/protocol-core.js';
import { Dc09Receiver } from '../helpers/dc09-receiver.js';
import { TestSmtpServer, TestWebhookReceiver } from '../helpers/notify-receivers.js';
import { userClient } from '../dashboard/api-client.js';

const KEY_HEX = '00112233445566778899AABBCCDDEEFF';
const SECRET = 'whsec-test-0123456789';
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TEST_SMTP_PASSWORD;
  delete process.env.LW_TEST_ARC_KEY;
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

async function rig() {
  const clock = new ManualClock();
  const smtp = await TestSmtpServer.start({ user: 'lonewatch', pass: 'smtp-pass-1' });
  closers.push(() => smtp.close());
  const webhook = await TestWebhookReceiver.start(SECRET, () => clock.now());
  closers.push(() => webhook.close());
  const arc = await Dc09Receiver.start({ account: '4321', receiver: '12', line: '3', key: parseKey(KEY_HEX), now: () => clock.now() });
  closers.push(() => arc.close());
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-secrets-'));
  writeFileSync(join(dir, 'webhook.secret'), `${SECRET}\n`);
  process.env.LW_TEST_SMTP_PASSWORD = 'smtp-pass-1';
  process.env.LW_TEST_ARC_KEY = KEY_HEX;
  const retry = { timeout_s: 10, first_retry_s: 1, give_up_after_s: 30 };
  const t = await startTestHub({
    clock,
    config: {
      notifiers: {
        email: { host: '127.0.0.1', port: smtp.port, require_tls: false, username: 'lonewatch', password: 'env:LW_TEST_SMTP_PASSWORD', from: 'Lonewatch <alerts@example.org>', retry },
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
  const alerts: AlertMessage[] = [];
  t.hub.broker.aedes.subscribe(
    'lw/alerts/#',
    (packet, cb) => {
      alerts.push(JSON.parse(packet.payload.toString()) as AlertMessage);
      cb();
    },
    () => undefined,
  );
  return { t, clock, smtp, webhook, arc, fob, alerts };
}

describe('positions in the forwarding (issue 20)', () => {
  it('R5: an SOS with a fix: the alert, webhook, e-mail and DC-09 frame carry it; the hand-over has age, accuracy and links', async () => {
    const r = await rig();
    const t0 = r.clock.now();
    await r.fob.send({ i: '1-1', k: 'sos', ag: 0, l: { la: 53.4808, lo: -2.24263, ac: 9, fa: 20, s: 'g' } });
    const [alarm] = await r.t.alarms();
    const fixAt = new Date(t0 - 20_000).toISOString();
    const expected = { lat: 53.4808, lon: -2.24263, accuracyM: 9, fixAt, source: 'gnss' };

    await expect.poll(() => r.alerts.length, { timeout: 10_000 }).toBeGreaterThan(0);
    for (const a of r.alerts) {
      expect(alertSchema.safeParse(a).success).toBe(true);
      expect(a.position).toEqual(expected);
    }

    await expect.poll(() => r.webhook.accepted.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(r.webhook.accepted[0]!.verified).toBe(true);
    expect((r.webhook.accepted[0]!.json.alarm as Record<string, unknown>).position).toEqual(expected);

    await expect.poll(() => r.smtp.mails.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const mail = r.smtp.mails.find((m) => m.to[0] === 'duty@example.org')!;
    expect(mail.text).toContain('Last known position: 53.4808, -2.24263 (within 9 m, fix 20 s old');
    expect(mail.text).toContain('https://www.openstreetmap.org/?mlat=53.4808&mlon=-2.24263#map=18/53.4808/-2.24263');

    await expect.poll(() => r.arc.accepted.length, { timeout: 10_000 }).toBe(1);
    const frame = r.arc.accepted[0]!;
    expect(frame.encrypted).toBe(true);
    expect(frame.location).toEqual({ lon: -2.24263, lat: 53.4808, fixAt: t0 - 20_000 });

    // The police hand-over, a minute later: the same fix, 80 s old, with links a phone and a browser open.
    await r.t.advance(60_000);
    const officer = await userClient(r.t, 'dana', 'duty_officer');
    const h = await officer.get<{ position: Record<string, unknown>; positionWithheld: string | null }>(`/api/alarms/${alarm!.id}/handover`);
    expect(h.status).toBe(200);
    expect(h.body.position).toMatchObject({ ...expected, ageS: 80, age: '80 s', geoUri: 'geo:53.4808,-2.24263;u=9', osmUrl: expect.stringContaining('mlat=53.4808&mlon=-2.24263') });
    expect(h.body.positionWithheld).toBeNull();
    const audit = (await r.t.hub.store.listAudit(50)).filter((a) => a.action === 'position.view');
    expect(audit[0]).toMatchObject({ actor: 'user:dana', subject: 'worker:sam', detail: expect.objectContaining({ context: `police_handover:${alarm!.id}` }) });
  });

  it('an old fob (no fix): nothing is invented: no position in the alert or webhook, no X/Y blocks, the e-mail and hand-over say none', async () => {
    const r = await rig();
    await r.fob.send({ i: '1-1', k: 'sos', ag: 0 });
    const [alarm] = await r.t.alarms();
    await expect.poll(() => r.arc.accepted.length, { timeout: 10_000 }).toBe(1);
    expect(r.arc.accepted[0]).toMatchObject({ extended: [], location: null });
    await expect.poll(() => r.alerts.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(r.alerts.every((a) => a.position === null)).toBe(true);
    await expect.poll(() => r.webhook.accepted.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect((r.webhook.accepted[0]!.json.alarm as Record<string, unknown>).position).toBeNull();
    await expect.poll(() => r.smtp.mails.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(r.smtp.mails[0]!.text).toContain('Last known position: none');
    const officer = await userClient(r.t, 'dana', 'duty_officer');
    const h = await officer.get<{ position: unknown }>(`/api/alarms/${alarm!.id}/handover`);
    expect(h.body.position).toBeNull();
  });

  it('a fix after the first notice: 100 m away, one follow-up (6 120, new X/Y) the ARC ACKs; rate-limited; 3 m away nothing; nothing after the close', async () => {
    const r = await rig();
    const t0 = r.clock.now();
    await r.fob.send({ i: '1-1', k: 'sos', ag: 0, l: { la: 53.4808, lo: -2.24263, ac: 9, fa: 0, s: 'g' } });
    const [alarm] = await r.t.alarms();
    await expect.poll(() => r.arc.accepted.length, { timeout: 10_000 }).toBe(1);
    expect(r.arc.accepted[0]!.cid).toMatchObject({ qualifier: 1, code: 120 });
    expect(r.arc.accepted[0]!.location).toEqual({ lat: 53.4808, lon: -2.24263, fixAt: t0 });
    // Settled: the ingest has stored the fix and the dispatcher decided on it (a follow-up is stored before it is sent).
    const followUps = async (): Promise<number> => {
      await r.t.settle();
      return (await r.t.hub.store.read((tx) => tx.listNotices(alarm!.id))).filter((n) => n.event === 'position' && n.channel === 'arc').length;
    };

    // 100 m north 10 s later: within the rate limit, so nothing yet.
    await r.t.advance(10_000);
    await sendPosition(r.fob, { la: 53.4817, lo: -2.24263, ac: 8, fa: 0, s: 'g' });
    expect(await followUps()).toBe(0);
    expect(r.arc.frames.filter((f) => f.id === 'ADM-CID')).toHaveLength(1);

    // 100 m north again 40 s after the alert: one follow-up with the new X/Y and its fix time.
    await r.t.advance(30_000);
    const fix2At = r.clock.now();
    await sendPosition(r.fob, { la: 53.4817, lo: -2.24264, ac: 8, fa: 0, s: 'g' });
    await expect.poll(() => r.arc.accepted.length, { timeout: 10_000 }).toBe(2);
    const up = r.arc.accepted[1]!;
    expect(up.cid).toMatchObject({ account: '4321', qualifier: 6, code: 120, zone: 7 });
    expect(up.location).toEqual({ lat: 53.4817, lon: -2.24264, fixAt: fix2At });
    expect(up.seq).not.toBe(r.arc.accepted[0]!.seq);
    expect(await followUps()).toBe(1);
    // The webhook gets its own follow-up by the same rule (webhook-position.test.ts); these are the ARC's.
    const positionDeliveries = async () => (await r.t.timeline(alarm!.id)).filter((e) => e.type === 'delivery' && e.detail.event === 'position' && e.detail.channel === 'arc');
    await expect.poll(async () => (await positionDeliveries()).map((e) => e.detail.status), { timeout: 10_000 }).toEqual(['queued', 'delivered']);
    const deliveries = await positionDeliveries();
    expect(deliveries[1]!.detail).toMatchObject({ channel: 'arc', noticeId: `${alarm!.id}.position.${fix2At.toString(36)}.arc`, detail: expect.stringMatching(/^ACK seq \d{4} \(6120 \d{2} 007 Panic alarm \(status: new position\)\)$/) });

    // 3 m further, a minute later: not worth a message.
    await r.t.advance(60_000);
    await sendPosition(r.fob, { la: 53.48173, lo: -2.24264, ac: 8, fa: 0, s: 'g' });
    expect(await followUps()).toBe(1);
    expect(r.arc.frames.filter((f) => f.id === 'ADM-CID')).toHaveLength(2);

    // Closed: the restore, and a fix 200 m away after it sends nothing.
    await r.t.hub.runtime.alarmAction(alarm!.id, { type: 'acknowledge', by: 'user:dana' });
    await r.t.hub.runtime.alarmAction(alarm!.id, { type: 'resolve', by: 'user:dana', outcome: 'false_alarm', authority: 'taker' });
    await expect.poll(() => r.arc.accepted.length, { timeout: 10_000 }).toBe(3);
    expect(r.arc.accepted[2]!.cid).toMatchObject({ qualifier: 3, code: 120 });
    await r.t.advance(60_000);
    await sendPosition(r.fob, { la: 53.4835, lo: -2.24264, ac: 8, fa: 0, s: 'g' });
    expect(await followUps()).toBe(1);
    expect(r.arc.frames.filter((f) => f.id === 'ADM-CID')).toHaveLength(3);
  });
});

async function sendPosition(f: TestFob, payload: unknown): Promise<void> {
  await f.client.publishAsync(positionTopic(f.deviceId), JSON.stringify(payload), { qos: 1 });
}
