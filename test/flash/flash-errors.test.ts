/**
 * Issue 8: every bad situation gets a clear message and leaves the board in a known state. The CLI
 * is the real one (run in-process: flash-in-process.ts), over a real pty (socat) to the virtual Espruino board.
 */
import { describe, expect, it } from 'vitest';
import { SerialPort } from 'serialport';
import { startVirtualBoard } from '../helpers/virtual-espruino/harness.js';
import { flash } from '../helpers/virtual-espruino/flash-in-process.js';
import { useFlashBench } from '../helpers/virtual-espruino/flash-bench.js';
import { verifySecret } from '../../hub/device-secrets.js';
import { CHUNK_BYTES } from '../../firmware/flash/wire.js';

const bench = useFlashBench();
const flashArgs = (board: string, device: string, ...extra: string[]): string[] => [
  '--port',
  bench.pty.host,
  '--board',
  board,
  '--device',
  device,
  '--hub-host',
  '127.0.0.1',
  '--allow-localhost',
  '--hub-port',
  String(bench.hub.mqttPort),
  ...extra,
];
const registered = (id: string) => bench.hub.hub.store.read((tx) => tx.getDevice(id));

/** A Puck.js flashed through a virtual board armed with one fault (a board-runner command) that is seen to happen. */
async function flashWithFault(fault: { cmd: string; n: number }, happened: string, device: string) {
  const board = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS' });
  bench.vb = board;
  board.send(fault);
  await board.waitFor((e) => e.ev === 'armed');
  const r = await flash(flashArgs('puck', device), bench.env());
  expect(board.events.some((e) => e.ev === happened)).toBe(true);
  return { r, board };
}


/** Storage files and writes other than the firmware's own uptime mark (FOB_STORAGE.outboxMark). */
const FIRMWARE_MARK = 'lw-up';
const toolFiles = <T,>(files: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(files).filter(([n]) => n !== FIRMWARE_MARK));
const byTool = <T extends { name: string }>(writes: T[]): T[] => writes.filter((w) => w.name !== FIRMWARE_MARK);

