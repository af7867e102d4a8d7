/**
 * A raw TCP connection to the hub's MQTT port that sends bytes as given and reads what comes back
 * packet by packet (MQTT 3.1.1 §2.2 fixed header), so a fuzz driver sees CONNACK codes, PUBACKs,
 * SUBACKs, PINGRESPs and the moment the hub closes the connection. Acks the hub's own QoS 1
 * PUBLISHes (§4.3.2), as a fob would, so nothing piles up for it in the hub.
 */
import { connect, type Socket } from 'node:net';

export interface WirePacket {
  type: number;
  flags: number;
  body: Buffer;
}

export class MqttWire {
  readonly socket: Socket;
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: { pred: (p: WirePacket) => boolean; resolve: (p: WirePacket | null) => void; timer: NodeJS.Timeout }[] = [];
  private closeWaiters: (() => void)[] = [];
  /** Every packet received, by type, for the stream's own counts. */
  onPacket: ((p: WirePacket) => void) | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.resolve(null);
      }
      for (const c of this.closeWaiters.splice(0)) c();
    });
  }

  /** Connects from `localAddress` (any 127.x.y.z), which spreads the loopback 4-tuples over many addresses. */
  static open(port: number, localAddress?: string, timeoutMs = 5000): Promise<MqttWire> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no TCP connection to 127.0.0.1:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(new MqttWire(s));
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  write(b: Buffer): boolean {
    if (this.closed) return false;
    return this.socket.write(b);
  }

  /** Resolves with the next packet matching pred, or null if the hub closed the connection or time ran out. */
  waitFor(pred: (p: WirePacket) => boolean, timeoutMs: number): Promise<WirePacket | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const w = {
        pred,
        resolve,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          resolve(null);
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  /** Resolves true when the hub closes the connection within timeoutMs. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Closes with a TCP reset, so this side keeps no TIME_WAIT entry (a million packets churn many connections). */
  destroy(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.closeWaiters.push(resolve);
      this.socket.resetAndDestroy();
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 2) return;
      let len = 0;
      let mul = 1;
      let i = 1;
      for (; i < 5; i++) {
        if (i >= this.buf.length) return;
        len += (this.buf[i] & 0x7f) * mul;
        mul *= 128;
        if ((this.buf[i] & 0x80) === 0) break;
      }
      const total = i + 1 + len;
      if (this.buf.length < total) return;
      const p: WirePacket = { type: this.buf[0] >> 4, flags: this.buf[0] & 0x0f, body: this.buf.subarray(i + 1, total) };
      this.buf = this.buf.subarray(total);
      if (p.type === 3 && ((p.flags >> 1) & 3) === 1) {
        // QoS 1 PUBLISH from the hub: topic (2-byte length + bytes), then the packet id to PUBACK.
        const tlen = p.body.readUInt16BE(0);
        const id = p.body.readUInt16BE(2 + tlen);
        this.write(Buffer.from([0x40, 0x02, id >> 8, id & 0xff]));
      }
      this.onPacket?.(p);
      const w = this.waiters.find((x) => x.pred(p));
      if (w) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(p);
      }
    }
  }
}

export const PACKET = { CONNACK: 2, PUBLISH: 3, PUBACK: 4, SUBACK: 9, PINGRESP: 13 } as const;
