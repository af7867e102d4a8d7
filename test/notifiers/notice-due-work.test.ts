// A notice's wait for its next attempt is a `notice:<id>` row of the store's due work, fired by the
// hub's one due-work loop (issue 18), not a sleep of the dispatcher's own: it is in the database at
// the next-try time the timeline states, the attempt happens when the loop claims it, and the row is
// gone once the notice is delivered.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hub/clock.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { startTestHub } from '../helpers/hub-harness.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { TestWebhookReceiver } from '../helpers/notify-receivers.js';

const SECRET = 'whsec-due-work-0123456789';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

describe('notice retries as due work', () => {
  it('a refused webhook notice waits as notice:<id> due at its next-try time, and the loop sends the retry then', async () => {
    const down = await TestWebhookReceiver.start(SECRET, () => 0);
    const port = down.port;
    await down.close();
    const clock = new ManualClock();
    const t = await startTestHub({
      clock,
      config: { notifiers: { webhook: { url: `http://127.0.0.1:${port}/lonewatch`, secret: SECRET, retry: { timeout_s: 10, first_retry_s: 30, factor: 1, give_up_after_s: 3600 } } } },
    });
    closers.push(() => t.stop());
    await t.addWorker('sam', { name: 'Sam Carter' });
    const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
    const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
    closers.push(() => fob.close());
    await fob.send({ i: makeEventId(1, 1), k: 'sos', ag: 0 });
    const [alarm] = await t.alarms();

    const failedEntries = async () => (await t.timeline(alarm.id)).filter((e) => e.type === 'delivery' && e.actor === 'notifier:webhook' && e.detail.status === 'failed');
    await expect.poll(async () => (await failedEntries()).length).toBe(2);
    const ids = (await failedEntries()).map((e) => e.detail.noticeId as string).sort();
    const due = clock.now() + 30_000;
    await expect.poll(async () => (await t.hub.store.listWork('notice', 10)).map((w) => [w.key, w.dueAt])).toEqual(ids.map((id) => [id, due]));

    const up = await TestWebhookReceiver.start(SECRET, () => clock.now(), port);
    closers.push(() => up.close());
    await t.advance(29_000);
    expect(up.received).toHaveLength(0);
    await t.advance(1_000);
    await expect.poll(() => up.received.length).toBe(2);
    await t.hub.dispatcher!.idle();
    expect(up.received.map((r) => String(r.headers['idempotency-key'])).sort()).toEqual(ids);
    expect(await t.hub.store.listWork('notice', 10)).toEqual([]);
  });
});
