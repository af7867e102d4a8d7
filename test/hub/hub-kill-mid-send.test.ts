/**
 * kill -9 the hub while its webhook sends are in flight (the receiver took the requests and never
 * answered): no result is known, so nothing is recorded as failed or delivered. Each notice's due
 * work is then the guard its attempt wrote before sending, just past the send's time limit (issue
 * 18: the store is the only scheduler; no start-up re-run). The restarted hub sends nothing at
 * start-up, and makes the same attempt again (same number, same idempotency key) when the guard
 * falls due. The hubs run in child processes on a ManualClock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { ATTEMPT_GUARD_MS } from '../../hub/notifiers/dispatcher.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { killHubChildren, startHubChild } from '../helpers/hub-child-process.js';
import { TEST_CONTACTS } from '../helpers/hub-harness.js';
import { TestWebhookReceiver } from '../helpers/notify-receivers.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { inStore } from '../helpers/store-file.js';

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);
const SECRET = 'whsec-kill-mid-send-0123456789';
const TIMEOUT_S = 10;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  killHubChildren();
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

/** A receiver that reads each request and never answers it. */
async function hangingReceiver(): Promise<{ port: number; keys: string[]; close(): Promise<void> }> {
  const keys: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req) => {
    keys.push(String((req.headers as IncomingHttpHeaders)['idempotency-key'] ?? ''));
    req.resume();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    keys,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('hub restart after SIGKILL with notices mid-send', () => {
  it('no result is recorded; the restarted hub sends nothing at start-up and makes the same attempt again when its guard row falls due', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-kill-mid-send-'));
    closers.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const dbPath = join(dataDir, 'lonewatch.db');
    const setup = new SqliteStore(dbPath);
    await setup.transaction(async (tx) => {
      for (const c of TEST_CONTACTS) await tx.upsertContact({ ...c, phone: null });
      await tx.upsertWorker({ id: 'w1', name: 'Sam', phone: null, homeAddress: null, medicalNotes: null, car: null, emergencyContacts: null, buddyId: null, lineManagerId: 'lm-1', trainingDate: '2026-01-01', newStarter: false, description: null });
    });
    const { secret } = await addDevice(setup, 'fob-1', { workerId: 'w1', now: T0 });
    await setup.close();

    const hang = await hangingReceiver();
    closers.push(() => hang.close());
    const extra = {
      notifiers: { webhook: { url: `http://127.0.0.1:${hang.port}/lonewatch`, secret: SECRET, retry: { timeout_s: TIMEOUT_S, first_retry_s: 60, factor: 1, give_up_after_s: 3600 } } },
    };

    const first = await startHubChild(dataDir, T0, extra);
    const fob = await connectFob(`mqtt://127.0.0.1:${first.mqttPort}`, 'fob-1', secret);
    await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    await fob.close();
    // Both SOS levels' webhook notices are being sent: the receiver holds both requests.
    await expect.poll(() => hang.keys.length, { timeout: 60_000 }).toBe(2);
    const keys = [...hang.keys].sort();
    const guard = T0 + TIMEOUT_S * 1000 + ATTEMPT_GUARD_MS;
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    await hang.close();

    const left = await inStore(dbPath, async (s) => {
      const [alarm] = await s.read((tx) => tx.listAlarms({}));
      const timeline = await s.read((tx) => tx.getTimeline(alarm.id));
      const work = await s.listWork('notice', 10);
      return { results: timeline.filter((e) => e.type === 'delivery' && e.actor === 'notifier:webhook' && e.detail.status !== 'queued'), work: work.map((w) => [w.key, w.dueAt]).sort(), notices: (await s.unfinishedNotices()).map((n) => [n.id, n.state, n.attempts]).sort() };
    });
    // Nothing claims a result that is not known.
    expect(left.results).toEqual([]);
    expect(left.notices).toEqual(keys.map((k) => [k, 'pending', 0]));
    expect(left.work).toEqual(keys.map((k) => [k, guard]));

    // The receiver is back on its address; the hub restarts 2 s after the SOS.
    const up = await TestWebhookReceiver.start(SECRET, () => T0 + 60_000, hang.port);
    closers.push(() => up.close());
    const second = await startHubChild(dataDir, T0 + 2000, extra);
    await second.advance(0);
    expect(up.received).toHaveLength(0);
    await second.advance(guard - (T0 + 2000) - 1);
    expect(up.received).toHaveLength(0);
    await second.advance(1);
    await expect.poll(() => up.received.length, { timeout: 60_000 }).toBe(2);
    await expect.poll(async () => (await inStore(dbPath, (s) => s.unfinishedNotices())).length, { timeout: 60_000 }).toBe(0);
    second.proc.kill('SIGKILL');
    await new Promise((r) => second.proc.once('exit', r));

    expect(up.received.map((r) => String(r.headers['idempotency-key'])).sort()).toEqual(keys);
    // The attempt a kill cut short is made again with its number: no result was known for it.
    expect(up.received.every((r) => r.verified && r.json.attempt === 1)).toBe(true);
    const delivered = await inStore(dbPath, async (s) => {
      const [alarm] = await s.read((tx) => tx.listAlarms({}));
      const timeline = await s.read((tx) => tx.getTimeline(alarm.id));
      return timeline.filter((e) => e.type === 'delivery' && e.detail.status === 'delivered').map((e) => [e.detail.noticeId, e.detail.attempt, e.at]);
    });
    expect(delivered.sort()).toEqual(keys.map((k) => [k, 1, guard]));
    expect(await inStore(dbPath, (s) => s.listWork('notice', 10))).toEqual([]);
  });
});
