/**
 * Issue 14's done-when: "A refused connect is retried within seconds, and an alarm raised while the
 * hub is down reaches it within 15 s of the hub coming back." The emitted RAK5010 bundle on a
 * simulated board, its BG96 simulated with real TCP, against the REAL hub, which is stopped and
 * started again on the same port and data folder. Board time is virtual; the sockets are real, so
 * the board is advanced in small steps with real I/O between them.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
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

describe('RAK5010 bundle: the hub stopped and restarted', () => {
  it('R17: refused connects are retried within seconds, and an SOS raised meanwhile reaches the hub within 15 s of its return', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-restart-'));
    hub = await startTestHub({ dataDir });
    const port = hub.mqttPort;
    const { secret } = await hub.addDevice('rak-r', { workerId: 'w-r' });
    const r = new SimulatedRak(script, { 'lw.json': JSON.stringify({ id: 'rak-r', pw: secret, h: '127.0.0.1', p: port }) });
    rak = r;
    r.boot();
    const outbox = (): unknown[] => outboxEntries(r.storage);
    expect(await r.until(() => (hub!.hub.metrics().connectedFobs as number) > 0, 20_000)).toBe(true);
    expect(await r.until(() => outbox().length === 0, 10_000)).toBe(true);

    // The hub goes down. Every QIOPEN from now on is refused (nothing listens on the port).
    await hub.stop();
    hub = null;
    // Each open at the board-clock moment the modem executes it, whatever the test is doing then (an
    // open during the gesture below counted at the next poll looked like two opens 100 ms apart).
    const opensAt: number[] = [];
    r.modem.onCommand = (c) => {
      if (c.startsWith('AT+QIOPEN')) opensAt.push(r.board.clock.now());
    };
    await r.run(3000, 20);
    await r.gesture('H');
    expect(r.board.buzzerOnCount()).toBeGreaterThan(0);
    await r.run(60_000, 20);
    r.modem.onCommand = null;
    // Retried within seconds, every time: 2-3 s at first, never more than 9 s apart (the cap, 6 s
    // with up to x1.5 jitter), plus the modem's answer.
    expect(opensAt.length).toBeGreaterThanOrEqual(8);
    const gaps = opensAt.slice(1).map((t, i) => t - opensAt[i]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(9_500);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(2_000);
    // The SOS is still waiting in the outbox.
    expect(outbox().length).toBeGreaterThan(0);

    // The hub comes back on the same port, with the same data.
    hub = await startTestHub({ dataDir, config: { mqtt: { port } } });
    const back = r.board.clock.now();
    let arrived = false;
    while (!arrived && r.board.clock.now() - back < 30_000) {
      await r.run(100, 20);
      arrived = (await hub.alarms()).some((a) => a.kind === 'sos' && a.deviceId === 'rak-r');
    }
    expect(arrived).toBe(true);
    expect(r.board.clock.now() - back).toBeLessThanOrEqual(15_000);
    expect(await r.until(() => outbox().length === 0, 10_000)).toBe(true);
    expect(r.modem.refused).toEqual([]);
    expect(r.board.errors).toEqual([]);
  }, 120_000);
});
