// The stream's message format (hub/cluster/inbound.ts), pure: what an edge encodes a worker decodes
// unchanged; anything else is refused with the header at fault; command subjects name one device.
import { describe, expect, it } from 'vitest';
import { headers } from '@nats-io/transport-node';
import { decodeInbound, deviceOfCommandSubject, encodeInbound, InboundFormatError, inboundSubject } from '../../hub/cluster/inbound.js';

describe('inbound messages', () => {
  it('round-trips the payload bytes and the edge headers', () => {
    const payload = Buffer.from([0x7b, 0xff, 0x00, 0x7d]);
    const m = encodeInbound({ deviceId: 'fob-1', leaf: 'ev', payload, receivedAt: 1_772_445_600_000, edgeId: 'edge-a' });
    const back = decodeInbound(m.headers, m.data);
    expect(back).toEqual({ deviceId: 'fob-1', leaf: 'ev', payload, receivedAt: 1_772_445_600_000, edgeId: 'edge-a' });
    expect(inboundSubject('lw.in', 'fob-1', 'ev')).toBe('lw.in.fob-1.ev');
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

  it('reads the device of a command subject, and nothing else', () => {
    expect(deviceOfCommandSubject('lw.cmd', 'lw.cmd.fob-1')).toBe('fob-1');
    expect(deviceOfCommandSubject('lw.cmd', 'lw.cmd.fob-1.x')).toBeNull();
    expect(deviceOfCommandSubject('lw.cmd', 'lw.other.fob-1')).toBeNull();
  });
});
