/**
 * Issue 16 (SMS, HTTP gateway path): a real HTTP gateway server in the test takes the hub's POST (bearer
 * token, JSON), answers with its message id, and later calls the hub's delivery callback, which
 * authenticates with its own token. The hub is real; time is its ManualClock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage } from 'node:http';
import { ManualClock } from '../../hub/clock.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hub } from '../../hub/hub.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { startTestHub, TEST_CONTACTS, type TestHub } from '../helpers/hub-harness.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { SMS_CALLBACK_PATH } from '../../hub/notifiers/create-dispatcher.js';
import type { StoredTimelineEntry } from '../../hub/store/store-types.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  // The files share a worker process (vitest.config.ts isolate: false): the next file must not find this secret.
  delete process.env.LW_TEST_SMS_TOKEN;
  delete process.env.LW_TEST_SMS_CALLBACK;
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

const TOKEN = 'gw-token-0123456789';
const CALLBACK = 'cb-token-9876543210';

interface GatewayRequest {
  headers: IncomingMessage['headers'];
  body: { to: string; text: string; reference: string; callbackUrl: string };
}

/** A small SMS gateway: checks the bearer token, keeps each request, answers 202 {"id": "gw-N"} (or `statuses`). */
async function startGateway(): Promise<{ url: string; requests: GatewayRequest[]; statuses: number[]; close(): Promise<void> }> {
  const requests: GatewayRequest[] = [];
  const statuses: number[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401).end('bad token');
        return;
      }
      const status = statuses.shift() ?? 202;
      if (status !== 202) {
        res.writeHead(status, { 'content-type': 'text/plain' }).end('number not allowed');
        return;
      }
      requests.push({ headers: req.headers, body: JSON.parse(raw) });
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `gw-${requests.length}` }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/v1/sms`, requests, statuses, close: () => new Promise((r) => server.close(() => r())) };
}

async function rig(opts: { statuses?: number[]; dataDir?: string; clock?: ManualClock } = {}): Promise<{ t: TestHub; gw: Awaited<ReturnType<typeof startGateway>>; sms(alarmId: string): Promise<StoredTimelineEntry[]>; alarmId: string }> {
  const gw = await startGateway();
  closers.push(() => gw.close());
  gw.statuses.push(...(opts.statuses ?? []));
  process.env.LW_TEST_SMS_TOKEN = TOKEN;
  process.env.LW_TEST_SMS_CALLBACK = CALLBACK;
  const t = await startTestHub({
    clock: opts.clock ?? new ManualClock(),
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    config: {
      contacts: TEST_CONTACTS.map((c) => (c.id === 'do-1' ? { ...c, phone: '07700 900987' } : c)),
      policies: {
        sos: { mode: 'step', levels: [{ name: 'duty officer by SMS', targets: ['duty_officer'], channels: ['dashboard', 'sms'], delay_min: 10 }] },
        missed_checkin: { mode: 'step', levels: [{ name: 'x', targets: ['duty_officer'], channels: ['dashboard'], delay_min: 5 }] },
        device_health: { mode: 'step', levels: [{ name: 'x', targets: ['duty_officer'], channels: ['dashboard'], delay_min: 5 }] },
      },
      notifiers: { sms: { gateway: { url: gw.url, token: 'env:LW_TEST_SMS_TOKEN', callback_token: 'env:LW_TEST_SMS_CALLBACK' }, retry: { timeout_s: 10, first_retry_s: 1, give_up_after_s: 5 } } },
    },
  });
  closers.push(() => t.stop());
  await t.addWorker('sam', { name: 'Sam Carter' });
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
  closers.push(() => fob.close());
  await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
  const [alarm] = await t.alarms();
  return { t, gw, alarmId: alarm.id, sms: async (id) => (await t.timeline(id)).filter((e) => e.type === 'delivery' && e.detail.channel === 'sms') };
}

const callback = (t: TestHub, body: unknown, token = CALLBACK) =>
  fetch(`${t.httpUrl}${SMS_CALLBACK_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

describe('SMS through an HTTP gateway', () => {
  it('posts the SMS with the bearer token, records sent, and the gateway callback records delivered', async () => {
    const r = await rig();
    await expect.poll(async () => (await r.sms(r.alarmId)).map((e) => e.detail.status), { timeout: 10_000 }).toEqual(['queued', 'sent']);
    expect(r.gw.requests).toHaveLength(1);
    const [req] = r.gw.requests;
    expect(req.body.to).toBe('07700900987');
    expect(req.body.text.startsWith('LONEWATCH SOS alarm: Sam Carter')).toBe(true);
    expect(req.body.text.length).toBeLessThanOrEqual(160);
    expect(req.body.callbackUrl).toBe(`http://127.0.0.1:8080${SMS_CALLBACK_PATH}`);
    expect(req.headers['idempotency-key']).toBe(req.body.reference);
    expect((await r.sms(r.alarmId))[1].detail).toMatchObject({ status: 'sent', address: '***987', detail: 'the SMS gateway took it (HTTP 202, id gw-1); waiting for the delivery report' });

    // Bad callbacks change nothing.
    expect((await callback(r.t, { messageId: 'gw-1', status: 'delivered' }, 'wrong-token')).status).toBe(401);
    const bad = await callback(r.t, { status: 'delivered' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^messageId: /);
    const unknown = await callback(r.t, { messageId: 'gw-999', status: 'delivered' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toBe('no SMS with id gw-999 is waiting for a delivery report here');
    // A state on the way is noted, not recorded.
    expect(await (await callback(r.t, { messageId: 'gw-1', status: 'sent_to_network' })).json()).toEqual({ ok: true, recorded: false });
    expect((await r.sms(r.alarmId)).map((e) => e.detail.status)).toEqual(['queued', 'sent']);

    const ok = await callback(r.t, { messageId: 'gw-1', status: 'delivered' });
    expect(await ok.json()).toEqual({ ok: true, recorded: true });
    await expect.poll(async () => (await r.sms(r.alarmId)).map((e) => e.detail.status)).toEqual(['queued', 'sent', 'delivered']);
    expect((await r.sms(r.alarmId))[2].detail).toMatchObject({ status: 'delivered', recipientId: 'do-1', address: '***987', report: true, detail: 'the SMS gateway reports it delivered (id gw-1)' });
    // Reported once: a repeat of the same callback finds nothing waiting.
    expect((await callback(r.t, { messageId: 'gw-1', status: 'delivered' })).status).toBe(404);
  });

  it('a gateway callback saying it failed is recorded as failed with the gateway\'s reason, and the ladder is told', async () => {
    const r = await rig();
    await expect.poll(async () => (await r.sms(r.alarmId)).map((e) => e.detail.status), { timeout: 10_000 }).toEqual(['queued', 'sent']);
    await callback(r.t, { messageId: 'gw-1', status: 'failed', reason: 'handset unreachable' });
    await expect.poll(async () => (await r.sms(r.alarmId)).at(-1)?.detail).toMatchObject({
      status: 'failed',
      reason: 'NOT delivered: the SMS gateway reports it failed (id gw-1): handset unreachable',
      gaveUp: true,
    });
    // No fallback reached Dana: the ladder is told the level could not be reached.
    await expect.poll(async () => (await r.t.timeline(r.alarmId)).find((e) => e.type === 'undeliverable')?.detail).toMatchObject({ level: 0, recipientId: 'do-1' });
  });

  it('a gateway that refuses the number (HTTP 400) is failed at once with its answer, not retried', async () => {
    const r = await rig({ statuses: [400] });
    await expect.poll(async () => (await r.sms(r.alarmId)).map((e) => e.detail.status), { timeout: 10_000 }).toEqual(['queued', 'failed']);
    expect((await r.sms(r.alarmId))[1].detail).toMatchObject({ retryable: false, gaveUp: true, reason: 'the SMS gateway answered HTTP 400: number not allowed' });
    expect(r.gw.requests).toEqual([]);
  });

  it('a delivery callback after the hub restarted is matched to the SMS by its id and recorded', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-sms-'));
    const clock = new ManualClock();
    const r = await rig({ dataDir, clock });
    await expect.poll(async () => (await r.sms(r.alarmId)).map((e) => e.detail.status), { timeout: 10_000 }).toEqual(['queued', 'sent']);
    const config = r.t.hub.config;
    await r.t.hub.stop();
    // The same config and data folder: a restart of the hub.
    const hub = await Hub.start({ config, clock });
    closers.push(() => hub.stop());
    const url = `http://127.0.0.1:${hub.httpPort}${SMS_CALLBACK_PATH}`;
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLBACK}` }, body: JSON.stringify(body) });
    expect(await (await post({ messageId: 'gw-1', status: 'delivered' })).json()).toEqual({ ok: true, recorded: true });
    const sms = async () => (await hub.store.read((tx) => tx.getTimeline(r.alarmId))).filter((e) => e.type === 'delivery' && e.detail.channel === 'sms');
    await expect.poll(async () => (await sms()).map((e) => e.detail.status)).toEqual(['queued', 'sent', 'delivered']);
    expect((await sms())[2].detail).toMatchObject({ recipientId: 'do-1', recipientName: 'Dana Duty', address: '***987', report: true });
    // Once: the same callback again finds nothing waiting.
    expect((await post({ messageId: 'gw-1', status: 'delivered' })).status).toBe(404);
  });
});
