/**
 * MQTT 3.1.1 packets as bytes (OASIS MQTT 3.1.1, §2 fixed header, §3 control packets), written here
 * rather than by mqtt.js so the fuzzer can send what no well-behaved client would: then mutated a
 * byte at a time (bit flips, truncation, bogus remaining lengths, bad UTF-8 in topic names, wrong
 * protocol levels).
 */
import type { Prng } from './prng.js';

/** §2.2.3: the remaining length, 7 bits a byte, high bit "more follows", at most 4 bytes. */
export function encodeRemainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** §1.5.3: a UTF-8 string is a two-byte big-endian length and the bytes. */
function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), encodeRemainingLength(body.length), body]);
}

export interface ConnectSpec {
  clientId: string;
  username?: string;
  password?: string;
  /** §3.1.2.2: 4 for 3.1.1; anything else must be refused with CONNACK 1. */
  level?: number;
  clean?: boolean;
  keepAlive?: number;
  will?: { topic: string; payload: Buffer; qos: 0 | 1 };
}

/** §3.1 CONNECT. */
export function connectPacket(c: ConnectSpec): Buffer {
  let flags = c.clean === false ? 0 : 0x02;
  if (c.will) flags |= 0x04 | (c.will.qos << 3);
  if (c.username !== undefined) flags |= 0x80;
  if (c.password !== undefined) flags |= 0x40;
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(c.keepAlive ?? 60);
  const parts = [str('MQTT'), Buffer.from([c.level ?? 4, flags]), ka, str(c.clientId)];
  if (c.will) parts.push(str(c.will.topic), str(c.will.payload));
  if (c.username !== undefined) parts.push(str(c.username));
  if (c.password !== undefined) parts.push(str(c.password));
  return packet(0x10, Buffer.concat(parts));
}

/** §3.3 PUBLISH; packetId for QoS 1. */
export function publishPacket(topic: string | Buffer, payload: Buffer, qos: 0 | 1, packetId = 1): Buffer {
  const parts = [str(topic)];
  if (qos > 0) {
    const id = Buffer.alloc(2);
    id.writeUInt16BE(packetId);
    parts.push(id);
  }
  parts.push(payload);
  return packet(0x30 | (qos << 1), Buffer.concat(parts));
}

/** §3.8 SUBSCRIBE (its fixed-header flags must be 0010, §3.8.1). */
export function subscribePacket(topic: string | Buffer, qos: number, packetId = 1): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(packetId);
  return packet(0x82, Buffer.concat([id, str(topic), Buffer.from([qos])]));
}

/** §3.12 PINGREQ. */
export const PINGREQ = Buffer.from([0xc0, 0x00]);
/** §3.14 DISCONNECT. */
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

/** Byte mutations of a valid packet; each returns the mutated bytes and its name. */
export type ByteMutation = 'bit-flip' | 'truncate' | 'bogus-length' | 'bad-utf8-topic' | 'garbage-append' | 'type-nibble' | 'none';

export function mutatePacket(rng: Prng, p: Buffer, topicOffset?: number): { bytes: Buffer; mutation: ByteMutation } {
  const b = Buffer.from(p);
  const m = rng.pick<ByteMutation>(['bit-flip', 'bit-flip', 'truncate', 'bogus-length', 'bad-utf8-topic', 'garbage-append', 'type-nibble', 'none']);
  switch (m) {
    case 'bit-flip': {
      for (let n = rng.int(1, 4); n > 0; n--) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7);
      return { bytes: b, mutation: m };
    }
    case 'truncate':
      return { bytes: b.subarray(0, rng.int(1, Math.max(1, b.length - 1))), mutation: m };
    case 'bogus-length': {
      // A remaining length that says more (or less) than follows, or a 5-byte one (§2.2.3 allows 4).
      const body = b.subarray(1 + lengthBytes(b));
      const choice = rng.int(0, 3);
      const len =
        choice === 0 ? encodeRemainingLength(rng.int(body.length + 1, 268_435_455)) : choice === 1 ? encodeRemainingLength(rng.int(0, Math.max(0, body.length - 1))) : choice === 2 ? Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]) : Buffer.from([0x80, 0x80, 0x80, 0x80]);
      return { bytes: Buffer.concat([b.subarray(0, 1), len, body]), mutation: m };
    }
    case 'bad-utf8-topic': {
      // §1.5.3: the string must be well-formed UTF-8; 0xC0 0x80, lone continuation bytes and U+0000 are not.
      if (topicOffset === undefined) return mutatePacket(rng, p);
      const at = 1 + lengthBytes(b) + topicOffset + 2;
      if (at < b.length) b[at] = rng.pick([0xc0, 0x80, 0xff, 0xfe, 0x00, 0xed]);
      return { bytes: b, mutation: m };
    }
    case 'garbage-append':
      return { bytes: Buffer.concat([b, rng.bytes(rng.int(1, 64))]), mutation: m };
    case 'type-nibble':
      // A reserved packet type (0 or 15) or wrong flags for the type (§2.2.2).
      b[0] = (rng.pick([0, 15, b[0] >> 4]) << 4) | rng.int(0, 15);
      return { bytes: b, mutation: m };
    case 'none':
      return { bytes: b, mutation: m };
  }
}

/** How many bytes a packet's remaining length takes (1-4), read from the packet itself. */
export function lengthBytes(b: Buffer): number {
  let n = 0;
  while (n < 4 && 1 + n < b.length && (b[1 + n] & 0x80) !== 0) n++;
  return n + 1;
}
