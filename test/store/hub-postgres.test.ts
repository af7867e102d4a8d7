// Issue 19: a real hub on the PostgreSQL store ([store] postgres_url): a fob's SOS over real MQTT is
// committed in PostgreSQL before its PUBACK, acknowledged, and a retry is stored once; the hub keeps
// nothing in a SQLite file.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type TestFob } from '../helpers/mqtt-fob.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { PostgresStore } from '../../hub/store/postgres-store.js';
import { requirePostgresOrSkip, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';

const available = requirePostgresOrSkip();

describe.skipIf(!available)('a hub on PostgreSQL', () => {
  let server: PostgresServer;
  let url: string;
  let t: TestHub | null = null;
  const fobs: TestFob[] = [];
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('lonewatch');
  });
  afterEach(async () => {
    for (const f of fobs.splice(0)) await f.close().catch(() => undefined);
    await t?.stop();
    t = null;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('R2, R19: takes an SOS over MQTT, commits it in PostgreSQL before the PUBACK, acknowledges it, stores a retry once', async () => {
    t = await startTestHub({ manualClock: true, config: { store: { postgres_url: url } } });
    expect(t.hub.store).toBeInstanceOf(PostgresStore);
    const { secret } = await t.addDevice('fob-pg', { workerId: 'sam' });
    const f = await connectFob(t.mqttUrl, 'fob-pg', secret);
    fobs.push(f);
    const id = makeEventId(1, 1);
    await f.send({ i: id, k: 'sos', ag: 0 });
    // The PUBACK has arrived: read PostgreSQL directly, on a connection of our own.
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const alarms = await c.query('SELECT kind, state, device_id, worker_id, source_event_id FROM alarms');
      expect(alarms.rows).toEqual([{ kind: 'sos', state: 'notifying', device_id: 'fob-pg', worker_id: 'sam', source_event_id: id }]);
      const events = await c.query('SELECT device_id, event_id, kind FROM fob_events');
      expect(events.rows).toEqual([{ device_id: 'fob-pg', event_id: id, kind: 'sos' }]);
      const ack = await f.waitFor((cmd) => cmd.k === 'ack');
      expect(ack).toEqual({ k: 'ack', i: id });
      const timeline = await c.query("SELECT type FROM alarm_timeline WHERE type <> 'delivery' ORDER BY seq");
      expect(timeline.rows.map((r) => r.type)).toEqual(['raised', 'notify', 'notify']);
      // The fob retries (its PUBACK was lost, say): acknowledged again, stored once.
      await f.send({ i: id, k: 'sos', ag: 3 });
      await expect.poll(() => f.commands.filter((cmd) => cmd.k === 'ack' && cmd.i === id).length).toBe(2);
      expect((await c.query('SELECT count(*)::int AS n FROM alarms')).rows[0].n).toBe(1);
      expect((await c.query('SELECT count(*)::int AS n FROM fob_events')).rows[0].n).toBe(1);
    } finally {
      await c.end();
    }
    expect(existsSync(join(t.dataDir, 'lonewatch.db'))).toBe(false);
  });

  it('the lonewatch CLI works on the same PostgreSQL while the hub runs: a fob it adds can connect, one it revokes is dropped', async () => {
    const cliUrl = await server.createDatabase('lonewatch_cli');
    t = await startTestHub({ config: { store: { postgres_url: cliUrl }, mqtt: { device_check_ms: 100 } } });
    const dir = mkdtempSync(join(tmpdir(), 'lw-pg-cli-'));
    try {
      const file = join(dir, 'lonewatch.toml');
      writeFileSync(file, `[hub]\ndata_dir = "${join(dir, 'data')}"\n\n[store]\npostgres_url = "${cliUrl}"\n`);
      const bin = new URL('../../bin/lonewatch.js', import.meta.url).pathname;
      const lw = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args, '-c', file], { cwd: dir, timeout: 90_000 });
      await lw('workers', 'add', 'sam', '--name', 'Sam Carter', '--training-date', '2026-01-01');
      const added = JSON.parse((await lw('devices', 'add', 'fob-cli', '--worker', 'sam', '--json')).stdout) as { secret: string };
      const f = await connectFob(t.mqttUrl, 'fob-cli', added.secret);
      fobs.push(f);
      const closed = new Promise<void>((r) => f.client.once('close', () => r()));
      await lw('devices', 'revoke', 'fob-cli');
      // The hub hears of the CLI's write through externalChangeCounter (store_writes) and drops the fob.
      await closed;
      expect((await t.hub.store.read((tx) => tx.getDevice('fob-cli')))?.revokedAt).not.toBeNull();
      expect(existsSync(join(dir, 'data', 'lonewatch.db'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('a hub whose PostgreSQL cannot be reached does not start, and says where it looked', async () => {
    const err = await startTestHub({ config: { store: { postgres_url: 'postgres://lonewatch@127.0.0.1:1/lonewatch' } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/cannot open the PostgreSQL store at 127\.0\.0\.1:1\/lonewatch \(store\.postgres_url\)/);
  });
});
