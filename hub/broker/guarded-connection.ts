/**
 * The bounds an MQTT connection over WebSocket gets before aedes reads a byte of it (TCP and TLS
 * sockets get the same bounds in place, socket-guard.ts): a Duplex in front of the connection that
 *
 * - scans each packet's fixed header as bytes arrive (packet-scanner.ts) and destroys the connection
 *   the moment a packet claims more than its limit, so nothing oversize is ever buffered;
 * - destroys a connection whose whole CONNECT has not arrived within the CONNECT deadline;
 * - holds the connection's place in the unauthenticated-connection caps (connection-gate.ts) until
 *   the broker accepts it (`accepted()`) or it closes.
 *
 * Writes pass straight through; `pendingOutput` / `needsDrain` include the underlying connection's,
 * so the broker's slow-reader watchdog sees what the socket holds.
 */
import { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from '../clock.js';
import { PacketScanner, type ScanLimits, type ScanViolation } from './packet-scanner.js';
import type { GateTicket } from './connection-gate.js';

export type CutReason = ScanViolation | { code: 'connect_deadline'; deadlineMs: number };

/**
 * What every guard of one broker shares: one object per broker, not one per connection (an idle fob
 * keeps its guard as long as it is connected; issue 19, at most 8 KB each). What is a connection's
 * own, its address and its place in the caps, is given to each guard apart.
 */
export interface GuardSettings extends ScanLimits {
  connectDeadlineMs: number;
  clock: Clock;
  /**
   * Told once, when a guard cuts its connection: bytesSeen is what had arrived by then, address the
   * remote address as the caps count it, conn the connection aedes was handed.
   */
  onCut(reason: CutReason, bytesSeen: number, address: string, conn: unknown): void;
  /**
   * Told when a write to the connection did not fit its buffer (the connection must drain before it
   * takes more; Node's writable.write() returned false): conn is the connection aedes was handed.
   * The broker's slow-reader watchdog looks only at these, not at every connection on every run.
   */
  onBackpressure(conn: unknown): void;
}

export class GuardedConnection extends Duplex {
  readonly scanner: PacketScanner;
  private deadline: TimerHandle | null;
  private cut = false;

  constructor(
    readonly inner: Duplex,
    private readonly o: GuardSettings,
    /** The remote address, as the caps count it (a WebSocket stream has none of its own). */
    readonly address: string,
    private readonly ticket: GateTicket,
  ) {
    super({ allowHalfOpen: false });
    this.scanner = new PacketScanner(o);
    this.deadline = o.clock.setTimer(() => {
      this.deadline = null;
      if (!this.scanner.connectComplete) this.cutWith({ code: 'connect_deadline', deadlineMs: o.connectDeadlineMs });
    }, o.connectDeadlineMs);
    inner.on('data', (chunk: Buffer) => {
      if (this.cut) return;
      const violation = this.scanner.feed(chunk);
      if (violation) return this.cutWith(violation);
      if (this.scanner.connectComplete) this.clearDeadline();
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.on('error', (err: Error) => this.destroy(err));
    inner.once('close', () => {
      ticket.release();
      this.clearDeadline();
      this.destroy();
    });
  }

  /** The broker has accepted the CONNECT: the connection no longer counts as unauthenticated. */
  accepted(): void {
    this.ticket.release();
  }

  /** Unsent bytes, here and in the connection underneath (for the slow-reader watchdog). */
  get pendingOutput(): number {
    return this.writableLength + this.inner.writableLength;
  }

  /** True while the connection underneath (or this one) is waiting to drain. */
  get needsDrain(): boolean {
    return this.writableNeedDrain || this.inner.writableNeedDrain;
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.inner.destroyed) return callback();
    if (this.inner.write(chunk, encoding)) return callback();
    this.o.onBackpressure(this);
    const done = (): void => {
      this.inner.off('drain', done);
      this.inner.off('close', done);
      callback();
    };
    this.inner.on('drain', done);
    this.inner.on('close', done);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.inner.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.clearDeadline();
    this.ticket.release();
    if (!this.inner.destroyed) this.inner.destroy();
    callback(err);
  }

  private cutWith(reason: CutReason): void {
    if (this.cut) return;
    this.cut = true;
    this.o.onCut(reason, this.scanner.bytesSeen, this.address, this);
    // Destroying the connection discards whatever the kernel still holds for it: nothing more is read.
    this.inner.destroy();
    this.destroy();
  }

  private clearDeadline(): void {
    this.deadline?.cancel();
    this.deadline = null;
  }
}
