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
import { connectFob } from '../helpers/mqtt-fob.js';
import { Dc09Receiver } from '../helpers/dc09-receiver.js';
import { TestSmtpServer, TestWebhookReceiver } from '../helpers/notify-receivers.js';
import { userClient } from '../dashboard/api-client.js';

const KEY_HEX = '00112233445566778899AABBCCDDEEFF';
const SECRET = 'whsec-test-0123456789';
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
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
  it('an SOS with a fix: the alert, webhook, e-mail and DC-09 frame carry it; the hand-over has age, accuracy and links', async () => {
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
});
