// The CLI goes through the running hub (issue 18): the real `lonewatch` command, a real hub and a
// real fob over MQTT. The hub's polls (the device watch, the change feed) are set to a minute, so a
// fob dropped as the command returns can only have been dropped by the command itself.
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { controlSocketPath } from '../../hub/commands/control-server.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { revokeDevice } from '../../hub/admin/admin-service.js';
import { lonewatchOk } from '../helpers/cli-in-process.js';

const run = promisify(execFile);
const bin = new URL('../../bin/lonewatch.js', import.meta.url).pathname;
let t: TestHub | null = null;
const fobs: TestFob[] = [];

const cli = (...args: string[]) => run(process.execPath, [bin, ...args], { env: { ...process.env, LONEWATCH_DATA_DIR: t!.dataDir }, timeout: 90_000 });
/**
 * The same command run in this process (test/helpers/cli-in-process.ts), over the same control
 * socket: the first test below is the CLI as its own process through the hub; the others need no
 * Node and tsx start each to show what they show (issue 18).
 */
const cliHere = (...args: string[]) => lonewatchOk(args, { env: { ...process.env, LONEWATCH_DATA_DIR: t!.dataDir } });
const cliFail = (...args: string[]) =>
  cli(...args).then(
    () => {
      throw new Error('expected a failure');
    },
    (e: { code: number; stderr: string; stdout: string }) => e,
  );

