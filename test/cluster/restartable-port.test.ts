/**
 * hub/cluster/restartable-port.ts: the local cluster's ports come from below the kernel's ephemeral
 * range, so a killed node's port is not handed to another process's connect() while it is down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { ephemeralLow, restartablePort } from '../../hub/cluster/restartable-port.js';

const held: Server[] = [];
afterEach(async () => {
  for (const s of held.splice(0)) await new Promise((r) => s.close(r));
});

describe('restartablePort', () => {
  it('reads where the ephemeral range starts, and falls back to 49152 where it cannot', () => {
    expect(ephemeralLow(() => '32768\t60999\n')).toBe(32768);
    expect(ephemeralLow(() => 'nonsense')).toBe(49152);
    expect(
      ephemeralLow(() => {
        throw new Error('no /proc');
      }),
    ).toBe(49152);
  });

  it('gives a bindable port at or above 10000 and below the ephemeral range', async () => {
    const port = await restartablePort();
    expect(port).toBeGreaterThanOrEqual(10_000);
    expect(port).toBeLessThan(ephemeralLow());
    const s = createServer();
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
    held.push(s);
  });

  it('skips a port that is taken', async () => {
    const taken = await restartablePort();
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(taken, '127.0.0.1', () => resolve()));
    held.push(s);
    // The first pick lands on the taken port, the next ones anywhere.
    const span = ephemeralLow() - 10_000;
    let calls = 0;
    const port = await restartablePort(() => (calls++ === 0 ? (taken - 10_000 + 0.5) / span : Math.random()));
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(port).not.toBe(taken);
  });
});
