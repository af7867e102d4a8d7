/**
 * One board, from probe to read-back, over a ConsoleLink (serial or dry run). The order keeps the
 * board in a known state whatever goes wrong:
 *
 *   1. probe (board, Espruino version, what Storage holds): nothing written yet; a wrong board,
 *      an old Espruino or a board already flashed with this device stops here untouched;
 *   2. identity decided (the caller registers the device, or checks an existing registration);
 *   3. reset(): the running firmware stops (RAM cleared, flash untouched);
 *   4. the identity goes to "lw.new", the bundle to "lw.up" in verified chunks: each chunk is
 *      written at its offset and its CRC read back. An interrupted upload leaves "lw.up"
 *      partly written (unwritten bytes read 0xFF) and the old .bootcde/lw.json untouched; the next
 *      run reads the CRC of every chunk already there and sends only the missing ones;
 *   5. commit: lw.up is copied to .bootcde and verified, lw.new becomes lw.json, staging erased;
 *   6. load(): the board restarts and runs the new firmware; LW.v and LW.id are read back.
 */
import { FIRMWARE_VERSION } from '../src/version.js';
import { FlashError, type ConsoleLink } from './espruino-link.js';
import {
  BOARD_ENV,
  CHUNK_BYTES,
  COMMIT_CODE_EXPR,
  FILES,
  MIN_ESPRUINO,
  PROBE_EXPR,
  READBACK_EXPR,
  chunksOf,
  commitIdentityExpr,
  crcOf,
  eraseExpr,
  fileCrcExpr,
  writeFileChunkExpr,
  identityJson,
  stagingCrcsExpr,
  toBytes,
  versionAtLeast,
  writeChunkExpr,
  writeFileExpr,
  type Identity,
  type ProbeResult,
} from './wire.js';

export interface SessionOptions {
  board: 'puck' | 'rak5010';
  deviceId: string;
  code: string;
  /** Seconds to wait for the board's first answer. */
  timeoutS: number;
  /** RAK5010 over TLS: the pinned CA (PEM), written to Storage lw.ca beside the identity. */
  ca?: string;
  /** Decides the identity once the board has been probed (registers, or checks a registration). */
  identity(probe: ProbeResult): Promise<Identity>;
  progress?(p: { done: number; total: number; chunk: number; chunks: number; resumed: number }): void;
  note?(line: string): void;
  /** The identity (with its secret) is on the board, verified, in lw.new. */
  identityStaged?(): void;
  /** Called just before load(), when the new firmware is about to start. */
  beforeStart?(): Promise<void>;
}

export interface SessionResult {
  boardEnv: string;
  espruino: string;
  bytes: number;
  chunks: number;
  chunksResumed: number;
  chunksWritten: number;
  identity: Identity;
  readback: { v: string; id: string } | null;
  previousId: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function probe(link: ConsoleLink, board: 'puck' | 'rak5010', timeoutS: number): Promise<ProbeResult> {
  const fresh: ProbeResult = { b: BOARD_ENV[board], v: MIN_ESPRUINO, id: null, nw: null, boot: null, up: null };
  // Ctrl-C first: whatever half-typed line the console holds is thrown away.
  await link.send('\x03');
  let lastErr: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return await link.request<ProbeResult>(PROBE_EXPR, { timeoutMs: (timeoutS * 1000) / 2, fresh });
    } catch (err) {
      if (!(err instanceof FlashError) || err.code !== 'silent') throw err;
      lastErr = err;
      await link.send('\x03');
    }
  }
  throw new FlashError(
    `the board is not responding: no answer from the Espruino console within ${timeoutS} s (${(lastErr as Error).message})`,
    'check it is powered and wired (TX/RX crossed, common ground), that the baud rate is right (--baud, 9600 by default), and that its code has not taken the console: power-cycle it, or hold the button while powering it to skip its code',
    'silent',
  );
}

export function checkBoard(p: ProbeResult, board: 'puck' | 'rak5010'): void {
  const want = BOARD_ENV[board];
  if (p.b !== want) {
    const other = Object.entries(BOARD_ENV).find(([, env]) => env === p.b)?.[0];
    throw new FlashError(
      `wrong board: it reports ${JSON.stringify(p.b)} (Espruino ${p.v}), but --board ${board} needs a ${want}`,
      other ? `use --board ${other} for this board, or connect a ${want}` : `connect a ${want}; this firmware does not run on ${p.b}`,
      'board',
    );
  }
  if (!versionAtLeast(String(p.v), MIN_ESPRUINO)) {
    throw new FlashError(
      `Espruino ${p.v} on this ${p.b} is too old: the firmware needs ${MIN_ESPRUINO} or later`,
      `update the board's Espruino firmware first (https://www.espruino.com/Firmware+Update), then run the command again`,
      'version',
    );
  }
}

