/**
 * One sweep for every connected client's keepalive, in place of the Node Timeout (and its closure)
 * aedes arms per client (aedes 1.2 lib/handlers/connect.js setKeepAlive): an idle fob on an edge may
 * cost at most 8 KB (issue 19), and the Timeout, its `keepaliveTimeout` closure and that closure's
 * context were about 220 bytes of each (docs/benchmarks.md "An idle fob connection on an edge").
 *
 * The rule is unchanged, MQTT 3.1.1 §3.1.2.10: a client from which no control packet has arrived for
 * one and a half times its Keep Alive is disconnected "as if the network had failed", so its will is
 * published. aedes's own interval for it is kept (`_keepaliveInterval`, keepalive x 1500 + 1 ms), as
 * is what it does at expiry: the broker's 'keepaliveTimeout' event, then the client's 'error' (which
 * destroys the connection and publishes the will). The sweep looks every SWEEP_MS, so a silent
 * client goes between 1.5 x Keep Alive and that plus SWEEP_MS, never before.
 *
 * How aedes is reached: a client's `_keepaliveTimer` is replaced, once it is connected, by a mark
 * that has the one method aedes calls on it (`refresh()`, after every packet it handles,
 * lib/handlers/index.js) and that clearTimeout ignores (it has no `_onTimeout`), so aedes's close()
 * still drops it. A client whose fields are not what this expects keeps aedes's own timer.
 */
import type { Clock, TimerHandle } from '../clock.js';

/** How often the sweep looks (ms): the most a silent client may stay past 1.5 x its Keep Alive. */
export const SWEEP_MS = 1000;

interface KeepaliveClient {
  _keepaliveTimer?: unknown;
  _keepaliveInterval?: number;
  closed?: boolean;
  broker?: { emit(event: string, ...args: unknown[]): boolean };
  emit?(event: string, ...args: unknown[]): boolean;
}

/** When a client last sent a packet, on the sweep's clock; what aedes holds as `_keepaliveTimer`. */
export class KeepaliveMark {
  at: number;

  constructor(private readonly clock: Clock) {
    this.at = clock.now();
  }

  /** aedes calls this after each packet it handles (as it would Timeout.refresh). */
  refresh(): this {
    this.at = this.clock.now();
    return this;
  }
}

export class KeepaliveSweep {
  private readonly task: TimerHandle;

  /**
   * clients: the connected clients by id (aedes's `clients`). clock: real time in production; a
   * Keep Alive is about the network link, so it is not the hub's clock, which a drill may move on by
   * hours while the fobs' PINGREQs arrive in real time.
   */
  constructor(
    private readonly clients: () => Record<string, unknown>,
    private readonly clock: Clock,
  ) {
    this.task = clock.housekeeping(() => this.sweep(), SWEEP_MS);
  }

  /**
   * Takes over a connected client's keepalive (call on aedes's clientReady). False when the client
   * has none (Keep Alive 0: MQTT 3.1.1 §3.1.2.10, no timeout) or is not laid out as aedes 1.2's.
   */
  adopt(client: unknown): boolean {
    const c = client as KeepaliveClient | null;
    if (!c || c.closed || !(typeof c._keepaliveInterval === 'number' && c._keepaliveInterval > 0)) return false;
    const timer = c._keepaliveTimer as { refresh?: unknown } | null | undefined;
    if (!timer || typeof timer.refresh !== 'function' || typeof c.emit !== 'function' || !c.broker) return false;
    // aedes refreshed its timer at the last packet handled (the CONNECT): this is that moment, to the
    // millisecond or two the CONNACK took.
    clearTimeout(timer as NodeJS.Timeout);
    c._keepaliveTimer = new KeepaliveMark(this.clock);
    return true;
  }

  /** Disconnects every adopted client silent for longer than its interval. */
  sweep(now = this.clock.now()): void {
    const clients = this.clients();
    for (const id in clients) {
      const c = clients[id] as KeepaliveClient;
      const mark = c._keepaliveTimer;
      if (!(mark instanceof KeepaliveMark) || c.closed) continue;
      const interval = c._keepaliveInterval ?? -1;
      if (interval > 0 && now - mark.at >= interval) {
        // What aedes's own keepaliveTimeout does (lib/handlers/connect.js).
        c.broker!.emit('keepaliveTimeout', c);
        c.emit!('error', new Error('keep alive timeout'));
      }
    }
  }

  stop(): void {
    this.task.cancel();
  }
}
