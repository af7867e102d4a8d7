/**
 * What the flashing tool says to an Espruino console, as pure functions: the bundle as bytes, its
 * chunks and their CRCs, the JS lines that write and verify them, and the parsing of the answers.
 *
 * Every line the tool sends starts with DLE (0x10), which tells Espruino not to echo that line nor
 * print its `=result`; each request prints its answer between numbered markers, so an answer can
 * never be mistaken for another request's or for whatever the board printed on its own:
 *   \x10try{print("<LW7 "+JSON.stringify(EXPR)+" LW7>")}catch(e){print("<LW7! "+JSON.stringify(""+e)+" LW7>")}\n
 */
import { crc32 } from 'node:zlib';
import type { Wiring } from '../src/wiring.js';
import { FLASH_STORAGE, FOB_STORAGE } from '../../shared/vocabulary.js';

/**
 * Storage names on the board (issue 8: the identity is never inside the code): the tool's own files
 * and the firmware's (its outbox and boot counter: another device's must not survive a re-provision),
 * both from the vocabulary (shared/vocabulary.ts), so the tool writes the names the firmware reads.
 */
export const FILES = { ...FLASH_STORAGE, ...FOB_STORAGE } as const;

/** Bytes of the bundle per Storage.write: small enough for a Puck.js's input line and RAM. */
export const CHUNK_BYTES = 512;

export const BOARD_ENV: Record<string, string> = { puck: 'PUCKJS', rak5010: 'RAK5010' };
/** The oldest Espruino the firmware was measured on (issue 4: facts measured on 2v29). */
export const MIN_ESPRUINO = '2v29';

/** The bundle as Espruino stores it: bytes, one char per byte (latin1). */
export function toBytes(code: string): string {
  return Buffer.from(code, 'utf8').toString('latin1');
}

export function crcOf(bytes: string): number {
  return crc32(Buffer.from(bytes, 'latin1')) >>> 0;
}

/**
 * A JS string literal for a byte string that only uses printable ASCII on the wire: the console
 * treats control characters (Ctrl-C, DLE, ESC, backspace) as commands even inside a literal.
 */
export function byteLiteral(bytes: string): string {
  let out = '"';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c < 0x7f) out += bytes[i];
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return out + '"';
}

export interface Chunk {
  index: number;
  offset: number;
  bytes: string;
  crc: number;
}

export function chunksOf(bytes: string, size = CHUNK_BYTES): Chunk[] {
  const chunks: Chunk[] = [];
  for (let offset = 0, index = 0; offset < bytes.length; offset += size, index++) {
    const b = bytes.slice(offset, offset + size);
    chunks.push({ index, offset, bytes: b, crc: crcOf(b) });
  }
  return chunks;
}

/** A request line: DLE, then EXPR evaluated and printed as JSON between markers numbered n. */
export function requestLine(n: number, expr: string): string {
  return `\x10try{print("<LW${n} "+JSON.stringify(${expr})+" LW${n}>")}catch(e){print("<LW${n}! "+JSON.stringify(""+e)+" LW${n}>")}\n`;
}

export type Answer = { ok: true; value: unknown } | { ok: false; error: string; unreadable?: true };

/** Finds the answer to request n in what the board printed so far, or null while it is incomplete. */
export function findAnswer(received: string, n: number): Answer | null {
  const m = new RegExp(`<LW${n}(!?) ([\\s\\S]*?) LW${n}>`).exec(received);
  if (!m) return null;
  let value: unknown;
  try {
    value = JSON.parse(m[2]);
  } catch {
    return { ok: false, error: `unreadable answer ${JSON.stringify(m[2].slice(0, 80))}`, unreadable: true };
  }
  return m[1] === '!' ? { ok: false, error: String(value) } : { ok: true, value };
}

/**
 * What to tell the engineer about an answer that is not a value: the board refused the command
 * (Espruino threw, and said why), or its answer came back garbled (the board refused nothing).
 */
export function answerProblem(a: { error: string; unreadable?: true }): string {
  return a.unreadable ? `the board's answer to a command could not be read (${a.error})` : `the board refused a command: ${a.error}`;
}