export async function flashBoard(link: ConsoleLink, o: SessionOptions): Promise<SessionResult> {
  const note = o.note ?? (() => undefined);
  const p = await probe(link, o.board, o.timeoutS);
  checkBoard(p, o.board);
  const identity = await o.identity(p);
  const previousId = p.id && typeof p.id.id === 'string' ? p.id.id : null;

  // Stop whatever runs; Storage is untouched by reset().
  await link.send('\x10reset()\n');
  await link.drain(600);

  const bytes = toBytes(o.code);
  const total = bytes.length;
  const chunks = chunksOf(bytes);
  const ident = identityJson(identity);
  const staged = p.nw && identityJson(p.nw as Identity) === ident;
  if (!staged) {
    const crc = await link.request<number | null>(writeFileExpr(FILES.identityNew, ident), { timeoutMs: 5000, fresh: crcOf(ident) });
    if (crc !== crcOf(ident)) throw new FlashError(`writing ${FILES.identityNew} failed: read back a different CRC`, 'run the command again', 'verify');
  }
  if (o.ca !== undefined) {
    // Issue 17: the CA goes in verified pieces (a request line stays short), like the bundle.
    const ca = toBytes(o.ca);
    for (const c of chunksOf(ca)) await link.request(writeFileChunkExpr(FILES.ca, c, ca.length), { timeoutMs: 5000, fresh: c.crc });
    const crc = await link.request<number | null>(fileCrcExpr(FILES.ca), { timeoutMs: 5000, fresh: crcOf(ca) });
    if (crc !== crcOf(ca)) throw new FlashError(`writing ${FILES.ca} (the pinned CA) failed: read back a different CRC`, 'run the command again', 'verify');
  }
  o.identityStaged?.();

  // Resume: which chunks of this very bundle are already in the staging file?
  const done = new Set<number>();
  if (p.up) {
    let restart = p.up.n !== total;
    if (!restart) {
      const got = await link.request<{ n: number; c: number[] } | null>(stagingCrcsExpr(), { timeoutMs: 8000 });
      if (!got || got.n !== total || got.c.length !== chunks.length) restart = true;
      else {
        for (const c of chunks) {
          const blank = crcOf('\xff'.repeat(c.bytes.length));
          if (got.c[c.index] === c.crc) done.add(c.index);
          else if (got.c[c.index] !== blank) restart = true;
        }
        // Chunk 0 is what created the file: without it the file is not ours.
        if (!done.has(0)) restart = true;
      }
    }
    if (restart) {
      done.clear();
      note(`a different or damaged partial upload is on the board: starting the upload again`);
      await link.request(eraseExpr([FILES.staging]), { timeoutMs: 5000, fresh: 1 });
    } else if (done.size > 0) {
      note(`resuming an interrupted upload: ${done.size} of ${chunks.length} chunks (${chunks.filter((c) => done.has(c.index)).reduce((n, c) => n + c.bytes.length, 0)} bytes) are already on the board and verified`);
    }
  }
  const resumed = done.size;
  let doneBytes = chunks.filter((c) => done.has(c.index)).reduce((n, c) => n + c.bytes.length, 0);
  let written = 0;
  o.progress?.({ done: doneBytes, total, chunk: done.size, chunks: chunks.length, resumed });
  for (const c of chunks) {
    if (done.has(c.index)) continue;
    let crc: number | null;
    try {
      crc = await link.request<number | null>(writeChunkExpr(c, total), { timeoutMs: 5000, fresh: c.crc });
    } catch (err) {
      if (err instanceof FlashError && err.code === 'silent') {
        throw new FlashError(
          `upload interrupted at byte ${c.offset} of ${total} (chunk ${c.index + 1} of ${chunks.length}): the board stopped answering`,
          'reconnect (or power) the board and run the same command again: the chunks already written are verified and kept, the upload resumes where it stopped; until then the board keeps its previous firmware and identity',
          'interrupted',
        );
      }
      throw err;
    }
    if (crc !== c.crc) {
      throw new FlashError(
        `chunk ${c.index + 1} of ${chunks.length} did not verify (CRC ${crc} instead of ${c.crc})`,
        'run the command again: a damaged partial upload is detected and restarted',
        'verify',
      );
    }
    written++;
    doneBytes += c.bytes.length;
    o.progress?.({ done: doneBytes, total, chunk: c.index + 1, chunks: chunks.length, resumed });
  }

  const code = await link.request<{ n: number; c: number } | null>(COMMIT_CODE_EXPR, { timeoutMs: 8000, fresh: { n: total, c: crcOf(bytes) } });
  if (!code || code.n !== total || code.c !== crcOf(bytes)) {
    throw new FlashError(`${FILES.boot} did not verify after the copy (${JSON.stringify(code)})`, 'run the command again', 'verify');
  }
  const idCrc = await link.request<number | null>(commitIdentityExpr(previousId !== identity.id), { timeoutMs: 5000, fresh: crcOf(ident) });
  if (idCrc !== crcOf(ident)) throw new FlashError(`${FILES.identity} did not verify (CRC ${idCrc})`, 'run the command again', 'verify');

  await o.beforeStart?.();
  // Restart with the new code, as at power-on.
  await link.send('\x10load()\n');
  await link.drain(800);
  let readback: { v: string; id: string } | null = null;
  const until = Date.now() + 8000;
  for (;;) {
    try {
      readback = await link.request<{ v: string; id: string } | null>(READBACK_EXPR, { timeoutMs: 2000, fresh: { v: FIRMWARE_VERSION, id: identity.id } });
      if (readback || link.dryRun) break;
    } catch (err) {
      if (!(err instanceof FlashError) || err.code !== 'silent') throw err;
    }
    if (Date.now() > until) break;
    await sleep(300);
  }
  return {
    boardEnv: p.b,
    espruino: p.v,
    bytes: total,
    chunks: chunks.length,
    chunksResumed: resumed,
    chunksWritten: written,
    identity,
    readback,
    previousId,
  };
}

export { CHUNK_BYTES, FIRMWARE_VERSION };
