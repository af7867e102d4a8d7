// The covert call-back falling due is on the record (issue 15 item 3): the hub writes one
// `callback_due` timeline entry at the due time on its own clock, none once the call-back is
// recorded, and re-arms pending call-backs after a restart. Real hub, real SQLite, manual clock.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { userClient } from './api-client.js';

const MIN = 60_000;
const hubs: TestHub[] = [];
afterEach(async () => {
  while (hubs.length) await hubs.pop()!.stop();
});

async function covertWithCallback(t: TestHub): Promise<string> {
  await t.addWorker('sam', { name: 'Sam Carter' });
  const { secret } = await t.addDevice('fob-1', { workerId: 'sam' });
  const fob = await connectFob(t.mqttUrl, 'fob-1', secret);
  await fob.send({ i: makeEventId(1, 1), k: 'cov', ag: 0 });
  await t.settle();
  await fob.close();
  const [alarm] = await t.alarms();
  const dana = await userClient(t, 'dana', 'duty_officer');
  const r = await dana.post<{ dueAt: number }>(`/api/alarms/${alarm!.id}/callback`, { action: 'start' });
  expect(r.body.dueAt).toBe(t.clock.now() + 5 * MIN);
  return alarm!.id;
}
const dueEntries = async (t: TestHub, id: string) => (await t.hub.store.read((tx) => tx.getTimeline(id))).filter((e) => e.type === 'callback_due');

describe('call-back due on the record', () => {
  it('one callback_due entry at the due time, by the hub; the board lists the due time', async () => {
    const t = await startTestHub({ manualClock: true });
    hubs.push(t);
    const id = await covertWithCallback(t);
    await t.advance(5 * MIN - 1000);
    expect(await dueEntries(t, id)).toHaveLength(0);
    await t.advance(1000);
    const due = await dueEntries(t, id);
    expect(due).toHaveLength(1);
    expect(due[0]).toMatchObject({ actor: 'hub', detail: { dueAt: due[0]!.at } });
    await t.advance(10 * MIN);
    expect(await dueEntries(t, id)).toHaveLength(1);
    const board = await (await userClient(t, 'dora', 'duty_officer')).get<{ alarms: { id: string; callbackDueAt: number | null }[] }>('/api/alarms?open=true');
    expect(board.body.alarms.find((a) => a.id === id)!.callbackDueAt).toBe(due[0]!.at);
  });

  it('none once the call-back is recorded as done', async () => {
    const t = await startTestHub({ manualClock: true });
    hubs.push(t);
    const id = await covertWithCallback(t);
    await (await userClient(t, 'dora', 'duty_officer')).post(`/api/alarms/${id}/callback`, { action: 'done' });
    await t.advance(6 * MIN);
    expect(await dueEntries(t, id)).toHaveLength(0);
  });

  it('a call-back pending when the hub restarts still falls due on the record', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lw-callback-'));
    const first = await startTestHub({ manualClock: true, dataDir });
    const id = await covertWithCallback(first);
    await first.advance(2 * MIN);
    await first.stop();
    const second = await startTestHub({ manualClock: true, dataDir });
    hubs.push(second);
    await second.settle();
    // The new hub's manual clock starts at the same instant as the first one did.
    await second.advance(5 * MIN);
    expect(await dueEntries(second, id)).toHaveLength(1);
  });
});
