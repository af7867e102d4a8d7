/**
 * A hub that cannot start leaves nothing open behind it: the SQLite file it opened is closed (no file
 * descriptor, no -wal left), and what it had started (notifiers, broker, HTTP) is closed, so a
 * supervisor can retry in the same process, and the data directory can be moved or backed up.
 */
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-start-fail-'));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** File descriptors of this process open on the data directory's database (Linux). */
function dbFds(dataDir: string): string[] {
  if (!existsSync('/proc/self/fd')) return [];
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(join(dataDir, 'lonewatch.db'));
    } catch {
      return false;
    }
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

describe('a hub start that fails', () => {
  it('over an HTTP port in use (after the broker listens) closes the store and the broker', async () => {
    const busy: TestHub = await startTestHub({ manualClock: true });
    cleanup.push(() => busy.stop());
    const dataDir = tempDir();
    const mqttPort = await freePort();
    await expect(startTestHub({ manualClock: true, dataDir, config: { mqtt: { port: mqttPort }, http: { port: busy.hub.httpPort } } })).rejects.toThrow(/EADDRINUSE/);
    expect(existsSync(join(dataDir, 'lonewatch.db'))).toBe(true);
    expect(dbFds(dataDir)).toEqual([]);
    expect(existsSync(join(dataDir, 'lonewatch.db-wal'))).toBe(false);
    // The MQTT listener it had opened is closed again: the port can be taken.
    expect(await canListen(mqttPort)).toBe(true);
  });

  it('over an MQTT port in use closes the store, and the same data directory starts right after', async () => {
    const busy: TestHub = await startTestHub({ manualClock: true });
    cleanup.push(() => busy.stop());
    const dataDir = tempDir();
    await expect(startTestHub({ manualClock: true, dataDir, config: { mqtt: { port: busy.mqttPort } } })).rejects.toThrow(/EADDRINUSE/);
    expect(dbFds(dataDir)).toEqual([]);
    expect(existsSync(join(dataDir, 'lonewatch.db-wal'))).toBe(false);
    // Nothing of the failed start is in the way of the next one.
    const ok = await startTestHub({ manualClock: true, dataDir });
    cleanup.push(() => ok.stop());
    expect((await fetch(`${ok.httpUrl}/healthz`)).status).toBe(200);
  });
});
