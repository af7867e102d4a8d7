/**
 * The pure parts of the hub's bounds: the MQTT fixed-header scanner (MQTT 3.1.1 §2.2.3), the
 * unauthenticated-connection gate and the per-source log limiter (on a ManualClock, no sleeps).
 */
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import { PacketScanner } from '../../hub/broker/packet-scanner.js';
import { ConnectionGate, normaliseAddress } from '../../hub/broker/connection-gate.js';
import { RateLimitedLog, OTHER_SOURCES } from '../../hub/rate-limited-log.js';
import { ManualClock } from '../../hub/clock.js';

/** §2.2.3 encoding, written out here independently of the scanner. */
function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}
const packet = (type: number, bodyLength: number) => Buffer.from([type << 4, ...remainingLength(bodyLength), ...new Array<number>(bodyLength).fill(0)]);

describe('PacketScanner', () => {
  const limits = { connectMaxBytes: 100, packetMaxBytes: 300 };

  it('passes packets within their limits, split across chunks at any byte', () => {
    const stream = Buffer.concat([packet(1, 90), packet(3, 250), packet(12, 0), packet(3, 200)]);
    for (const cut of [1, 2, 3, 7, 93, 94, 95, 300]) {
      const s = new PacketScanner(limits);
      expect(s.feed(stream.subarray(0, cut))).toBeNull();
      expect(s.feed(stream.subarray(cut))).toBeNull();
      expect(s.packets).toBe(4);
      expect(s.bytesSeen).toBe(stream.length);
    }
  });

  it('refuses a CONNECT claiming 64 MB from its 5 header bytes, before any body', () => {
    const s = new PacketScanner(limits);
    const header = Buffer.from([0x10, ...remainingLength(64 * 1024 * 1024)]);
    expect(header.length).toBe(5);
    const v = s.feed(Buffer.concat([header, Buffer.alloc(10_000)]));
    expect(v).toMatchObject({ code: 'connect_too_large', limit: 100 });
    expect(s.bytesSeen).toBeLessThanOrEqual(5);
  });

  it('applies the CONNECT limit to the first packet and the packet limit after it', () => {
    const s = new PacketScanner(limits);
    expect(s.feed(packet(1, 97))).toBeNull(); // 1 + 1 + 97 = 99 bytes
    expect(s.connectComplete).toBe(true);
    expect(s.feed(packet(3, 296))).toBeNull(); // 1 + 2 + 296 = 299
    expect(s.feed(Buffer.from([0x30, ...remainingLength(298)]))).toMatchObject({ code: 'packet_too_large', packetType: 3, claimedBytes: 301, limit: 300 });
    expect(new PacketScanner(limits).feed(packet(1, 99))).toMatchObject({ code: 'connect_too_large', claimedBytes: 101 });
  });

  it('refuses a first packet that is not CONNECT (MQTT-3.1.0-1) and a length of more than 4 bytes', () => {
    expect(new PacketScanner(limits).feed(packet(3, 5))).toMatchObject({ code: 'first_packet_not_connect', packetType: 3 });
    const s = new PacketScanner({ connectMaxBytes: 1 << 30, packetMaxBytes: 1 << 30 });
    expect(s.feed(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80]))).toMatchObject({ code: 'malformed_length' });
  });

  it('is not fooled by a non-minimal length encoding (0x80 0x00 is zero)', () => {
    const s = new PacketScanner(limits);
    expect(s.feed(Buffer.from([0x10, 0x80, 0x00]))).toBeNull();
    expect(s.packets).toBe(1);
  });
});

describe('ConnectionGate', () => {
  it('caps per address and in all, and gives a place back exactly once', () => {
    const g = new ConnectionGate({ perAddress: 2, total: 3 });
    const a1 = g.admit('10.0.0.1');
    const a2 = g.admit('10.0.0.1');
    expect(g.admit('10.0.0.1')).toEqual({ refused: 'per_address', limit: 2 });
    const b1 = g.admit('10.0.0.2');
    expect(g.admit('10.0.0.3')).toEqual({ refused: 'total', limit: 3 });
    if ('refused' in a1 || 'refused' in a2 || 'refused' in b1) throw new Error('should have been admitted');
    a1.release();
    a1.release();
    expect(g.pending).toBe(2);
    expect(g.pendingFrom('10.0.0.1')).toBe(1);
    expect('refused' in g.admit('10.0.0.3')).toBe(false);
    expect(normaliseAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
  });
});

function capture() {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: pino({ level: 'info' }, dest) };
}
const flushed = () => new Promise((r) => setImmediate(r));

describe('RateLimitedLog', () => {
  it('writes a few lines per source per window, then one count when the window closes', async () => {
    const clock = new ManualClock();
    const { lines, log } = capture();
    const rl = new RateLimitedLog(log, clock, { perWindow: 3, windowMs: 10_000 });
    for (let i = 0; i < 1237; i++) rl.warn('fob-001', { deviceId: 'fob-001', n: i }, 'event rejected: bad');
    rl.warn('fob-002', { deviceId: 'fob-002' }, 'event rejected: bad');
    await flushed();
    expect(lines.map((l) => l.deviceId)).toEqual(['fob-001', 'fob-001', 'fob-001', 'fob-002']);
    clock.advance(10_000);
    await flushed();
    expect(lines).toHaveLength(5);
    expect(lines[4]).toMatchObject({ deviceId: 'fob-001', suppressed: 1234, msg: '1,234 more like this from fob-001 in the last 10 s' });
    // A new window: lines again.
    rl.warn('fob-001', { deviceId: 'fob-001' }, 'event rejected: bad');
    await flushed();
    expect(lines).toHaveLength(6);
    expect(rl.trackedSources).toBe(2);
  });

  it('keeps its table bounded: sources past the limit share one bucket', async () => {
    const clock = new ManualClock();
    const { lines, log } = capture();
    const rl = new RateLimitedLog(log, clock, { perWindow: 1, windowMs: 1000, maxSources: 10 });
    for (let i = 0; i < 5000; i++) rl.warn(`addr-${i}`, { address: `addr-${i}` }, 'refused');
    expect(rl.trackedSources).toBe(11);
    clock.advance(1000);
    await flushed();
    expect(lines).toHaveLength(12);
    expect(lines.at(-1)).toMatchObject({ suppressed: 4989, msg: `4,989 more like this from ${OTHER_SOURCES} in the last 1 s` });
    // Windows that ended make room again for sources of their own.
    rl.warn('addr-new', { address: 'addr-new' }, 'refused');
    await flushed();
    expect(lines.at(-1)).toMatchObject({ address: 'addr-new', msg: 'refused' });
    expect(rl.trackedSources).toBe(1);
  });
});
