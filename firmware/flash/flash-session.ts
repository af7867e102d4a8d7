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
 *      run reads the CRC of every chunk already there and sends only the missing ones. One lost line
 *      or answer within a run is recovered once per chunk (writeChunk, below);
 *   5. commit: lw.up is copied to .bootcde and verified, lw.new becomes lw.json, staging erased;
 *   6. load(): the board restarts and runs the new firmware; what it prints from then on is watched
 *      for the firmware's `LW:up <version> <board> <id>` line (or `LW:fault ...`, or an
 *      `Uncaught ...` from Espruino): only LW:up with this version and id is a started fob
 *      (boot-check.ts), then LW is read back to see that the console still answers.
 *
 * Stray boot files (.boot0-.boot3, .bootrst, .bootPowerOn: Espruino runs them besides .bootcde) are
 * listed by the probe and removed once the identity is decided, before reset(), unless kept on the
 * engineer's request.
 */
import { CLEANUP_EXPR, STATE_EXPR, checkUpload, qfuplChecksum, stageExprs, uploaderExpr } from './modem-files.js';
import { FIRMWARE_VERSION } from '../src/version.js';
import { FlashError, PortClosedError, type ConsoleLink } from './espruino-link.js';
import { CONSOLE_PORT } from './console-port.js';
import { explainSilence, judgeBoot, needsMoreDetail, type BootVerdict } from './boot-check.js';
import {
  BOARD_ENV,
  CHUNK_BYTES,
  COMMIT_CODE_EXPR,
  FILES,
  MIN_ESPRUINO,
  PROBE_EXPR,
  READBACK_EXPR,
  chunksOf,
  removeBootFilesExpr,
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
  blankCrc,
  chunkCrcExpr,
  type Chunk,
  writeFileExpr,
  type BootFile,
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
  /**
   * RAK5010 with a client certificate (issue 17): uploaded to the modem's own file system through
   * the console (firmware/flash/modem-files.ts), as `<base>.crt` and `<base>.key`.
   */
  clientCert?: { base: string; cert: string; key: string };
  /** Decides the identity once the board has been probed (registers, or checks a registration). */
  identity(probe: ProbeResult): Promise<Identity>;
  progress?(p: { done: number; total: number; chunk: number; chunks: number; resumed: number }): void;
  note?(line: string): void;
  /** The identity (with its secret) is on the board, verified, in lw.new. */
  identityStaged?(): void;
  /** Called just before load(), when the new firmware is about to start. */
  beforeStart?(): Promise<void>;
  /** Leave stray boot files (.boot0-.boot3 ...) on the board (--keep-boot-files). */
  keepBootFiles?: boolean;
  /** Seconds the firmware has, after load(), to print LW:up (default 10). */
  bootWaitS?: number;
}

/** How the new firmware's start went (after load()). */
export interface StartResult {
  verdict: BootVerdict;
  /** Everything the board printed after load(), as received. */
  output: string;
  /** LW as read back after the verdict (null: the console did not answer, or no LW). */
  readback: { v: string; id: string; up: number } | null;
  /** For a start that was not LW:up and not an error line: what to tell the engineer. */
  silence?: { message: string; hint: string };
}

export interface SessionResult {
  boardEnv: string;
  espruino: string;
  bytes: number;
  chunks: number;
  chunksResumed: number;
  chunksWritten: number;
  identity: Identity;
  /** Null on a dry run (nothing runs). */
  start: StartResult | null;
  previousId: string | null;
  /** Boot files other than .bootcde found by the probe. */
  bootFiles: BootFile[];
  /** Whether those were removed (false when kept, or there were none). */
  bootFilesRemoved: boolean;
}

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
    `${consoleHint(board)}; check the baud rate (--baud, 9600 by default) and that its code has not taken the console: power-cycle it, or hold the button while powering it to skip its code`,
    'silent',
  );
}

