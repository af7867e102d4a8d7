/**
 * A SIA DC-09 receiver for the tests, written separately from the hub's encoder (its own CRC table,
 * its own parsing and decryption) so that a mistake shared by both cannot pass unseen. It checks
 * every field of every frame (CRC, length, id, sequence, receiver and line prefixes, account,
 * encryption and pad, timestamp window, the ADM-CID body) and answers ACK, NAK (with its own time)
 * or DUH as a real receiver would. Tests can force an answer or silence, and choose the form of NAK
 * and DUH among those DC-09 allows and real receivers send:
 *
 * - NAK `standard`: `"NAK"0000R<r>L<l>A0[]_time` (DC-09 5.5.2.2, receiver before line);
 * - NAK `line-first`: `"NAK"0000L<l>R<r>A0[]_time` (pysiaalarm's order, what the issue met);
 * - NAK `bare`: `"NAK"` with no frame at all (pysiaalarm, for an account it does not know);
 * - `EMPTY`: LF CR (pysiaalarm, for a frame whose CRC it rejects);
 * - DUH `standard`: `"DUH"seq R L #acct[]` (DC-09 5.5.2.3); `bare`: `"DUH"` unframed.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createCipheriv, createDecipheriv } from 'node:crypto';

const CRC_TABLE = (() => {
  const t: number[] = [];
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t.push(c);
  }
  return t;
})();

export function arcCrc(s: string): number {
  let crc = 0;
  for (let i = 0; i < s.length; i++) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ s.charCodeAt(i)) & 0xff];
  return crc;
}

function ts(ms: number): string {
  const d = new Date(ms);
  const z = (n: number) => String(n).padStart(2, '0');
  return `_${z(d.getUTCHours())}:${z(d.getUTCMinutes())}:${z(d.getUTCSeconds())},${z(d.getUTCMonth() + 1)}-${z(d.getUTCDate())}-${d.getUTCFullYear()}`;
}

function parseTs(s: string): number | null {
  const m = /^_(\d\d):(\d\d):(\d\d),(\d\d)-(\d\d)-(\d{4})$/.exec(s);
  return m ? Date.UTC(+m[6], +m[4] - 1, +m[5], +m[1], +m[2], +m[3]) : null;
}

export interface ReceivedFrame {
  raw: string;
  ok: boolean;
  /** Why the frame was refused (NAK/DUH), or null. */
  problem: string | null;
  id: string | null;
  encrypted: boolean;
  seq: number | null;
  receiver: string | null;
  line: string | null;
  account: string | null;
  /** Decrypted text after `[` (pad included) when encrypted. */
  plain: string | null;
  pad: string | null;
  data: string | null;
  timestamp: number | null;
  /** Extended data blocks after the data block, without their brackets. */
  extended: string[];
  /**
   * The location blocks (issue 20): X longitude, Y latitude (signed decimal degrees) and H the time
   * of the fix (HH:MM:SS,MM-DD-YYYY UTC); null when the frame has none. Parsed here on its own, not
   * with the hub's code.
   */
  location: { lon: number; lat: number; fixAt: number | null } | null;
  /** ADM-CID body fields. */
  cid: { account: string; qualifier: number; code: number; group: number; zone: number } | null;
  answer: Answer;
  /** The same sequence number and body as an ADM-CID frame received before: a retransmission of that event, not a new one. */
  retransmission: boolean;
}

export type Answer = 'ACK' | 'NAK' | 'NAK:line-first' | 'NAK:bare' | 'EMPTY' | 'DUH' | 'DUH:bare' | 'none';
export type ForcedAnswer = Answer | null;

export interface Dc09ReceiverOptions {
  account: string;
  receiver?: string | null;
  line?: string;
  /** Expect encrypted frames with this key (and encrypt the ACKs). */
  key?: Buffer | null;
  /** The receiver's clock (the tests share the hub's ManualClock). */
  now: () => number;
  /** DC-09: a timestamp more than 20 s behind or 40 s ahead of the receiver is refused. */
  windowBeforeS?: number;
  windowAfterS?: number;
  /** Offset of the receiver's clock from `now()`, to make a sender resynchronise. */
  skewMs?: number;
  /** The form of the NAKs it sends when it judges a frame bad (default `standard`). */
  nakForm?: 'standard' | 'line-first';
  /** Answers nothing at all while true (the ARC is down but the port is open). */
  silent?: boolean;
}

export class Dc09Receiver {
  readonly frames: ReceivedFrame[] = [];
  /** Answers to force, one per frame, taken in order; when empty the receiver judges for itself. */
  readonly forced: ForcedAnswer[] = [];
  private lastSeq: number | null = null;
  private readonly sockets = new Set<Socket>();
  private waiters: { pred: (f: ReceivedFrame) => boolean; resolve: (f: ReceivedFrame) => void }[] = [];
  port = 0;

  private constructor(
    private readonly o: Dc09ReceiverOptions,
    private readonly server: Server,
  ) {}

