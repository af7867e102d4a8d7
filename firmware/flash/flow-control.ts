/**
 * Software flow control (XON/XOFF) between the tool and an Espruino console, done by the tool
 * itself: EspruinoTools 0.1.67 only honours XON/XOFF when its `uart.flowControl` flag is set, which
 * nothing sets for a serial device plugged into Espruino.Core.Serial.devices, so its writer never
 * paused.
 *
 * Espruino sends XOFF (0x13) when its console input buffer is filling and XON (0x11) when it has
 * room again (EspruinoTools' SERIAL_FLOW_CONTROL setting: "By default Espruino sends XON/XOFF for
 * USB and Bluetooth (on 2v05+)"; a UART set up with flow "xon" does too; the Linux build does on a
 * pty). The console's own output never contains these two bytes otherwise, so they are taken out of
 * what the board printed before anything else reads it.
 *
 * Writes go out in pieces of PIECE_BYTES, each one waited for (written and drained to the line)
 * before the next; between pieces the writer stops while the board has said XOFF. So after the
 * board's XOFF arrives at most the piece already on its way still reaches the board: 64 bytes,
 * 67 ms at 9600 baud (a Puck.js on its UART), far less than the room Espruino keeps when it sends
 * XOFF. Over USB (a RAK5010) the USB link paces itself and the drain waits for it.
 *
 * What the tool can promise is what it hands to the port after it has read the XOFF: nothing. Bytes
 * it handed over before then may still be on their way: on a UART the drain waits for the line, so
 * that is the one piece; on a pseudo-terminal the drain returns once the kernel holds the bytes, so
 * the pty's buffers (a few KiB, plus socat's) still reach the far end after its XOFF (seen in the
 * flow-control test on a loaded machine: 4,720 bytes). `written` and `writtenAtXoff` count it.
 */
export const XON = 0x11;
export const XOFF = 0x13;
/** Bytes handed to the port at a time; see the header for why 64. */
export const PIECE_BYTES = 64;

export class FlowClosedError extends Error {
  override name = 'FlowClosedError';
}

export class FlowControl {
  private paused = false;
  private pausedSince = 0;
  private waiters: ((closed: boolean) => void)[] = [];
  private closed = false;
  /** XOFFs received, for --verbose and the tests. */
  xoffs = 0;
  /** Bytes handed to the port so far (counted as each piece is handed over). */
  written = 0;
  /** Bytes the port has finished writing (counted as each piece's write and drain complete). */
  drained = 0;
  /** `written` when the last XOFF arrived: what the tool had handed over before it knew to stop. */
  writtenAtXoff = 0;

  constructor(private readonly now: () => number = Date.now) {}

  get isPaused(): boolean {
    return this.paused;
  }

  /** How long the board has held the tool off, in ms (0 when not paused). */
  pausedFor(): number {
    return this.paused ? this.now() - this.pausedSince : 0;
  }

  /** What the board sent, with XON/XOFF taken out and acted on. */
  receive(data: Buffer): Buffer {
    if (!data.includes(XON) && !data.includes(XOFF)) return data;
    const kept: number[] = [];
    for (const b of data) {
      if (b === XOFF) {
        if (!this.paused) this.pausedSince = this.now();
        this.paused = true;
        this.writtenAtXoff = this.written;
        this.xoffs++;
      } else if (b === XON) this.resume();
      else kept.push(b);
    }
    return Buffer.from(kept);
  }

  private resume(): void {
    this.paused = false;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f(false);
  }

  /** The port closed: a writer held by XOFF gives up instead of waiting for ever. */
  close(): void {
    this.closed = true;
    this.paused = false;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f(true);
  }

  /** Writes bytes through sink (which resolves once they are on the line), piece by piece. */
  async write(bytes: Buffer, sink: (piece: Buffer) => Promise<void>): Promise<void> {
    for (let o = 0; o < bytes.length; o += PIECE_BYTES) {
      while (this.paused) {
        const closed = await new Promise<boolean>((resolve) => this.waiters.push(resolve));
        if (closed) throw new FlowClosedError('the port closed while the board held the tool off (XOFF)');
      }
      if (this.closed) throw new FlowClosedError('the port is closed');
      const piece = bytes.subarray(o, o + PIECE_BYTES);
      this.written += piece.length;
      await sink(piece);
      this.drained += piece.length;
    }
  }
}
