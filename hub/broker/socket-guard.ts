/**
 * The same bounds as guarded-connection.ts (packet sizes scanned as bytes arrive, the CONNECT
 * deadline, the unauthenticated-connection caps) for a TCP or TLS socket, applied on the socket
 * itself instead of a Duplex stream in front of it. aedes then reads the socket directly.
 *
 * Why: the Duplex in front of every socket cost about 1 KB of heap per idle connection (its readable
 * and writable state, its listeners; `npm run bench -- --only idle`, docs/benchmarks.md "An idle fob
 * connection on an edge"), against the 8 KB an idle fob may cost on an edge (issue 19). A socket
 * hands every chunk it reads to its own `push` (Node's stream_base_commons onStreamRead, for net and
 * tls sockets alike), so the guard wraps that one method: a chunk is scanned before it enters the
 * socket's read buffer, and a violating one is never buffered (the socket is destroyed instead).
 * WebSocket streams keep guarded-connection.ts.
 */
import type { Socket } from 'node:net';
import type { TimerHandle } from '../clock.js';
import { PacketScanner } from './packet-scanner.js';
import type { GuardOptions } from './guarded-connection.js';

const guards = new WeakMap<object, SocketGuard>();

/** The guard of a connection aedes holds, when it is a guarded socket. */
export function socketGuardOf(conn: unknown): SocketGuard | undefined {
  return typeof conn === 'object' && conn !== null ? guards.get(conn) : undefined;
}

export class SocketGuard {
  readonly scanner: PacketScanner;
  private deadline: TimerHandle | null;
  private cut = false;

  constructor(
    readonly socket: Socket,
    private readonly o: GuardOptions,
  ) {
    this.scanner = new PacketScanner(o);
    guards.set(socket, this);
    this.deadline = o.clock.setTimer(() => {
      this.deadline = null;
      if (!this.scanner.connectComplete) this.cutWith({ code: 'connect_deadline', deadlineMs: o.connectDeadlineMs });
    }, o.connectDeadlineMs);
    const push = socket.push;
    // One closure per socket (over this guard), not a stream: see the module comment.
    socket.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk !== null && chunk !== undefined && !this.admit(chunk as Uint8Array)) return false;
      return push.call(socket, chunk, encoding);
    };
    socket.once('close', () => {
      o.ticket.release();
      this.clearDeadline();
    });
  }

  get address(): string {
    return this.o.address;
  }

  /** The broker has accepted the CONNECT: the connection no longer counts as unauthenticated. */
  accepted(): void {
    this.o.ticket.release();
  }

  /** Scans a chunk the socket read; false when it must not be buffered (the socket is being cut). */
  private admit(chunk: Uint8Array): boolean {
    if (this.cut) return false;
    const violation = this.scanner.feed(chunk);
    if (violation) {
      this.cutWith(violation);
      return false;
    }
    if (this.scanner.connectComplete) this.clearDeadline();
    return true;
  }

  private cutWith(reason: Parameters<GuardOptions['onCut']>[0]): void {
    if (this.cut) return;
    this.cut = true;
    this.o.onCut(reason, this.scanner.bytesSeen);
    // Destroying the socket discards whatever the kernel still holds for it: nothing more is read.
    this.socket.destroy();
  }

  private clearDeadline(): void {
    this.deadline?.cancel();
    this.deadline = null;
  }
}
