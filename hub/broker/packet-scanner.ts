/**
 * Reads the MQTT fixed header of every packet a client sends, as its bytes arrive, so an oversize
 * packet is refused from its first few bytes instead of after it has been buffered whole: aedes
 * hands the socket's bytes to mqtt-packet, whose parser keeps everything until the packet it has
 * been promised is complete and has no size limit of its own (issue 17, item 1).
 *
 * Pure: no I/O, no timers. Feed it every chunk in order; it answers with the first violation.
 *
 * MQTT 3.1.1 §2.2 (fixed header): byte 1 is the packet type (high nibble) and flags; then the
 * remaining length, §2.2.3: a variable byte integer of 1 to 4 bytes, 7 bits each, least significant
 * group first, bit 7 set when another byte follows. The packet is 1 + (1..4) + remaining bytes long.
 * §3.1 (MQTT-3.1.0-1): the first packet a client sends must be CONNECT (type 1).
 */

export const MQTT_CONNECT_TYPE = 1;

export type ScanViolation =
  | { code: 'first_packet_not_connect'; packetType: number }
  | { code: 'connect_too_large'; claimedBytes: number; limit: number }
  | { code: 'packet_too_large'; packetType: number; claimedBytes: number; limit: number }
  | { code: 'malformed_length' };

export interface ScanLimits {
  /** Largest whole CONNECT packet accepted (fixed header included). */
  connectMaxBytes: number;
  /** Largest whole packet accepted after the CONNECT. */
  packetMaxBytes: number;
}

export class PacketScanner {
  /** Bytes seen so far on this connection. */
  bytesSeen = 0;
  /** Complete packets seen so far (the first is the CONNECT). */
  packets = 0;
  private state: 'type' | 'length' | 'body' = 'type';
  private packetType = 0;
  private length = 0;
  private lengthBytes = 0;
  private multiplier = 1;
  private bodyLeft = 0;

  constructor(private readonly limits: ScanLimits) {}

  /** True once the whole CONNECT has arrived. */
  get connectComplete(): boolean {
    return this.packets > 0;
  }

  /** Scans one chunk. Returns the first rule it breaks, or null when the chunk may be passed on. */
  feed(chunk: Uint8Array): ScanViolation | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        this.bytesSeen += take;
        if (this.bodyLeft === 0) this.endPacket();
        continue;
      }
      const byte = chunk[i++]!;
      this.bytesSeen++;
      if (this.state === 'type') {
        this.packetType = byte >> 4;
        if (this.packets === 0 && this.packetType !== MQTT_CONNECT_TYPE) return { code: 'first_packet_not_connect', packetType: this.packetType };
        this.state = 'length';
        this.length = 0;
        this.lengthBytes = 0;
        this.multiplier = 1;
        continue;
      }
      // state 'length': §2.2.3 variable byte integer.
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      const more = (byte & 0x80) !== 0;
      if (more && this.lengthBytes === 4) return { code: 'malformed_length' };
      // Refuse as soon as the bytes read so far already promise too much (a further length byte may
      // be 0x00, so only what is read counts), before any of the body is taken in.
      const claimed = 1 + this.lengthBytes + (more ? 1 : 0) + this.length;
      const connect = this.packets === 0;
      const limit = connect ? this.limits.connectMaxBytes : this.limits.packetMaxBytes;
      if (claimed > limit) {
        return connect ? { code: 'connect_too_large', claimedBytes: claimed, limit } : { code: 'packet_too_large', packetType: this.packetType, claimedBytes: claimed, limit };
      }
      if (more) continue;
      this.bodyLeft = this.length;
      this.state = 'body';
      if (this.bodyLeft === 0) this.endPacket();
    }
    return null;
  }

  private endPacket(): void {
    this.packets++;
    this.state = 'type';
  }
}

/** What a duty officer or an operator reads about a violation. */
export function describeViolation(v: ScanViolation): string {
  switch (v.code) {
    case 'first_packet_not_connect':
      return `the first packet was of type ${v.packetType}, not CONNECT (MQTT 3.1.1 §3.1)`;
    case 'connect_too_large':
      return `a CONNECT claiming ${v.claimedBytes} bytes (at most ${v.limit}: mqtt.connect_max_bytes)`;
    case 'packet_too_large':
      return `a packet of type ${v.packetType} claiming ${v.claimedBytes} bytes (at most ${v.limit}: mqtt.packet_max_bytes)`;
    case 'malformed_length':
      return 'a remaining length longer than 4 bytes (MQTT 3.1.1 §2.2.3)';
  }
}
