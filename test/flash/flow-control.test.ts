/**
 * Issue 14 part 4: the tool honours XON/XOFF from the board. Over a REAL pty (socat) the far end
 * plays the board's console: it sends XOFF (0x13) part-way through a long write and counts what
 * still arrives; the tool's SerialLink must stop within the piece already on its way and write
 * nothing more until XON (0x11). Plus the pure FlowControl rules.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SerialPort } from 'serialport';
import { FlowControl, PIECE_BYTES, XOFF, XON } from '../../firmware/flash/flow-control.js';
import { SerialLink } from '../../firmware/flash/espruino-link.js';
import { startPty, type Pty } from '../helpers/virtual-espruino/harness.js';

describe('FlowControl', () => {
  it('takes XON/XOFF out of what the board printed and pauses on XOFF until XON', async () => {
    let t = 1000;
    const f = new FlowControl(() => t);
    expect(f.receive(Buffer.from(`ab\x13cd`, 'latin1')).toString()).toBe('abcd');
    expect(f.isPaused).toBe(true);
    t += 250;
    expect(f.pausedFor()).toBe(250);
    const sent: string[] = [];
    const writing = f.write(Buffer.alloc(PIECE_BYTES * 2 + 1, 'x'), async (p) => {
      sent.push(p.toString());
    });
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([]);
    expect(f.receive(Buffer.from([XON])).length).toBe(0);
    await writing;
    expect(sent.map((s) => s.length)).toEqual([PIECE_BYTES, PIECE_BYTES, 1]);
    expect(f.xoffs).toBe(1);
    expect(f.written).toBe(PIECE_BYTES * 2 + 1);
    expect(f.drained).toBe(PIECE_BYTES * 2 + 1);
    expect(f.writtenAtXoff).toBe(0);
  });

  it('drained counts only the pieces whose write completed: a stalled port leaves it behind written', async () => {
    const f = new FlowControl();
    let release: () => void = () => undefined;
    const writing = f.write(Buffer.alloc(PIECE_BYTES + 10, 'x'), (p) => (p.length === PIECE_BYTES ? Promise.resolve() : new Promise<void>((r) => (release = r))));
    await new Promise((r) => setImmediate(r));
    expect(f.written).toBe(PIECE_BYTES + 10);
    expect(f.drained).toBe(PIECE_BYTES);
    release();
    await writing;
    expect(f.drained).toBe(PIECE_BYTES + 10);
  });

  it('a writer held by XOFF gives up when the port closes', async () => {
    const f = new FlowControl();
    f.receive(Buffer.from([XOFF]));
    const writing = f.write(Buffer.from('x'), async () => undefined);
    f.close();
    await expect(writing).rejects.toThrow('the port closed while the board held the tool off (XOFF)');
  });
});

describe('SerialLink over a pty honours XOFF', () => {
  let pty: Pty | null = null;
  let far: SerialPort | null = null;
  let link: SerialLink | null = null;
  afterEach(async () => {
    await link?.close();
    if (far?.isOpen) await new Promise((r) => far!.close(r));
    await pty?.stop();
  });

  it('stops writing on XOFF (nothing handed to the port after it; what the pty already held still arrives) and goes on after XON', async () => {
    pty = await startPty();
    far = new SerialPort({ path: pty.board, baudRate: 9600, lock: false });
    await new Promise<void>((resolve, reject) => far!.once('open', resolve).once('error', reject));
    let received = 0;
    let atXoff = -1;
    let xoffSent: () => void = () => undefined;
    const xoffDone = new Promise<void>((r) => (xoffSent = r));
    far.on('data', (d: Buffer) => {
      received += d.length;
      if (atXoff < 0 && received >= 300) {
        atXoff = received;
        far!.write(Buffer.from([XOFF]), () => far!.drain(() => xoffSent()));
      }
    });
    link = await SerialLink.open(pty.host, 9600);
    // Far more than the pty and socat can buffer (a few KiB each), so that XOFF finds the tool still
    // writing even when a loaded machine lets it run ahead of the far end.
    const total = 60_000;
    await link.send('y'.repeat(total));
    await xoffDone;
    // Give the tool every chance to keep writing: it must not.
    const heldOff = await link.watch(link.mark(), 400, () => false);
    expect(heldOff).toBe('');
    // The tool's rule: once it has read the XOFF it hands the port nothing more. What it handed over
    // before (the piece in flight on a UART; on a pty whatever the kernel and socat buffer, a few
    // KiB on a loaded machine) still reaches the far end, so the far end's count is not the measure.
    const w = link.flowWritten;
    expect(w.written).toBe(w.atXoff);
    expect(w.written).toBeLessThan(total);
    expect(received).toBeLessThanOrEqual(w.written);
    expect(received).toBeLessThan(total);
    const stalled = received;
    await link.watch(link.mark(), 200, () => false);
    expect(received).toBe(stalled);
    expect(link.xoffs).toBe(1);

    far.write(Buffer.from([XON]));
    const end = Date.now() + 10_000;
    while (received < total && Date.now() < end) await link.watch(link.mark(), 50, () => false);
    expect(received).toBe(total);
  }, 120_000);
});