export function consoleHint(board: 'puck' | 'rak5010'): string {
  return `check it is powered and on the port its console uses: ${CONSOLE_PORT[board]}`;
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

  // Stray boot code runs at every reset and start, before our .bootcde: away with it first (issue 14),
  // so that neither our reset() nor the new firmware's start runs it.
  const bootFiles = p.bf ?? [];
  let bootFilesRemoved = false;
  if (bootFiles.length > 0 && !o.keepBootFiles) {
    const left = await link.request<string[]>(removeBootFilesExpr(bootFiles.map((f) => f.n)), { timeoutMs: 5000, fresh: [] });
    const stuck = bootFiles.filter((f) => left.includes(f.n));
    if (stuck.length > 0) {
      throw new FlashError(`could not remove ${stuck.map((f) => f.n).join(', ')} from the board`, 'run the command again; if it stays, `lonewatch console` and require("Storage").erase(name)', 'verify');
    }
    bootFilesRemoved = true;
  }

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
          if (got.c[c.index] === c.crc) done.add(c.index);
          else if (got.c[c.index] !== blankCrc(c)) restart = true;
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
    const crc = await writeChunk(link, c, total, chunks.length, note);
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

  // Issue 17: the client certificate and key onto the modem before anything is committed, so a
  // modem that does not take them leaves the board's previous firmware and identity in place.
  if (o.clientCert) await uploadToModem(link, o.clientCert, note);

  const code = await link.request<{ n: number; c: number } | null>(COMMIT_CODE_EXPR, { timeoutMs: 8000, fresh: { n: total, c: crcOf(bytes) } });
  if (!code || code.n !== total || code.c !== crcOf(bytes)) {
    throw new FlashError(`${FILES.boot} did not verify after the copy (${JSON.stringify(code)})`, 'run the command again', 'verify');
  }
  const idCrc = await link.request<number | null>(commitIdentityExpr(previousId !== identity.id), { timeoutMs: 5000, fresh: crcOf(ident) });
  if (idCrc !== crcOf(ident)) throw new FlashError(`${FILES.identity} did not verify (CRC ${idCrc})`, 'run the command again', 'verify');

  await o.beforeStart?.();
  // Restart with the new code, as at power-on, and watch what it prints.
  const since = link.mark();
  await link.send('\x10load()\n');
  const start = link.dryRun ? null : await watchStart(link, since, { board: o.board, deviceId: identity.id, port: link.path, seconds: o.bootWaitS ?? 10 });
  return {
    boardEnv: p.b,
    espruino: p.v,
    bytes: total,
    chunks: chunks.length,
    chunksResumed: resumed,
    chunksWritten: written,
    identity,
    start,
    previousId,
    bootFiles,
    bootFilesRemoved,
  };
}

/**
 * One chunk of the bundle, written and its CRC read back. A chunk whose answer does not come is not
 * yet a lost board: a byte dropped on the way (a noisy cable; Espruino's input queue full, which it
 * reports only as FIFO_FULL) leaves the request line unfinished, and Espruino waits for the rest of
 * it. So once, the tool clears the console's input line (Ctrl-C) and asks for the CRC of the chunk's
 * bytes as they are on the board (read-only): the chunk is there (only its answer was lost), or the
 * region is still blank (the line never ran) and the chunk is sent again. The request is not simply
 * repeated: Espruino 2v29 refuses a second write over bytes already written, even the same bytes
 * ("File already written with different data", seen on the interpreter). A board that stays silent
 * after that is an interrupted upload, as before.
 */
async function writeChunk(link: ConsoleLink, c: Chunk, total: number, count: number, note: (line: string) => void): Promise<number | null> {
  const which = `chunk ${c.index + 1} of ${count}`;
  const interrupted = (err: FlashError): FlashError =>
    new FlashError(
      `upload interrupted at byte ${c.offset} of ${total} (${which}): ${err instanceof PortClosedError ? 'the serial port closed' : 'the board stopped answering'} (${err.message})`,
      'reconnect (or power) the board and run the same command again: the chunks already written are verified and kept, the upload resumes where it stopped; until then the board keeps its previous firmware and identity',
      'interrupted',
    );
  const silent = (err: unknown): err is FlashError => err instanceof FlashError && err.code === 'silent';
  const write = (): Promise<number | null> => link.request<number | null>(writeChunkExpr(c, total), { timeoutMs: 5000, fresh: c.crc });
  let first: FlashError;
  try {
    return await write();
  } catch (err) {
    if (!silent(err)) throw err;
    // A closed port is not a lost line: nothing to clear, nothing more to ask.
    if (err instanceof PortClosedError) throw interrupted(err);
    first = err;
  }
  await link.send('\x03');
  let now: number | null;
  try {
    // A short read (about 130 bytes, 0.14 s at 9600 baud, then a CRC of 512 bytes): a board that
    // answers at all answers it within 2 s.
    now = await link.request<number | null>(chunkCrcExpr(c), { timeoutMs: 2000, fresh: c.crc });
  } catch (err) {
    if (silent(err)) throw interrupted(first);
    throw err;
  }
  if (now === c.crc) {
    note(`${which}: its answer did not come (${first.message}); the board has the chunk, verified`);
    return now;
  }
  if (now !== null && now !== blankCrc(c)) return now;
  note(`${which}: no answer (${first.message}); the console line was cleared and the chunk sent again`);
  try {
    return await write();
  } catch (err) {
    if (silent(err)) throw interrupted(err);
    throw err;
  }
}

