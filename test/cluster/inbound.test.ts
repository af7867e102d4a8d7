// The stream's message format (hub/cluster/inbound.ts), pure: what an edge encodes a worker decodes
// unchanged; anything else is refused with the header at fault; command subjects name one device.
import { describe, expect, it } from 'vitest';
import { headers } from '@nats-io/transport-node';
import { partitionConsumer, partitionFilter, partitionOf, fnv1a32 } from '../../hub/cluster/partition.js';
import { decodeInbound, deviceOfCommandSubject, encodeInbound, InboundFormatError, inboundSubject } from '../../hub/cluster/inbound.js';

describe('inbound messages', () => {
  it('round-trips the payload bytes and the edge headers', () => {
    const payload = Buffer.from([0x7b, 0xff, 0x00, 0x7d]);
    const m = encodeInbound({ deviceId: 'fob-1', leaf: 'ev', payload, receivedAt: 1_772_445_600_000, edgeId: 'edge-a' });
    const back = decodeInbound(m.headers, m.data);
    expect(back).toEqual({ deviceId: 'fob-1', leaf: 'ev', payload, receivedAt: 1_772_445_600_000, edgeId: 'edge-a' });
    expect(inboundSubject('lw.in', 16, 'fob-1', 'ev')).toBe(`lw.in.p${partitionOf('fob-1', 16)}.fob-1.ev`);
    expect(inboundSubject('lw.in', 1, 'fob-1', 'ev')).toBe('lw.in.p0.fob-1.ev');
  });

  it.each([
    ['no headers', undefined, /no Lw- headers/],
    ['a bad device id', { 'Lw-Device': 'a.b', 'Lw-Leaf': 'ev', 'Lw-Received-At': '1' }, /Lw-Device/],
    ['a bad leaf', { 'Lw-Device': 'fob-1', 'Lw-Leaf': 'e v', 'Lw-Received-At': '1' }, /Lw-Leaf/],
    ['a bad time', { 'Lw-Device': 'fob-1', 'Lw-Leaf': 'ev', 'Lw-Received-At': 'soon' }, /Lw-Received-At/],
  ])('refuses %s, naming the header', (_what, given, why) => {
    let h: ReturnType<typeof headers> | undefined;
    if (given) {
      h = headers();
      for (const [k, v] of Object.entries(given)) h.set(k, v);
    }
    expect(() => decodeInbound(h, new Uint8Array())).toThrow(InboundFormatError);
    expect(() => decodeInbound(h, new Uint8Array())).toThrow(why);
  });

  it('puts each device in one partition, stable and spread (edges and workers compute the same one)', () => {
    // FNV-1a 32-bit reference values (the published test vectors: "" and "a").
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 1600; i++) {
      const p = partitionOf(`fob-${i}`, 16);
      expect(p).toBe(partitionOf(`fob-${i}`, 16));
      counts[p]!++;
    }
    // Every partition gets a share (a hash that put them all in one would serialise the fleet).
    for (const n of counts) expect(n).toBeGreaterThan(50);
    expect(partitionFilter('lw.in', 3)).toBe('lw.in.p3.>');
    expect(partitionConsumer('lw-workers', 3)).toBe('lw-workers-p3');
    expect(() => partitionOf('fob-1', 0)).toThrow(/at least 1/);
  });

  it('reads the device of a command subject, and nothing else', () => {
    expect(deviceOfCommandSubject('lw.cmd', 'lw.cmd.fob-1')).toBe('fob-1');
    expect(deviceOfCommandSubject('lw.cmd', 'lw.cmd.fob-1.x')).toBeNull();
    expect(deviceOfCommandSubject('lw.cmd', 'lw.other.fob-1')).toBeNull();
  });
});
