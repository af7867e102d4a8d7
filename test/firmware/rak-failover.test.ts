/**
 * Issue 19 (the cluster): "a fob is given every edge's address and fails over: try the next on
 * connect failure". The emitted RAK5010 bundle on a simulated board, its BG96 simulated with real
 * TCP, given three edges: the first refuses (nothing listens on its port, so the modem's QIOPEN
 * answers +QIOPEN: 0,566), the second is a real hub. The SOS must reach the second; when that
 * session drops, the fob moves on to the third (the next), not back to the first, as the companion
 * does (docs/cluster.md "Fob failover"). Board time is virtual, sockets real.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type vm from 'node:vm';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedRak } from '../../firmware/sim/rak-sim.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { outboxEntries } from '../../firmware/sim/outbox-files.js';

let script: vm.Script;
let hub: TestHub | null = null;
let rak: SimulatedRak | null = null;
let dataDir = '';

/** A loopback port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

beforeAll(async () => {
  const b = await cachedFirmwareBuild('rak5010');
  expect(b.problems).toEqual([]);
  script = SimulatedBoard.compile(b.code, 'rak5010.js');
});

afterEach(async () => {
  rak?.stop();
  await hub?.stop();
  hub = null;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('RAK5010 bundle: three edges, the first refusing', () => {
  it('issue 19: the SOS reaches the second edge; after that session drops the fob tries the next (third), not the first', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-failover-'));
    const dead = await freePort();
    const third = await freePort();
    hub = await startTestHub({ dataDir });
    const live = hub.mqttPort;
    const { secret } = await hub.addDevice('rak-f', { workerId: 'w-f' });
    const identity = { id: 'rak-f', pw: secret, h: '127.0.0.1', p: dead, hs: [['127.0.0.1', dead], ['127.0.0.1', live], ['127.0.0.1', third]] };
    const r = new SimulatedRak(script, { 'lw.json': JSON.stringify(identity) });
    rak = r;
    const opens = (): string[] => r.modem.commands.filter((c) => c.startsWith('AT+QIOPEN'));
    const port = (cmd: string): number => Number(/,(\d+),0,1$/.exec(cmd)![1]);
    r.boot();
    await r.gesture('H');
    expect(r.board.buzzerOnCount()).toBeGreaterThan(0);

    let arrived = false;
    while (!arrived && r.board.clock.now() < 30_000) {
      await r.run(100, 20);
      arrived = (await hub.alarms()).some((a) => a.kind === 'sos' && a.deviceId === 'rak-f');
    }
    expect(arrived).toBe(true);
    // The first open went to the first edge and was refused; the next went to the second, within
    // the jittered 2-3 s retry (plus the modem's answer), not after QIOPEN's 150 s.
    expect(opens().map(port).slice(0, 2)).toEqual([dead, live]);
    expect(r.board.clock.now()).toBeLessThanOrEqual(15_000);
    expect(await r.until(() => outboxEntries(r.storage).length === 0, 10_000)).toBe(true);

    // The second edge goes away; a hub (same data) now answers on the third edge's port. The dropped
    // session moves on to the next edge, the third, which accepts: the first (still refusing) is not
    // tried. Before, a dropped session went back to the first, and reached the third only after a
    // refused open and a doubled wait there.
    await hub.stop();
    hub = await startTestHub({ dataDir, config: { mqtt: { port: third } } });
    const before = opens().length;
    expect(await r.until(() => opens().length > before && (hub!.hub.metrics().connectedFobs as number) > 0, 30_000)).toBe(true);
    expect(opens().slice(before).map(port)).toEqual([third]);
    expect(r.modem.refused).toEqual([]);
    expect(r.board.errors).toEqual([]);
  }, 120_000);
});
