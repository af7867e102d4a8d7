/**
 * ANSI/SIA DC-09 message frames, pure (no I/O): encoding, parsing and checking.
 *
 *   <LF> crc(4 hex) 0LLL(4 hex) "id" seq(4 dec) [Rrrr] Lppp #acct [data][x-data]... timestamp <CR>
 *
 * - CRC: CRC-16/ARC (polynomial 0x8005, reflected as 0xA001, initial value 0), over everything from
 *   the opening quote of the id to the end of the timestamp, as ASCII; sent as 4 upper-case hex digits.
 * - Length: the same span's length in characters, 4 hex digits (the first is always 0).
 * - seq: 0001-9999 (decimal), wrapping back to 0001; 0000 only on a NAK.
 * - Rrrr: receiver number, 1-6 hex digits (optional); Lppp: line prefix, 1-6 hex digits (required,
 *   "L0" when the ARC does not use one); #acct: account, 3-16 hex digits.
 * - timestamp: `_HH:MM:SS,MM-DD-YYYY` in UTC; required when the message is encrypted.
 * - Encryption: a `*` before the id; everything after the `[` of the data (data, `]`, extended data,
 *   timestamp) is prefixed with pad characters up to a multiple of 16 bytes, encrypted with AES-CBC
 *   (128/192/256-bit key, zero IV) and sent as upper-case hex. The pad is 1-16 printable characters,
 *   never `[`, `]` or `|`, followed by `|` when the message carries data.
 */
import { createCipheriv, createDecipheriv, randomInt } from 'node:crypto';

export const DC09_IDS = ['ADM-CID', 'SIA-DCS', 'NULL', 'ACK', 'NAK', 'DUH', 'RSP'] as const;
export type Dc09Id = (typeof DC09_IDS)[number];

export interface Dc09Message {
  id: Dc09Id;
  encrypted: boolean;
  /** 1-9999; 0 only on a NAK. */
  seq: number;
  /** Hex digits after R, or null when absent. */
  receiver: string | null;
  /** Hex digits after L. */
  line: string;
  /** Hex digits after #; null on a NAK (which carries "A0" style or nothing). */
  account: string | null;
  /** What is between the first [ and its ] (e.g. "#1234|1120 01 005"); "" for NULL/ACK. */
  data: string;
  /** Extended data blocks without brackets, e.g. ["Xlon", "Ylat"]. */
  extended: string[];
  /** Milliseconds (UTC) from the timestamp, or null when none was sent. */
  timestamp: number | null;
}

/** CRC-16/ARC as DC-09 specifies (poly 0x8005 reflected, init 0). */
export function crc16(text: string | Buffer): number {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  let crc = 0;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');

export function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `_${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())},${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCFullYear(), 4)}`;
}

const TS_RE = /^_(\d{2}):(\d{2}):(\d{2}),(\d{2})-(\d{2})-(\d{4})$/;

export function parseTimestamp(ts: string): number | null {
  const m = TS_RE.exec(ts);
  if (!m) return null;
  const [, hh, mm, ss, mo, dd, yyyy] = m.map(Number);
  if (hh > 23 || mm > 59 || ss > 59 || mo < 1 || mo > 12 || dd < 1 || dd > 31) return null;
  return Date.UTC(yyyy, mo - 1, dd, hh, mm, ss);
}

export function nextSeq(seq: number): number {
  return seq >= 9999 ? 1 : seq + 1;
}

/** AES key from its hex form: 32, 48 or 64 hex digits (AES-128, -192, -256). */
export function parseKey(hex: string): Buffer {
  if (!/^[0-9A-Fa-f]+$/.test(hex) || ![32, 48, 64].includes(hex.length)) {
    throw new Error('a DC-09 key is 32, 48 or 64 hex digits (AES-128, AES-192 or AES-256)');
  }
  return Buffer.from(hex, 'hex');
}

function cipherName(key: Buffer): string {
  return `aes-${key.length * 8}-cbc`;
}

const PAD_CHARS = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => c !== '[' && c !== ']' && c !== '|');

/** Pad characters that bring `rest` to a multiple of 16 bytes (1-16 of them). */
export function makePad(restLength: number, random: (n: number) => number = randomInt): string {
  let n = 16 - (restLength % 16);
  if (n === 0) n = 16;
  let pad = '';
  for (let i = 0; i < n; i++) pad += PAD_CHARS[random(PAD_CHARS.length)];
  return pad;
}

export function encryptBody(plain: string, key: Buffer): string {
  const c = createCipheriv(cipherName(key), key, Buffer.alloc(16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.from(plain, 'latin1')), c.final()]).toString('hex').toUpperCase();
}

export function decryptBody(hex: string, key: Buffer): string {
  if (!/^[0-9A-F]*$/i.test(hex) || hex.length % 32 !== 0) throw new Dc09ParseError('encrypted data is not whole AES blocks of hex');
  const d = createDecipheriv(cipherName(key), key, Buffer.alloc(16));
  d.setAutoPadding(false);
  return Buffer.concat([d.update(Buffer.from(hex, 'hex')), d.final()]).toString('latin1');
}

export class Dc09ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Dc09ParseError';
  }
}