/** Stages the client certificate and key in the board's RAM, runs the uploader, checks the modem's answers. */
async function uploadToModem(link: ConsoleLink, c: { base: string; cert: string; key: string }, note: (line: string) => void): Promise<void> {
  const files = [
    { name: `${c.base}.crt`, content: toBytes(c.cert) },
    { name: `${c.base}.key`, content: toBytes(c.key) },
  ];
  note(`uploading the client certificate and key to the modem (AT+QFUPL) as ${files[0]!.name} and ${files[1]!.name}...`);
  for (let i = 0; i < files.length; i++) for (const e of stageExprs(i, files[i]!.content)) await link.request(e, { timeoutMs: 5000, fresh: 0 });
  const fresh = { s: 'done', r: files.map((f) => `+QFUPL: ${f.content.length},${qfuplChecksum(f.content)}`), e: '' };
  await link.request(uploaderExpr(files.map((f) => f.name)), { timeoutMs: 5000, fresh: 1 });
  // [FILE] §2.4: the upload's <timeout> is 10 s a file; the modem answers well within that.
  const deadline = Date.now() + 30_000;
  type UploadState = { s: string; r: string[]; e: string } | null;
  let st: UploadState = null;
  for (;;) {
    st = await link.request<UploadState>(STATE_EXPR, { timeoutMs: 5000, fresh });
    if (!st || st.s !== 'run' || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await link.request(CLEANUP_EXPR, { timeoutMs: 5000, fresh: 1 });
  const modemSaid = st && st.r.length ? ` (the modem said: ${st.r.slice(-4).join(' | ')})` : ' (the modem said nothing)';
  if (!st || st.s !== 'done') {
    throw new FlashError(
      st?.s === 'fail' ? `the modem refused the client certificate upload: ${st.e}${modemSaid}` : `the modem did not finish the client certificate upload within 30 s${modemSaid}`,
      'check that the BG96 is powered and answers on Serial1 (lonewatch console: Serial1.setup(115200,{tx:D6,rx:D8})), then run the same command again; the board keeps its previous firmware and identity',
      'verify',
    );
  }
  const bad = checkUpload(st.r, files);
  if (bad) throw new FlashError(`the client certificate did not reach the modem whole: ${bad}`, 'run the same command again; the board keeps its previous firmware and identity', 'verify');
}

async function readBack(link: ConsoleLink): Promise<{ v: string; id: string; up: number } | null> {
  try {
    return await link.request<{ v: string; id: string; up: number } | null>(READBACK_EXPR, { timeoutMs: 2500 });
  } catch (err) {
    if (err instanceof FlashError && err.code === 'silent') return null;
    throw err;
  }
}

/** From load() on: the firmware's own word on its start (see boot-check.ts), then a read-back. */
async function watchStart(link: ConsoleLink, since: number, o: { board: 'puck' | 'rak5010'; deviceId: string; port: string; seconds: number }): Promise<StartResult> {
  const expect = { version: FIRMWARE_VERSION, deviceId: o.deviceId };
  let output = await link.watch(since, o.seconds * 1000, (t) => judgeBoot(t, expect).kind !== 'pending');
  let verdict = judgeBoot(output, expect);
  // Espruino prints where the exception was on the lines after it: give them up to 1.5 s to arrive
  // (only a failed start waits for it).
  if (needsMoreDetail(verdict)) {
    output = await link.watch(since, 1500, (t) => !needsMoreDetail(judgeBoot(t, expect)));
    verdict = judgeBoot(output, expect);
  }
  const readback = await readBack(link);
  if (verdict.kind !== 'pending') return { verdict, output, readback };
  return { verdict, output, readback, silence: explainSilence(output, readback !== null, { board: o.board, port: o.port, seconds: o.seconds }) };
}

export { CHUNK_BYTES, CONSOLE_PORT, FIRMWARE_VERSION };