/** One raw request on the control socket, as any local process could send. */
function raw(path: string, body: string): Promise<{ status: number; json: { result?: unknown; error?: { message: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: controlSocketPath(t!.dataDir), path, method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

afterEach(async () => {
  for (const f of fobs.splice(0)) await f.close().catch(() => undefined);
  await t?.stop();
  t = null;
});

const slowPolls = { mqtt: { device_check_ms: 60_000 }, feed: { poll_ms: 60_000 } };

describe('lonewatch devices|workers|visits with a hub running', () => {
  it('devices revoke goes through the running hub: the fob is dropped as the command returns, on the record and on the feed', async () => {
    t = await startTestHub({ config: slowPolls });
    const sock = controlSocketPath(t.dataDir);
    // Only the hub's own account may connect: the socket is the local admin credential.
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    const f = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    fobs.push(f);
    let closed = false;
    f.client.once('close', () => (closed = true));
    const before = await t.hub.store.lastChangeSeq();

    const out = await cli('devices', 'revoke', 'fob-a');
    expect(out.stdout).toBe('revoked fob-a (the running hub refuses it from now on and has dropped its connection, if it had one)\n');
    // Dropped by the time the CLI printed that: the broker closed it within the command.
    expect(t.hub.broker.counters.droppedRevoked).toBe(1);
    expect(t.hub.devices.isRevoked('fob-a')).toBe(true);
    await new Promise<void>((r) => (closed ? r() : f.client.once('close', () => r())));
    // The revocation, then the dropped connection (a fob's presence is on the feed: ingest/presence.ts).
    await expect
      .poll(async () => (await t!.hub.store.readChanges(before, 10)).map((c) => [c.topic, c.detail]))
      .toEqual([
        ['device', { deviceId: 'fob-a', change: 'revoked' }],
        ['device', { deviceId: 'fob-a', change: 'offline' }],
      ]);
    expect((await t.hub.store.listAudit(5)).find((e) => e.action === 'device.revoke')).toMatchObject({ subject: 'fob-a', actor: 'admin' });
    await expect(connectFob(t.mqttUrl, 'fob-a', a.secret)).rejects.toThrow(/Not authorized|Bad username or password/);

    // A refusal comes back as the same clear error as without a hub, and changes nothing.
    const again = await cliFail('devices', 'revoke', 'fob-a');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('lonewatch devices: device fob-a is already revoked\n');
    expect(await t.hub.store.readChanges(before, 10)).toHaveLength(2); // still only the revocation and the drop
  }, 120_000);

  it('workers add, devices add/list and visits import through the hub; the import steps the check-in rules at once', async () => {
    t = await startTestHub({ config: slowPolls });
    expect((await cliHere('workers', 'add', 'sam', '--name', 'Sam Carter', '--training-date', '2026-03-01')).stdout).toBe('saved worker sam\n');
    expect(await t.hub.store.read((tx) => tx.getWorker('sam'))).toMatchObject({ name: 'Sam Carter', trainingDate: '2026-03-01' });
    const added = JSON.parse((await cliHere('devices', 'add', 'fob-s', '--worker', 'sam', '--json')).stdout) as { deviceId: string; secret: string };
    // The secret the hub made works on the hub.
    fobs.push(await connectFob(t.mqttUrl, 'fob-s', added.secret));
    const list = JSON.parse((await cliHere('devices', 'list', '--json')).stdout) as Record<string, unknown>[];
    expect(list).toEqual([expect.objectContaining({ id: 'fob-s', workerId: 'sam', online: true })]);
    expect(list[0]).not.toHaveProperty('secretHash');

    const { writeFileSync } = await import('node:fs');
    const start = new Date(Date.now() + 3600_000).toISOString();
    const end = new Date(Date.now() + 7200_000).toISOString();
    const file = join(t.dataDir, 'visits.csv');
    writeFileSync(file, `worker,ref,start,end\nsam,V-1,${start},${end}\n`);
    expect(await t.hub.store.getWork('worker', 'sam')).toBeNull();
    expect((await cliHere('visits', 'import', file)).stdout).toBe('imported 1 visit(s)\n');
    // The hub stepped sam's check-in rules as it imported: the visit's start is armed, no restart.
    expect(await t.hub.store.getWork('worker', 'sam')).not.toBeNull();
    expect((await t.hub.store.readChanges(0, 100)).filter((c) => c.topic !== 'alarm').map((c) => [c.topic, c.detail.change])).toEqual([
      ['worker', 'added'],
      ['device', 'added'],
      ['device', 'online'],
      ['visit', 'imported'],
      // Stepping sam's rules changed sam's day (the visit's start is now due): the workers board hears of it.
      ['worker', 'day'],
    ]);
  }, 120_000);

  it('bad input on the control socket gets a clear error and changes nothing', async () => {
    t = await startTestHub({ config: slowPolls });
    await t.addDevice('fob-a', { workerId: 'w1' });
    const before = await t.hub.store.lastChangeSeq();
    const bad = await raw('/v1/revokeDevice', JSON.stringify([42]));
    expect(bad.status).toBe(400);
    expect(bad.json.error!.message).toMatch(/^bad arguments for revokeDevice: .*nothing was changed$/);
    const notJson = await raw('/v1/revokeDevice', '{');
    expect(notJson.status).toBe(400);
    const unknown = await raw('/v1/dropTables', '[]');
    expect(unknown.status).toBe(404);
    expect(await t.hub.store.read((tx) => tx.getDevice('fob-a'))).toMatchObject({ revokedAt: null });
    expect(await t.hub.store.lastChangeSeq()).toBe(before);
  });

  it('a revocation another process commits to the database (another hub node) reaches the hub from the change feed', async () => {
    // The device watch's own poll is a minute away: only the feed's poll (100 ms) can find it.
    t = await startTestHub({ config: { mqtt: { device_check_ms: 60_000 }, feed: { poll_ms: 100 } } });
    const a = await t.addDevice('fob-a', { workerId: 'w1' });
    const f = await connectFob(t.mqttUrl, 'fob-a', a.secret);
    fobs.push(f);
    const gone = new Promise<void>((r) => f.client.once('close', () => r()));
    const other = new SqliteStore(join(t.dataDir, 'lonewatch.db'));
    try {
      await revokeDevice(other, 'fob-a', Date.now(), 'node-2');
    } finally {
      await other.close();
    }
    await gone;
    expect(t.hub.broker.counters.droppedRevoked).toBe(1);
    expect(t.hub.devices.isRevoked('fob-a')).toBe(true);
  });

  it('with the hub stopped the socket is gone and the CLI writes the database itself, saying so', async () => {
    t = await startTestHub({ config: slowPolls });
    await t.addDevice('fob-a', { workerId: 'w1' });
    const dataDir = t.dataDir;
    await t.hub.stop();
    expect(existsSync(controlSocketPath(dataDir))).toBe(false);
    const out = await lonewatchOk(['devices', 'revoke', 'fob-a'], { env: { ...process.env, LONEWATCH_DATA_DIR: dataDir } });
    expect(out.stdout).toMatch(/^revoked fob-a \(no hub answered on its control socket: a hub refuses it from its next start/);
  }, 120_000);
});