/** The part of a frame that the CRC and length cover: from the opening quote to the timestamp. */
export function frameBody(msg: Dc09Message, key: Buffer | null, random?: (n: number) => number): string {
  const encrypted = msg.encrypted && key !== null;
  let head = `"${encrypted ? '*' : ''}${msg.id}"${String(msg.seq).padStart(4, '0')}`;
  if (msg.receiver !== null) head += `R${msg.receiver}`;
  head += `L${msg.line}`;
  if (msg.account !== null) head += `#${msg.account}`;
  else if (msg.id === 'NAK') head += 'A0';
  const ext = msg.extended.map((x) => `[${x}]`).join('');
  const ts = msg.timestamp !== null ? formatTimestamp(msg.timestamp) : '';
  if (!encrypted) return `${head}[${msg.data}]${ext}${ts}`;
  if (msg.timestamp === null) throw new Error('an encrypted DC-09 message needs a timestamp');
  const rest = `${msg.data === '' ? '' : `|${msg.data}`}]${ext}${ts}`;
  const plain = makePad(rest.length, random) + rest;
  return `${head}[${encryptBody(plain, key)}`;
}

/** A whole frame: LF, CRC, length, body, CR. */
export function encodeFrame(msg: Dc09Message, key: Buffer | null = null, random?: (n: number) => number): string {
  const body = frameBody(msg, key, random);
  return `\n${hex4(crc16(body))}${hex4(body.length)}${body}\r`;
}

const HEAD_RE = /^"(\*?)([A-Z-]+)"(\d{4})(?:R([0-9A-Fa-f]{1,6}))?L([0-9A-Fa-f]{1,6}?)(?:#([0-9A-Fa-f]{3,16})|A0)?\[/;

export interface ParsedFrame {
  message: Dc09Message;
  /** CRC and length as sent, and as computed (for a receiver that checks them). */
  crcSent: number;
  crcComputed: number;
  lengthSent: number;
  lengthComputed: number;
  /** The decrypted text after `[`, including the pad, for tests. */
  plain: string;
}

/**
 * Parses one frame (with or without the LF/CR). Throws Dc09ParseError on anything malformed; the CRC
 * and length are returned for the caller to judge (a receiver NAKs a bad CRC rather than failing).
 */
export function parseFrame(raw: string, key: Buffer | null = null): ParsedFrame {
  const frame = raw.replace(/^\n/, '').replace(/\r$/, '');
  if (frame.length < 9 || !/^[0-9A-F]{4}0[0-9A-F]{3}$/.test(frame.slice(0, 8))) throw new Dc09ParseError('frame does not start with 4 hex CRC digits and 0LLL length');
  const crcSent = parseInt(frame.slice(0, 4), 16);
  const lengthSent = parseInt(frame.slice(4, 8), 16);
  const body = frame.slice(8);
  const head = HEAD_RE.exec(body);
  if (!head) throw new Dc09ParseError(`bad header in ${JSON.stringify(body.slice(0, 60))}`);
  const [whole, star, id, seqText, receiver, line, account] = head;
  if (!(DC09_IDS as readonly string[]).includes(id)) throw new Dc09ParseError(`unknown message id "${id}"`);
  const encrypted = star === '*';
  let rest = body.slice(whole.length);
  if (encrypted) {
    if (!key) throw new Dc09ParseError('encrypted message and no key');
    rest = decryptBody(rest, key);
    // The pad runs to the first | (data follows) or ] (no data).
    const cut = rest.search(/[|\]]/);
    if (cut < 1) throw new Dc09ParseError('no pad before the data (wrong key?)');
    if (/[[]/.test(rest.slice(0, cut))) throw new Dc09ParseError('pad contains [ (wrong key?)');
    rest = rest[cut] === '|' ? rest.slice(cut + 1) : rest.slice(cut);
  }
  const plain = rest;
  const close = rest.indexOf(']');
  if (close < 0) throw new Dc09ParseError('data block has no closing ]');
  const data = rest.slice(0, close);
  rest = rest.slice(close + 1);
  const extended: string[] = [];
  while (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0) throw new Dc09ParseError('extended data block has no closing ]');
    extended.push(rest.slice(1, end));
    rest = rest.slice(end + 1);
  }
  let timestamp: number | null = null;
  if (rest !== '') {
    timestamp = parseTimestamp(rest);
    if (timestamp === null) throw new Dc09ParseError(`bad timestamp ${JSON.stringify(rest)}`);
  } else if (encrypted) {
    throw new Dc09ParseError('encrypted message without a timestamp');
  }
  return {
    message: {
      id: id as Dc09Id,
      encrypted,
      seq: Number(seqText),
      receiver: receiver ?? null,
      line,
      account: account ?? null,
      data,
      extended,
      timestamp,
    },
    crcSent,
    crcComputed: crc16(body),
    lengthSent,
    lengthComputed: body.length,
    plain,
  };
}

/** Splits a TCP byte stream into frames (LF ... CR); returns the frames and what is left over. */
export function splitFrames(buffer: string): { frames: string[]; rest: string } {
  const frames: string[] = [];
  let rest = buffer;
  for (;;) {
    const start = rest.indexOf('\n');
    if (start < 0) return { frames, rest: '' };
    const end = rest.indexOf('\r', start);
    if (end < 0) return { frames, rest: rest.slice(start) };
    frames.push(rest.slice(start, end + 1));
    rest = rest.slice(end + 1);
  }
}