describe('lonewatch flash: bad situations', () => {
  it('a missing port: says so, registers nothing', async () => {
    const r = await flash(flashArgs('rak5010', 'fob-x').map((a) => (a === bench.pty.host ? `${bench.pty.dir}/ttyUSB9` : a)), bench.env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`serial port ${bench.pty.dir}/ttyUSB9 does not exist`);
    // A RAK5010 on a USB-serial adapter's name: told where its console really is.
    expect(r.stdout).toContain(`note: ${bench.pty.dir}/ttyUSB9 looks like a USB-serial adapter; a RAK5010 has its console on its own USB socket (usually /dev/ttyACM0)`);
    expect(r.stderr).toContain('what to do: plug the cable in, and check the name with `lonewatch flash --list`');
    expect(await registered('fob-x')).toBeNull();
  }, 120_000);

  it('a busy port (another program has it open): says so, the board is untouched', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'RAK5010' });
    const other = new SerialPort({ path: bench.pty.host, baudRate: 9600, lock: true });
    await new Promise<void>((resolve, reject) => other.once('open', resolve).once('error', reject));
    try {
      const r = await flash(flashArgs('rak5010', 'fob-x'), bench.env());
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/serial port .*host is busy: another program has it open/);
      expect(r.stderr).toContain('what to do: close the other terminal');
    } finally {
      await new Promise((r) => other.close(r));
    }
    const s = await bench.vb.state();
    expect(s.writes).toEqual([]);
    expect(s.files).toEqual({});
    expect(await registered('fob-x')).toBeNull();
  }, 120_000);

  it('a board that does not answer: times out with a clear message, registers nothing', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'RAK5010', silent: true });
    const r = await flash(flashArgs('rak5010', 'fob-x', '--timeout', '2'), bench.env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the board is not responding: no answer from the Espruino console within 2 s');
    expect(r.stderr).toContain('what to do: check it is powered and on the port its console uses: a RAK5010 has its console on its own USB socket');
    const s = await bench.vb.state();
    expect(s.writes).toEqual([]);
    expect(s.files).toEqual({});
    expect(await registered('fob-x')).toBeNull();
  }, 120_000);

  it('the wrong board, or an Espruino too old: refused before anything is written', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS' });
    const r = await flash(flashArgs('rak5010', 'fob-x'), bench.env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('wrong board: it reports "PUCKJS" (Espruino 2v29), but --board rak5010 needs a RAK5010');
    expect(r.stderr).toContain('what to do: use --board puck for this board, or connect a RAK5010');
    expect((await bench.vb.state()).writes).toEqual([]);
    expect(await registered('fob-x')).toBeNull();
    await bench.vb.stop();

    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'RAK5010', version: '2v19' });
    const old = await flash(flashArgs('rak5010', 'fob-x'), bench.env());
    expect(old.code).toBe(1);
    expect(old.stderr).toContain('Espruino 2v19 on this RAK5010 is too old: the firmware needs 2v29 or later');
    expect((await bench.vb.state()).writes).toEqual([]);
    expect(await registered('fob-x')).toBeNull();
  }, 120_000);

  it('R18: an upload interrupted half-way: a clear message, the board keeps what it had, and the retry resumes', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'RAK5010', modemRedirect: '127.0.0.1' });
    // Writes 1-6 (lw.new, then chunks 1-5) are answered; write 7 (chunk 6) is done, but the cable is
    // pulled before its answer gets back.
    bench.vb.send({ cmd: 'dropAfterWrites', n: 6 });
    await bench.vb.waitFor((e) => e.ev === 'armed');
    const first = await flash(flashArgs('rak5010', 'fob-002', '--wait', '0'), bench.env());
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('upload interrupted at byte 2560 of');
    // The chunk count follows from the bundle's size (512-byte chunks), which the build changes.
    const total = Number(/upload interrupted at byte 2560 of (\d+)/.exec(first.stderr)?.[1]);
    expect(first.stderr).toContain(`(chunk 6 of ${Math.ceil(total / CHUNK_BYTES)}): the board stopped answering`);
    // The link's own reason is kept: how long the tool waited (and an XOFF held, had there been one).
    expect(first.stderr).toMatch(/the board stopped answering \(the board on \S+ did not answer within 5\.0 s; it printed nothing since the request\)/);
    expect(first.stderr).toContain('run the same command again: the chunks already written are verified and kept');
    // The board: nothing in place of the firmware or identity; the staging files hold the progress.
    const files = await bench.vb.files();
    expect(files['.bootcde']).toBeUndefined();
    expect(files['lw.json']).toBeUndefined();
    expect(JSON.parse(files['lw.new']).id).toBe('fob-002');
    // The staging file is made at the bundle's full size; the chunk never acknowledged is still blank.
    expect(files['lw.up'].length).toBe(total);
    expect(files['lw.up'].slice(3072, 3584)).toBe('\xff'.repeat(512));
    // The hub has it registered; the secret lives on the board (lw.new), never on the hub.
    const device = await registered('fob-002');
    expect(device).not.toBeNull();
    expect(await verifySecret(JSON.parse(files['lw.new']).pw, device!.secretHash)).toBe(true);

    // Cable back in (the board powers up again); the same command resumes.
    bench.vb.send({ cmd: 'silent', on: false });
    await bench.vb.waitFor((e) => e.ev === 'silent');
    const writesBefore = (await bench.vb.state()).writes.length;
    const again = await flash(flashArgs('rak5010', 'fob-002', '--wait', '30'), bench.env());
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("using fob-002's registration (secret from interrupted flash, checked against the hub)");
    expect(again.stdout).toContain(`resuming an interrupted upload: 6 of ${Math.ceil(total / CHUNK_BYTES)} chunks (3072 bytes) are already on the board and verified`);
    const chunks = Math.ceil(total / CHUNK_BYTES);
    expect(again.stdout).toContain(`${chunks} chunks (${chunks - 6} written, 6 resumed)`);
    expect(again.stdout).toMatch(/hub\s+hello received after/);
    const s = await bench.vb.state();
    const staged = s.writes.slice(writesBefore).filter((w) => w.name === 'lw.up');
    expect(staged[0].offset).toBe(3072);
    expect(staged).toHaveLength(chunks - 6);
    expect(s.lw).toEqual({ v: '0.1.0', id: 'fob-002' });
  }, 90_000);

  it('R18: one request line that loses its line end on the way: the tool clears the line, sees the chunk is not there, sends it again, and the flash completes', async () => {
    // Line ends 1-5 arrive (the probe, reset(), lw.new, chunks 1 and 2); the sixth, chunk 3's, is lost.
    const { r, board } = await flashWithFault({ cmd: 'loseLineEnd', n: 5 }, 'lineEndLost', 'fob-005');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/chunk 3 of \d+: no answer \(the board on \S+ did not answer within 5\.0 s; it printed nothing since the request\); the console line was cleared and the chunk sent again/);
    expect(r.stdout).toContain('OK: fob-005 flashed and started');
    // Every chunk written once, none twice: the lost line never ran.
    const staged = (await board.state()).writes.filter((w) => w.name === 'lw.up').map((w) => w.offset);
    expect(staged).toEqual([...new Set(staged)]);
    expect(staged).toContain(2 * CHUNK_BYTES);
  }, 60_000);

  it('R18: a chunk written whose answer is lost on the way back: the tool reads the chunk back instead of writing it twice', async () => {
    // Writes 1-3 (lw.new, chunks 1 and 2) are answered; write 4 (chunk 3) is done and its answer lost.
    const { r, board } = await flashWithFault({ cmd: 'loseAnswerAfterWrites', n: 3 }, 'answerLost', 'fob-006');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/chunk 3 of \d+: its answer did not come \(the board on \S+ did not answer within 5\.0 s; it printed nothing since the request\); the board has the chunk, verified/);
    expect(r.stdout).toContain('OK: fob-006 flashed and started');
    // Written again, the board would have refused (2v29: "File already written with different data").
    const staged = (await board.state()).writes.filter((w) => w.name === 'lw.up' && w.offset === 2 * CHUNK_BYTES);
    expect(staged).toHaveLength(1);
  }, 60_000);

  it('a device already flashed on this board: refused unless --force (which keeps its secret); another device on it too', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS' });
    const ok = await flash(flashArgs('puck', 'fob-003'), bench.env());
    expect(ok.code).toBe(0);
    const before = await bench.vb.state();
    const pw = JSON.parse((await bench.vb.files())['lw.json']).pw;

    const again = await flash(flashArgs('puck', 'fob-003'), bench.env());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('fob-003 is already flashed: this board holds its identity and the hub has it registered');
    expect(again.stderr).toContain('run with --force: its identity and secret are kept');
    // The running firmware keeps writing its own uptime mark (lw-up) while its hello waits for a
    // phone: a refused flash must change nothing else on the board.
    const after = await bench.vb.state();
    expect(byTool(after.writes)).toHaveLength(byTool(before.writes).length);
    expect(toolFiles(after.files)).toEqual(toolFiles(before.files));

    const other = await flash(flashArgs('puck', 'fob-004'), bench.env());
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('this board is already provisioned as fob-003, not fob-004');
    expect(await registered('fob-004')).toBeNull();
    expect(toolFiles((await bench.vb.state()).files)).toEqual(toolFiles(before.files));

    const forced = await flash(flashArgs('puck', 'fob-003', '--force'), bench.env());
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain("using fob-003's registration (secret from board, checked against the hub)");
    expect(JSON.parse((await bench.vb.files())['lw.json']).pw).toBe(pw);
    expect((await bench.vb.state()).lw).toEqual({ v: '0.1.0', id: 'fob-003' });
  }, 120_000);

  it('a device registered elsewhere: needs its secret (checked against the hub), never reads it from the hub', async () => {
    const { secret } = await bench.hub.addDevice('fob-005');
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS' });
    const none = await flash(flashArgs('puck', 'fob-005'), bench.env());
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('fob-005 is already registered with the hub, which keeps only a hash of its secret, and this board does not hold it');
    expect(none.stderr).toContain('pass the secret printed when fob-005 was registered with --secret');
    const wrong = await flash(flashArgs('puck', 'fob-005', '--secret', 'not-the-secret'), bench.env());
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("the --secret given does not match fob-005's registration on the hub");
    expect((await bench.vb.state()).writes).toEqual([]);
    const right = await flash(flashArgs('puck', 'fob-005', '--secret', secret), bench.env());
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toContain('secret from --secret');
    expect(JSON.parse((await bench.vb.files())['lw.json']).pw).toBe(secret);
  }, 120_000);
});
