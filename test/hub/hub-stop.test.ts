/**
 * Stopping the hub never hangs on a peer. A browser's spare connection that has not sent a request
 * yet, an MQTT connection that has not sent its CONNECT (over TCP or WebSocket), and a live-events
 * stream whose request was still being authenticated when the stop began all used to hold the stop
 * until a 60 s headers timeout or for ever. And a step that does wait on a peer (a request whose body
 * never finishes arriving) is bounded: forced after stopStepMs, with a warning naming it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Hub } from '../../hub/hub.js';
import { ManualClock } from '../../hub/clock.js';
import { startTestHub, testConfig } from '../helpers/hub-harness.js';
import { userClient } from '../dashboard/api-client.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function peer(port: number, send?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      if (send) s.write(send);
      resolve(s);
    });
    s.on('error', reject);
    cleanup.push(() => void s.destroy());
  });
}

/** How the stop ended: 'stopped' with its duration, or 'hung' after limitMs. */
async function timedStop(hub: Hub, limitMs: number): Promise<{ result: 'stopped' | 'hung'; ms: number }> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    hub.stop().then(() => 'stopped' as const),
    new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), limitMs))),
  ]).finally(() => clearTimeout(timer));
  return { result, ms: Date.now() - t0 };
}

const settleIo = () => new Promise((r) => setTimeout(r, 200));

describe('Hub.stop with peers that say nothing', () => {
  const WS_UPGRADE =
    'GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n';
  const cases: [string, 'http' | 'mqtt', string | undefined][] = [
    ['an HTTP connection with no request yet (a browser preconnect)', 'http', undefined],
    ['an HTTP request whose headers are not complete', 'http', 'GET /api/alarms HTTP/1.1\r\nHost: x\r\n'],
    ['an MQTT connection with no CONNECT', 'mqtt', undefined],
    ['a WebSocket upgraded for MQTT with no CONNECT', 'http', WS_UPGRADE],
  ];
  for (const [name, port, send] of cases) {
    it(`${name}: the stop is at once, not forced`, async () => {
      const t = await startTestHub({ manualClock: true });
      cleanup.push(() => t.stop());
      // The bound must not be what ends it.
      t.hub.stopStepMs = 20_000;
      await peer(port === 'http' ? t.hub.httpPort : t.hub.mqttPort, send);
      await settleIo();
      const { result, ms } = await timedStop(t.hub, 5000);
      expect(result).toBe('stopped');
      expect(ms).toBeLessThan(2000);
    });
  }

  it('a live-events stream authenticated after the stop has ended the streams is ended too', async () => {
    const t = await startTestHub({ manualClock: true });
    cleanup.push(() => t.stop());
    t.hub.stopStepMs = 20_000;
    const officer = await userClient(t, 'dana', 'duty_officer');
    // Hold the store so the request waits in authentication until the stop has reached the HTTP server.
    let release!: () => void;
    const held = t.hub.store.transaction(() => new Promise<void>((r) => (release = r)));
    const ctl = new AbortController();
    cleanup.push(() => ctl.abort());
    const stream = fetch(`${t.httpUrl}/api/events`, { headers: { cookie: officer.cookie! }, signal: ctl.signal });
    stream.catch(() => undefined);
    await settleIo();
    const stopping = timedStop(t.hub, 5000);
    await settleIo();
    release();
    await held;
    const { result } = await stopping;
    expect(result).toBe('stopped');
  });
});

describe('Hub.stop bounds a step that waits on a peer', () => {
  it('a request whose body never arrives: the HTTP server is forced after stopStepMs, with a warning naming it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lonewatch-stop-'));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const lines: { level: number; msg: string; step?: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    });
    const hub = await Hub.start({ config: testConfig(dataDir), log: pino({ level: 'warn' }, sink), clock: new ManualClock(), stopStepMs: 300 });
    cleanup.push(() => hub.stop());
    await peer(hub.httpPort, 'POST /api/auth/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user');
    await settleIo();
    const { result, ms } = await timedStop(hub, 10_000);
    expect(result).toBe('stopped');
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(3000);
    // Only the stop's own warnings (a default install also warns at start-up: no admin yet, policies
    // that reach nobody).
    const warned = lines.filter((l) => l.level === 40 && l.step !== undefined);
    expect(warned.map((l) => l.step)).toEqual(['http server']);
    expect(warned[0]!.msg).toMatch(/http server did not finish within 300 ms; dropping its connections/);
  });
});
