/**
 * The same bounds as guarded-connection.ts (packet sizes scanned as bytes arrive, the CONNECT
 * deadline, the unauthenticated-connection caps) for a TCP or TLS socket, applied on the socket
 * itself instead of a Duplex stream in front of it. aedes then reads the socket directly.
 *
 * Why: the Duplex in front of every socket cost about 1 KB of heap per idle connection (its readable
 * and writable state, its listeners; `npm run bench -- --only idle`, docs/benchmarks.md "An idle fob
 * connection on an edge"), against the 8 KB an idle fob may cost on an edge (issue 19). A socket
 * hands every chunk it reads to its own `push` (Node's stream_base_commons onStreamRead, for net and
 * tls sockets alike), so the guard puts its own `push` on the socket: a chunk is scanned before it
 * enters the socket's read buffer, and a violating one is never buffered (the socket is destroyed
 * instead). WebSocket streams keep guarded-connection.ts.
 *
 * Per connection there is the guard object and its scanner, nothing more: `push`, `write` and the
 * 'close' listener are one function each for every socket (they find their guard by the socket), the
 * settings are the broker's, and the ticket is let go once the connection is accepted.
 */
import type { Socket } from 'node:net';
import type { TimerHandle } from '../clock.js';
import { PacketScanner } from './packet-scanner.js';
import type { CutReason, GuardSettings } from './guarded-connection.js';
import type { GateTicket } from './connection-gate.js';

const guards = new WeakMap<object, SocketGuard>();

/** The guard of a connection aedes holds, when it is a guarded socket. */
export function socketGuardOf(conn: unknown): SocketGuard | undefined {
  return typeof conn === 'object' && conn !== null ? guards.get(conn) : undefined;
}

type Push = (chunk: unknown, encoding?: BufferEncoding) => boolean;
type Write = (...args: unknown[]) => boolean;

/** The socket's `push` while it is guarded: scans the chunk, then hands it to the socket's own. */
function guardedPush(this: Socket, chunk: unknown, encoding?: BufferEncoding): boolean {
  const guard = guards.get(this);
  if (!guard) throw new Error('socket-guard: a guarded push on a socket without its guard (a bug in hub/broker/socket-guard.ts)');
  if (chunk !== null && chunk !== undefined && !guard.admit(chunk as Uint8Array)) return false;
  return guard.push.call(this, chunk, encoding);
}

/**
 * The socket's `write` while it is guarded: the socket's own, and the broker is told when it returned
 * false (the socket holds a buffer's worth and must drain), so its slow-reader watchdog need not look
 * at every socket to find the few that are full.
 */
function guardedWrite(this: Socket, ...args: unknown[]): boolean {
  const ok = (Object.getPrototypeOf(this) as { write: Write }).write.apply(this, args);
  // Its guard looked up only then: every PUBACK and command goes through here.
  if (!ok) guards.get(this)?.backpressure();
  return ok;
}

function onGuardedClose(this: Socket): void {
  guards.get(this)?.closed();
}

export class SocketGuard {
  readonly scanner: PacketScanner;
  /** The socket's own push (its prototype's), which guardedPush hands admitted chunks to. */
  readonly push: Push;
  private ticket: GateTicket | null;
  private deadline: TimerHandle | null;
  private cut = false;

  constructor(
    readonly socket: Socket,
    private readonly o: GuardSettings,
    /** The remote address, as the caps count it. */
    readonly address: string,
    ticket: GateTicket,
  ) {
    this.scanner = new PacketScanner(o);
    this.ticket = ticket;
    this.push = socket.push as Push;
    guards.set(socket, this);
    this.deadline = o.clock.setTimer(() => {
      this.deadline = null;
      if (!this.scanner.connectComplete) this.cutWith({ code: 'connect_deadline', deadlineMs: o.connectDeadlineMs });
    }, o.connectDeadlineMs);
    socket.push = guardedPush as Push;
    socket.write = guardedWrite as Socket['write'];
    socket.on('close', onGuardedClose);
  }

  /** The broker has accepted the CONNECT: the connection no longer counts as unauthenticated. */
  accepted(): void {
    this.ticket?.release();
    this.ticket = null;
  }

  /** The socket has closed: its place in the caps (if still held) and the deadline go. */
  closed(): void {
    this.accepted();
    this.clearDeadline();
  }

  /** A write did not fit the socket's buffer (guardedWrite). */
  backpressure(): void {
    this.o.onBackpressure(this.socket);
  }

  /** Scans a chunk the socket read; false when it must not be buffered (the socket is being cut). */
  admit(chunk: Uint8Array): boolean {
    if (this.cut) return false;
    const violation = this.scanner.feed(chunk);
    if (violation) {
      this.cutWith(violation);
      return false;
    }
    if (this.scanner.connectComplete) this.clearDeadline();
    return true;
  }

  private cutWith(reason: CutReason): void {
    if (this.cut) return;
    this.cut = true;
    this.o.onCut(reason, this.scanner.bytesSeen, this.address, this.socket);
    // Destroying the socket discards whatever the kernel still holds for it: nothing more is read.
    this.socket.destroy();
  }

  private clearDeadline(): void {
    this.deadline?.cancel();
    this.deadline = null;
  }
}
