/**
 * kill -9 the hub while a webhook notice waits for its retry (the receiver is down), restart it with
 * the receiver back up: the notice was stored before its first send, so the new process delivers it,
 * once per idempotency key, and records it. The hubs run in child processes on a ManualClock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { killHubChildren, startHubChild } from '../helpers/hub-child-process.js';
import { TEST_CONTACTS } from '../helpers/hub-harness.js';
import { TestWebhookReceiver } from '../helpers/notify-receivers.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { inStore } from '../helpers/store-file.js';

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);
const SECRET = 'whsec-kill-0123456789';
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  killHubChildren();
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

describe('hub restart after SIGKILL with a notice being retried', () => {
  it('the webhook notice is resumed and delivered once per idempotency key, and recorded', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-kill-notice-'));
    closers.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const dbPath = join(dataDir, 'lonewatch.db');
    const setup = new SqliteStore(dbPath);
    await setup.transaction(async (tx) => {
      for (const c of TEST_CONTACTS) await tx.upsertContact({ ...c, phone: null });
      await tx.upsertWorker({ id: 'w1', name: 'Sam', phone: null, homeAddress: null, medicalNotes: null, car: null, emergencyContacts: null, buddyId: null, lineManagerId: 'lm-1', trainingDate: '2026-01-01', newStarter: false, description: null });
    });
    const { secret } = await addDevice(setup, 'fob-1', { workerId: 'w1', now: T0 });
    await setup.close();

    // The receiver is down: its port is closed.
    const probe = await TestWebhookReceiver.start(SECRET, () => T0);
    const port = probe.port;
    await probe.close();
    const extra = {
      notifiers: { webhook: { url: `http://127.0.0.1:${port}/lonewatch`, secret: SECRET, retry: { timeout_s: 10, first_retry_s: 60, factor: 1, give_up_after_s: 3600 } } },
    };

    const first = await startHubChild(dataDir, T0, extra);
    const fob = await connectFob(`mqtt://127.0.0.1:${first.mqttPort}`, 'fob-1', secret);
    await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    await fob.close();
    // Both SOS levels' webhook notices fail (connection refused) and wait 60 s for their retry.
    const failedKeys = async () =>
      inStore(dbPath, async (s) => {
        const [alarm] = await s.read((tx) => tx.listAlarms({}));
        const timeline = alarm ? await s.read((tx) => tx.getTimeline(alarm.id)) : [];
        return timeline.filter((e) => e.type === 'delivery' && e.detail.status === 'failed').map((e) => e.detail.noticeId as string);
      });
    await expect.poll(async () => (await failedKeys()).length, { timeout: 60_000 }).toBe(2);
    const keys = (await failedKeys()).sort();

    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    const unfinished = await inStore(dbPath, (s) => s.unfinishedNotices());
    expect(unfinished.map((n) => [n.id, n.state, n.attempts, n.nextAttemptAt]).sort()).toEqual(keys.map((k) => [k, 'pending', 1, T0 + 60_000]));

    // The receiver is back; the hub restarts 10 s later.
    const up = await TestWebhookReceiver.start(SECRET, () => T0 + 120_000, port);
    closers.push(() => up.close());
    const second = await startHubChild(dataDir, T0 + 10_000, extra);
    await second.advance(0);
    expect(up.received).toHaveLength(0);
    await second.advance(50_000); // the retries' time (T0 + 60 s)
    await expect.poll(() => up.received.length, { timeout: 60_000 }).toBe(2);
    await expect.poll(async () => (await inStore(dbPath, (s) => s.unfinishedNotices())).length, { timeout: 60_000 }).toBe(0);
    await second.advance(30_000); // T0 + 90 s: before the SOS repeats at 2 minutes
    second.proc.kill('SIGKILL');
    await new Promise((r) => second.proc.once('exit', r));

    expect(up.accepted).toHaveLength(2);
    expect(up.received.map((r) => String(r.headers['idempotency-key'])).sort()).toEqual(keys);
    expect(up.received.every((r) => r.verified && r.json.attempt === 2)).toBe(true);
    const delivered = await inStore(dbPath, async (s) => {
      const [alarm] = await s.read((tx) => tx.listAlarms({}));
      const timeline = await s.read((tx) => tx.getTimeline(alarm.id));
      return timeline.filter((e) => e.type === 'delivery' && e.detail.status === 'delivered').map((e) => [e.detail.noticeId, e.detail.attempt, e.at]);
    });
    expect(delivered.sort()).toEqual(keys.map((k) => [k, 2, T0 + 60_000]));
  }, 120_000);
});