const S = 'require("Storage")';

/** What the board is and what it holds, in one request. */
export const PROBE_EXPR =
  `(function(s){var f=function(n){var d=s.read(n);return d===undefined?null:{n:d.length,c:E.CRC32(d)}};` +
  `return {b:process.env.BOARD,v:process.env.VERSION,` +
  `id:s.readJSON("${FILES.identity}",1)||null,nw:s.readJSON("${FILES.identityNew}",1)||null,` +
  `boot:f("${FILES.boot}"),up:f("${FILES.staging}"),` +
  // Every other boot file: .boot0-.boot3 run before .bootcde at every start and at every reset()
  // (seen on the 2v29 interpreter), .bootrst and .bootPowerOn are the other boot files 2v29 knows.
  // None is ours.
  `bf:s.list(/^\\.boot/).filter(function(n){return n!=="${FILES.boot}"}).map(function(n){return {n:n,b:s.read(n).length}})}})(${S})`;

/** Boot code that Espruino runs besides .bootcde: what a flash removes (or keeps, if asked). */
export interface BootFile {
  n: string;
  b: number;
}

export interface ProbeResult {
  b: string;
  v: string;
  id: { id?: unknown; pw?: unknown; h?: unknown; p?: unknown; pk?: unknown } | null;
  nw: { id?: unknown; pw?: unknown; h?: unknown; p?: unknown; pk?: unknown } | null;
  boot: { n: number; c: number } | null;
  up: { n: number; c: number } | null;
  /** Other boot files on the board (see PROBE_EXPR); older tools did not ask: absent. */
  bf?: BootFile[];
}

/** The CRC of every chunk of the staging file as it is on the board (missing file: null). */
export function stagingCrcsExpr(size = CHUNK_BYTES): string {
  return `(function(s){var d=s.read("${FILES.staging}");if(d===undefined)return null;var r=[];for(var o=0;o<d.length;o+=${size})r.push(E.CRC32(s.read("${FILES.staging}",o,Math.min(${size},d.length-o))));return {n:d.length,c:r}})(${S})`;
}

/** Writes one chunk; the first creates the file at its full size (the rest of it reads as 0xFF). */
export function writeChunkExpr(c: Chunk, total: number): string {
  const args = c.offset === 0 ? `0,${total}` : `${c.offset}`;
  return `(function(s){s.write("${FILES.staging}",${byteLiteral(c.bytes)},${args});return E.CRC32(s.read("${FILES.staging}",${c.offset},${c.bytes.length}))})(${S})`;
}

/** The CRC a chunk's region has before anything is written to it (unwritten flash reads 0xFF). */
export function blankCrc(c: Chunk): number {
  return crcOf('\xff'.repeat(c.bytes.length));
}

/**
 * The CRC of one chunk's bytes as they are in the staging file now (no file: null). Read-only: what
 * the tool asks when a chunk's answer did not come, to learn whether its write ran.
 */
export function chunkCrcExpr(c: Chunk): string {
  return `(function(s){var d=s.read("${FILES.staging}",${c.offset},${c.bytes.length});return d===undefined?null:E.CRC32(d)})(${S})`;
}

/** Writes one chunk of a Storage file (the first creates it at its full size); answers the chunk's CRC. */
export function writeFileChunkExpr(name: string, c: Chunk, total: number): string {
  const n = JSON.stringify(name);
  return `(function(s){s.write(${n},${byteLiteral(c.bytes)},${c.offset === 0 ? `0,${total}` : c.offset});return E.CRC32(s.read(${n},${c.offset},${c.bytes.length}))})(${S})`;
}

export function fileCrcExpr(name: string): string {
  return `(function(s){var d=s.read(${JSON.stringify(name)});return d===undefined?null:E.CRC32(d)})(${S})`;
}

export function writeFileExpr(name: string, content: string): string {
  return `(function(s){s.write(${JSON.stringify(name)},${byteLiteral(content)});var d=s.read(${JSON.stringify(name)});return d===undefined?null:E.CRC32(d)})(${S})`;
}

export function eraseExpr(names: string[]): string {
  return `(function(s){${names.map((n) => `s.erase(${JSON.stringify(n)});`).join('')}return 1})(${S})`;
}

