/**
 * Caps on connections that have not yet been accepted by a CONNACK, per remote address and in all,
 * over every listener the broker is handed (TCP, WebSocket, and TLS ones). Before authentication a
 * connection costs the hub memory and a scrypt verification but proves nothing about its sender, so
 * one address holding hundreds of half-open connections must not crowd out the fobs (issue 17,
 * item 1). Authenticated connections are not counted here: a fob is never refused for being busy.
 *
 * Pure bookkeeping: no sockets, no timers.
 */

export interface GateLimits {
  /** Unauthenticated connections one remote address may hold at once. */
  perAddress: number;
  /** Unauthenticated connections the hub holds at once, from everyone. */
  total: number;
}

export type GateRefusal = { refused: 'per_address' | 'total'; limit: number };

/** One admitted connection's place in the count; release it once (more calls do nothing). */
export interface GateTicket {
  release(): void;
}

export class ConnectionGate {
  private readonly byAddress = new Map<string, number>();
  private pendingTotal = 0;

  constructor(private readonly limits: GateLimits) {}

  get pending(): number {
    return this.pendingTotal;
  }

  pendingFrom(address: string): number {
    return this.byAddress.get(address) ?? 0;
  }

  admit(address: string): GateTicket | GateRefusal {
    if (this.pendingTotal >= this.limits.total) return { refused: 'total', limit: this.limits.total };
    const mine = this.byAddress.get(address) ?? 0;
    if (mine >= this.limits.perAddress) return { refused: 'per_address', limit: this.limits.perAddress };
    this.byAddress.set(address, mine + 1);
    this.pendingTotal++;
    return new HeldPlace(this, address);
  }

  /** A held place is given back (HeldPlace.release, once). */
  giveBack(address: string): void {
    this.pendingTotal--;
    const left = (this.byAddress.get(address) ?? 1) - 1;
    if (left <= 0) this.byAddress.delete(address);
    else this.byAddress.set(address, left);
  }
}

/**
 * A ticket as a small object with a method on its class, not an object holding a closure: every
 * idle fob keeps its ticket for as long as it is connected, and under tsx (how `lonewatch` runs) a
 * named arrow function gets its name defined on it at each creation, a property store of its own
 * (256 bytes a connection with its context, measured: docs/benchmarks.md "An idle fob connection").
 */
class HeldPlace implements GateTicket {
  private held = true;

  constructor(
    private readonly gate: ConnectionGate,
    private readonly address: string,
  ) {}

  release(): void {
    if (!this.held) return;
    this.held = false;
    this.gate.giveBack(this.address);
  }
}

/** The address a cap counts: IPv4-mapped IPv6 ("::ffff:10.0.0.1") is the IPv4 address it maps. */
export function normaliseAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
