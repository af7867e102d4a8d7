/**
 * The load generator's fob for events it waits an application ack for (the cluster bench's SOS
 * fobs): it keeps every event until the hub's `{"k":"ack","i":...}` for its id, as the firmware does,
 * with the firmware's own outbox (firmware/src/core/outbox.ts `openOutbox`, on an in-memory Storage)
 * and the same two rules of the core (firmware/src/core/fob-core.ts `flush`, `link`):
 *
 * - while the link is up, what is due is sent now, and each event again on the outbox's back-off
 *   (5 s, then 10, 20 ... +-20%), whether or not it was PUBACKed: a PUBACK says the edge holds it, not
 *   that a worker acted on it;
 * - when the link comes back (a CONNACK after a drop), everything waiting is sent at once.
 *
 * Why (issue 19): before this the generator relied on mqtt.js alone, which re-sends a QoS 1 publish
 * only until its PUBACK. An SOS PUBACKed by an edge that was then killed, or whose application ack
 * went out on core NATS (at most once) while the fob was between edges, was never sent again, so it
 * was never acknowledged; a real fob sends it again and the worker's dedupe on (device_id, event_id)
 * acknowledges the copy (docs/cluster.md, "What each failure does").
 *
 * The reconnect is mqtt.js's: with a list of edges it moves to the next one at each new connection
 * attempt (mqtt.js `servers`), after `reconnectPeriod`. The firmware waits 2-3 s (x1 to x1.5 jitter)
 * after a drop (firmware/src/boards/rak5010.ts `reconnect`); the bench gives each fob a period drawn
 * once in that range (`firmwareReconnectMs`). mqtt.js keeps that period for later failed attempts
 * where the firmware doubles it (up to 6-9 s): after a second failure this fob is quicker than a real one.
 */
import type { MqttClient } from 'mqtt';
import { openOutbox, type Outbox, type OutboxStore } from '../../firmware/src/core/outbox.js';
import { EVENT, TOPIC, deviceTopic } from '../../shared/protocol-core.js';

/** Storage as Espruino's behaves for the calls the outbox makes, in memory (nothing survives the process). */
class MemoryStorage implements OutboxStore {
  private readonly files = new Map<string, string>();
  private readonly t0 = performance.now();
  uptime(): number {
    return Math.round(performance.now() - this.t0);
  }
  storageRead(name: string): string | undefined {
    return this.files.get(name);
  }
  storageWrite(name: string, data: string): void {
    this.files.set(name, data);
  }
  storageErase(name: string): void {
    this.files.delete(name);
  }
  storageList(match: RegExp): string[] {
    return [...this.files.keys()].filter((n) => match.test(n));
  }
  _random(): number {
    return Math.random();
  }
}

/** The firmware's first wait after a dropped session, with its jitter: 2,000 ms x (1 to 1.5). */
export function firmwareReconnectMs(random: () => number = Math.random): number {
  return Math.round(2000 * (1 + 0.5 * random()));
}

export class LoadFob {
  private readonly storage = new MemoryStorage();
  private readonly outbox: Outbox;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Publishes sent, first sends and resends together (a resend is one more message on the wire). */
  sends = 0;
  /** Sends of an event that had been sent before (the outbox's back-off or the link coming back). */
  resends = 0;
  private readonly sentOnce = new Set<string>();

  /**
   * @param client connected, subscribed to the fob's command topic by the caller
   * @param onPuback the first PUBACK of an event (ms are the caller's to measure)
   * @param onAck the hub's application ack of an event that was waiting (a duplicate ack is ignored)
   */
  constructor(
    readonly deviceId: string,
    private readonly client: MqttClient,
    private readonly onPuback: (eventId: string) => void,
    private readonly onAck: (eventId: string) => void,
  ) {
    this.outbox = openOutbox(this.storage);
    client.on('message', (topic, payload) => {
      if (topic !== `lw/${deviceId}/cmd`) return;
      const text = payload.toString();
      if (!text.includes('"ack"')) return;
      const m = /"i":"([^"]+)"/.exec(text);
      if (m && this.outbox.ack(m[1])) {
        this.onAck(m[1]);
        this.flush();
      }
    });
    // mqtt.js emits 'connect' at every CONNACK; the first one happened before this fob was made.
    client.on('connect', () => {
      if (this.stopped) return;
      this.outbox._retryAll();
      this.flush();
    });
  }

  /** Raises an event (an alarm kind by default): kept until acked, sent now if the link is up. */
  raise(eventId: string, kind: string = EVENT.sos): void {
    this.outbox.add(eventId, kind, '');
    this.flush();
  }

  /** Events raised and not acknowledged. */
  waiting(): number {
    return this.outbox._i.length;
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** fob-core.ts `flush`: sends what is due while the link is up; arms the timer for the next. */
  private flush(): void {
    if (this.stopped) return;
    if (this.client.connected) {
      for (const json of this.outbox.due()) {
        const id = (JSON.parse(json) as { i: string }).i;
        const first = !this.sentOnce.has(id);
        this.sends++;
        if (!first) this.resends++;
        this.sentOnce.add(id);
        this.client.publish(deviceTopic(this.deviceId, TOPIC.event), json, { qos: 1 }, (err) => {
          if (!err && first) this.onPuback(id);
        });
      }
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const next = this.outbox._nextDue();
    if (next >= 0 && this.client.connected) {
      this.retryTimer = setTimeout(() => this.flush(), Math.max(100, next - this.storage.uptime()));
    }
    // Acked events leave sentOnce bounded by what waits.
    for (const id of this.sentOnce) if (!this.outbox._i.includes(id)) this.sentOnce.delete(id);
  }
}
