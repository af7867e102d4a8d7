/**
 * Issue 16, point 5: drills cannot contaminate real alarms. A drill- fob can only belong to a drill-
 * worker (the CLI, the admin service behind the API, and the store all refuse it), and a missed
 * check-in takes its drill-ness from the worker, never from a drill fob the worker also holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addDevice, AdminError, assignDevice } from '../../hub/admin/admin-service.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { lonewatchOk } from '../helpers/cli-in-process.js';

const MIN = 60_000;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('drill fobs belong to drill workers only', () => {
  it('the CLI refuses a drill fob for a real worker, with the reason, and accepts it for a drill worker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lonewatch-drill-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { ...process.env, LONEWATCH_DATA_DIR: join(dir, 'data') };
    // The real commands, in this process (test/helpers/cli-in-process.ts; test/cli.test.ts spawns the
    // CLI); rejected with the exit code and stderr on a failure, as a child's would be.
    const lw = (...args: string[]) => lonewatchOk(args, { cwd: dir, env });
    await lw('workers', 'add', 'sam', '--name', 'Sam Carter');
    await lw('workers', 'add', 'drill-sam', '--name', 'Drill Sam');
    const refused = await lw('devices', 'add', 'drill-1', '--worker', 'sam').then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toMatch(/a drill fob \(drill-1\) can only belong to a drill worker/);
    const ok = await lw('devices', 'add', 'drill-1', '--worker', 'drill-sam');
    expect(ok.stdout).toContain('drill-1');
    const assign = await lw('devices', 'assign', 'drill-1', '--worker', 'sam').then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(assign?.stderr).toMatch(/can only belong to a drill worker/);
    // Nothing changed: the fob is still the drill worker's.
    const store = new SqliteStore(join(dir, 'data', 'lonewatch.db'));
    closers.push(() => store.close());
    expect((await store.read((tx) => tx.getDevice('drill-1')))?.workerId).toBe('drill-sam');
  });

  it('the admin service (behind the API) says 400 with the reason; the store refuses it underneath', async () => {
    const t = await startTestHub();
    closers.push(() => t.stop());
    await t.addWorker('sam');
    const err = await addDevice(t.hub.store, 'drill-2', { workerId: 'sam', now: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(AdminError);
    expect(err.status).toBe(400);
    await addDevice(t.hub.store, 'drill-3', { workerId: null, now: 0 });
    await expect(assignDevice(t.hub.store, 'drill-3', 'sam')).rejects.toThrow(/drill worker/);
    await expect(t.hub.store.transaction((tx) => tx.updateDevice('drill-3', { workerId: 'sam' }))).rejects.toThrow(/drill worker/);
    expect((await t.hub.store.read((tx) => tx.getDevice('drill-3')))?.workerId).toBeNull();
  });

  it('a real worker who still holds a drill fob from before: a missed check-in is a real alarm on the real fob', async () => {
    const t: TestHub = await startTestHub({ manualClock: true });
    closers.push(() => t.stop());
    await t.addWorker('w1', { name: 'Wendy' });
    const { secret } = await t.addDevice('fob-1', { workerId: 'w1' });
    // Data from before the rule: written past the store's guard, as an old database would hold it.
    (t.hub.store as SqliteStore).db
      .prepare('INSERT INTO devices (id, worker_id, secret_hash, created_at, online) VALUES (?, ?, ?, ?, 0)')
      .run('drill-old', 'w1', 'x', 0);
    const f = await connectFob(t.mqttUrl, 'fob-1', secret);
    closers.push(() => f.close());
    await t.addVisit({ workerId: 'w1', ref: 'V-1', expectedEnd: t.clock.now() + 120 * MIN, checkinIntervalMin: 30 });
    await f.send({ i: makeEventId(1, 1), k: 'vs', ag: 0 });
    await t.settle();
    await t.advance(36 * MIN);
    const [alarm] = await t.alarms();
    expect(alarm).toMatchObject({ kind: 'missed_checkin', workerId: 'w1', deviceId: 'fob-1', drill: false });
  });
});