/** Copies the verified staging file to .bootcde (read is memory-mapped: no RAM copy on a board). */
export const COMMIT_CODE_EXPR = `(function(s){s.erase("${FILES.boot}");s.write("${FILES.boot}",s.read("${FILES.staging}"));var d=s.read("${FILES.boot}");return d===undefined?null:{n:d.length,c:E.CRC32(d)}})(${S})`;

/** Moves the staged identity into place and tidies up. */
export function commitIdentityExpr(eraseFobState: boolean): string {
  const extra = eraseFobState
    ? `s.list(/^${FILES.outbox}/).forEach(function(f){s.erase(f)});s.erase("${FILES.outboxMark}");s.erase("${FILES.legacyOutbox}");s.erase("${FILES.bootCount}");`
    : '';
  return `(function(s){var n=s.read("${FILES.identityNew}");if(n===undefined)return null;s.write("${FILES.identity}",n);${extra}s.erase("${FILES.identityNew}");s.erase("${FILES.staging}");return E.CRC32(s.read("${FILES.identity}"))})(${S})`;
}

/** After LW:up: the console still answers here, and the firmware's global agrees. */
export const READBACK_EXPR = `typeof LW==="undefined"?null:{v:LW.v,id:LW.id,up:LW.up||0}`;

/** Removes the given boot files and lists what is left of them (empty when all went). */
export function removeBootFilesExpr(names: string[]): string {
  return `(function(s){${names.map((n) => `s.erase(${JSON.stringify(n)});`).join('')}return s.list(/^\\.boot/).filter(function(n){return n!=="${FILES.boot}"})})(${S})`;
}

/** "2v29" -> [2, 29]; "2v29.12" -> [2, 29.012] (a cutting-edge build after 2v29). */
export function parseEspruinoVersion(v: string): [number, number] | null {
  const m = /^(\d+)v(\d+)(?:\.(\d+))?/.exec(v);
  if (!m) return null;
  return [Number(m[1]), Number(m[2]) + (m[3] ? Number(m[3]) / 1000 : 0)];
}

export function versionAtLeast(v: string, min: string): boolean {
  const a = parseEspruinoVersion(v);
  const b = parseEspruinoVersion(min);
  if (!a || !b) return false;
  return a[0] !== b[0] ? a[0] > b[0] : a[1] >= b[1];
}

export interface Identity {
  id: string;
  pw: string;
  h: string;
  p: number;
  /** Issue 19: every edge, `[host, port]`, in the order the RAK5010 tries them (the first is h/p). */
  hs?: [string, number][];
  /** The fob's wiring (firmware/src/wiring.ts): which pin is the button, buzzer, motor, LED, battery. */
  w?: Wiring;
  /** RAK5010 over TLS (issue 17): the CA's file name on the modem (caFileName); absent: plain MQTT. */
  t?: string;
  /** RAK5010 with a client certificate (issue 17): its files' base name on the modem (clientCertBaseName). */
  c?: string;
  /** Puck.js (issue 17): the BLE passkey, 6 digits (firmware/flash/ble-passkey.ts). */
  pk?: string;
}

export function identityJson(id: Identity): string {
  return JSON.stringify({
    id: id.id,
    pw: id.pw,
    h: id.h,
    p: id.p,
    ...(id.hs ? { hs: id.hs } : {}),
    ...(id.w ? { w: id.w } : {}),
    ...(id.t ? { t: id.t } : {}),
    ...(id.c ? { c: id.c } : {}),
    ...(id.pk ? { pk: id.pk } : {}),
  });
}

/**
 * The CA's file name on the BG96, from its content: a changed CA is a new name, so the firmware's
 * AT+QFLST check sees that the modem lacks it and uploads it. 8.3 form, as the BG96 FILE AT Commands
 * Manual (§2.4 AT+QFUPL, note 1) recommends: "lw" + 6 hex digits of the CRC-32 + ".pem".
 */
export function caFileName(pem: string): string {
  return `lw${crcOf(pem).toString(16).padStart(8, '0').slice(0, 6)}.pem`;
}