  static async start(o: Dc09ReceiverOptions, port = 0): Promise<Dc09Receiver> {
    const server = createServer();
    const r = new Dc09Receiver(o, server);
    server.on('connection', (s) => r.onConnection(s));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    r.port = (server.address() as { port: number }).port;
    return r;
  }

  get accepted(): ReceivedFrame[] {
    return this.frames.filter((f) => f.ok && f.answer === 'ACK');
  }

  waitFor(pred: (f: ReceivedFrame) => boolean, timeoutMs = 5000): Promise<ReceivedFrame> {
    const found = this.frames.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching DC-09 frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.map((f) => f.raw))}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (f) => (clearTimeout(t), resolve(f)) });
    });
  }

  private onConnection(s: Socket): void {
    this.sockets.add(s);
    s.setEncoding('latin1');
    let buf = '';
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
    s.on('data', (chunk: string) => {
      buf += chunk;
      for (;;) {
        const lf = buf.indexOf('\n');
        const cr = buf.indexOf('\r', lf);
        if (lf < 0 || cr < 0) break;
        const raw = buf.slice(lf, cr + 1);
        buf = buf.slice(cr + 1);
        const f = this.judge(raw);
        this.frames.push(f);
        const reply = this.reply(f);
        if (reply) s.write(reply, 'latin1');
        for (const w of [...this.waiters]) {
          if (w.pred(f)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(f);
          }
        }
      }
    });
  }

  private judge(raw: string): ReceivedFrame {
    const f: ReceivedFrame = { raw, ok: false, problem: null, id: null, encrypted: false, seq: null, receiver: null, line: null, account: null, plain: null, pad: null, data: null, timestamp: null, extended: [], location: null, cid: null, answer: 'NAK', retransmission: false };
    const nak: Answer = this.o.nakForm === 'line-first' ? 'NAK:line-first' : 'NAK';
    const fail = (problem: string, answer: Answer = nak): ReceivedFrame => Object.assign(f, { problem, answer, ok: false });
    if (!raw.startsWith('\n') || !raw.endsWith('\r')) return fail('not framed by LF ... CR');
    const inner = raw.slice(1, -1);
    const m = /^([0-9A-F]{4})(0[0-9A-F]{3})(".*)$/s.exec(inner);
    if (!m) return fail('no CRC and 0LLL length');
    const body = m[3];
    if (parseInt(m[1], 16) !== arcCrc(body)) return fail(`CRC ${m[1]} is wrong (expected ${arcCrc(body).toString(16).toUpperCase().padStart(4, '0')})`);
    if (parseInt(m[2], 16) !== body.length) return fail(`length ${m[2]} is wrong (body is ${body.length})`);
    const h = /^"(\*)?([A-Z-]+)"(\d{4})(?:R([0-9A-F]{1,6}))?L([0-9A-F]{1,6}?)#([0-9A-F]{3,16})\[(.*)$/s.exec(body);
    if (!h) return fail('header does not parse');
    f.encrypted = h[1] === '*';
    f.id = h[2];
    f.seq = Number(h[3]);
    f.receiver = h[4] ?? null;
    f.line = h[5];
    f.account = h[6];
    if (!['ADM-CID', 'NULL'].includes(f.id)) return fail(`message id ${f.id} not supported here`, 'DUH');
    if (f.account !== this.o.account) return fail(`account ${f.account} is not ${this.o.account}`);
    if ((this.o.receiver ?? null) !== f.receiver) return fail(`receiver R${f.receiver} is not R${this.o.receiver}`);
    if ((this.o.line ?? '0') !== f.line) return fail(`line L${f.line} is not L${this.o.line ?? '0'}`);
    if (f.id === 'NULL' ? f.seq !== 0 : f.seq < 1 || f.seq > 9999) return fail(`sequence ${h[3]} out of range`);
    let rest = h[7];
    const key = this.o.key ?? null;
    if (key && !f.encrypted) return fail('this account requires encryption');
    if (f.encrypted) {
      if (!key) return fail('encrypted, and no key for this account');
      if (!/^(?:[0-9A-F]{32})+$/.test(rest)) return fail('encrypted part is not whole AES blocks in upper-case hex');
      const d = createDecipheriv(`aes-${key.length * 8}-cbc`, key, Buffer.alloc(16));
      d.setAutoPadding(false);
      const plain = Buffer.concat([d.update(Buffer.from(rest, 'hex')), d.final()]).toString('latin1');
      f.plain = plain;
      const pm = /^([^[\]|]+)(\|.*|\].*)$/s.exec(plain);
      if (!pm) return fail('no pad before the data (wrong key?)');
      f.pad = pm[1];
      if (pm[1].length < 1 || pm[1].length > 16) return fail(`pad of ${pm[1].length} characters`);
      if (!/^[\x21-\x7e]+$/.test(pm[1])) return fail('pad has unprintable characters');
      rest = pm[2].startsWith('|') ? pm[2].slice(1) : pm[2];
    }
    const dm = /^([^\]]*)\]((?:\[[^\]]*\])*)(_.*)?$/s.exec(rest);
    if (!dm) return fail('data block does not parse');
    f.data = dm[1];
    f.extended = [...dm[2].matchAll(/\[([^\]]*)\]/g)].map((x) => x[1]!);
    const block = (letter: string) => f.extended.find((x) => x.startsWith(letter))?.slice(1) ?? null;
    const [x, y, hTime] = [block('X'), block('Y'), block('H')];
    if (x !== null || y !== null) {
      const num = /^-?\d{1,3}(\.\d{1,7})?$/;
      if (x === null || y === null || !num.test(x) || !num.test(y)) return fail(`location blocks X ${x} / Y ${y} are not a pair of decimal degrees`);
      const lon = Number(x);
      const lat = Number(y);
      if (lon < -180 || lon > 180 || lat < -90 || lat > 90) return fail(`location ${lat}, ${lon} is off the globe`);
      const fixAt = hTime === null ? null : parseTs(`_${hTime}`);
      if (hTime !== null && fixAt === null) return fail(`H block ${hTime} is not a time`);
      f.location = { lon, lat, fixAt };
    }
    if (!dm[3]) return fail('no timestamp');
    f.timestamp = parseTs(dm[3]);
    if (f.timestamp === null) return fail(`bad timestamp ${dm[3]}`);
    const now = this.receiverNow();
    if (f.timestamp < now - (this.o.windowBeforeS ?? 20) * 1000 || f.timestamp > now + (this.o.windowAfterS ?? 40) * 1000) {
      return fail(`timestamp ${dm[3]} outside the window around ${ts(now)}`);
    }
    if (f.id === 'NULL') {
      if (f.data !== '') return fail('NULL with data');
    } else {
      // Contact ID qualifiers (DC-05): 1 new event, 3 restore, 6 previously reported condition still present (status report).
      const c = /^#([0-9A-F]{3,16})\|([136])(\d{3}) (\d{2}) (\d{3})$/.exec(f.data);
      if (!c) return fail(`ADM-CID body ${JSON.stringify(f.data)} does not parse`, 'DUH');
      f.cid = { account: c[1], qualifier: +c[2], code: +c[3], group: +c[4], zone: +c[5] };
      if (c[1] !== this.o.account) return fail('account in the body differs from the header');
      // A retransmission keeps its number, however many messages went in between.
      f.retransmission = this.frames.some((p) => p.id === 'ADM-CID' && p.seq === f.seq && p.data === f.data);
      if (!f.retransmission && this.lastSeq !== null && f.seq !== this.lastSeq && f.seq !== (this.lastSeq % 9999) + 1) return fail(`sequence jumped from ${this.lastSeq} to ${f.seq}`);
    }
    f.ok = true;
    f.answer = 'ACK';
    return f;
  }

  private receiverNow(): number {
    return this.o.now() + (this.o.skewMs ?? 0);
  }

  private reply(f: ReceivedFrame): string | null {
    const forced = this.forced.length > 0 ? this.forced.shift()! : this.o.silent ? 'none' : null;
    if (forced) {
      f.answer = forced;
      if (forced !== 'ACK') f.ok = false;
    }
    if (f.answer === 'none') return null;
    if (f.answer === 'NAK:bare') return '"NAK"';
    if (f.answer === 'DUH:bare') return '"DUH"';
    if (f.answer === 'EMPTY') return '\n\r';
    if (f.answer === 'ACK' && f.id === 'ADM-CID' && (!f.retransmission || this.lastSeq === null || f.seq === (this.lastSeq % 9999) + 1)) this.lastSeq = f.seq;
    const rp = this.o.receiver ? `R${this.o.receiver}` : '';
    let body: string;
    if (f.answer === 'NAK') {
      body = `"NAK"0000${rp}L${this.o.line ?? '0'}A0[]${ts(this.receiverNow())}`;
    } else if (f.answer === 'NAK:line-first') {
      body = `"NAK"0000L${this.o.line ?? '0'}${rp}A0[]${ts(this.receiverNow())}`;
    } else {
      const head = `${String(f.seq ?? 0).padStart(4, '0')}${rp}L${this.o.line ?? '0'}#${this.o.account}[`;
      const key = this.o.key ?? null;
      if (key && f.answer === 'ACK') {
        const tail = `]${ts(this.receiverNow())}`;
        const padLen = 16 - (tail.length % 16) || 16;
        const c = createCipheriv(`aes-${key.length * 8}-cbc`, key, Buffer.alloc(16));
        c.setAutoPadding(false);
        body = `"*ACK"${head}${Buffer.concat([c.update('0'.repeat(padLen) + tail, 'latin1'), c.final()]).toString('hex').toUpperCase()}`;
      } else {
        body = `"${f.answer}"${head}]`;
      }
    }
    return `\n${arcCrc(body).toString(16).toUpperCase().padStart(4, '0')}${body.length.toString(16).toUpperCase().padStart(4, '0')}${body}\r`;
  }

  /** Changes how it answers from now on (the ARC going silent and coming back, a new key). */
  set(o: Partial<Pick<Dc09ReceiverOptions, 'silent' | 'key' | 'nakForm' | 'skewMs'>>): void {
    Object.assign(this.o, o);
  }

  /** Drops every connection (the ARC side of a network failure). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
