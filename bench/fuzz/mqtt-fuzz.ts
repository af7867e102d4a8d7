/**
 * The MQTT side of the fuzz run: many streams, each with its own seeded generator, over raw TCP.
 *
 * - Session streams log in as a registered fob (client id = username = device id) and send
 *   structure-aware payloads (protocol-fuzz.ts) at QoS 0 and 1 on its own topics, with SUBSCRIBEs,
 *   PINGREQs, publishes on a topic not its own, a wrong password now and then and, now and then,
 *   another stream's client id (a session takeover). One connection carries thousands of packets.
 * - Byte streams send a valid packet mutated a byte at a time (mqtt-packets.ts), a CONNECT before
 *   log-in or a PUBLISH/SUBSCRIBE/PINGREQ after it, then a PINGREQ to see whether the hub kept the
 *   connection, and count what the hub did: answered, refused with a CONNACK code, closed, or is
 *   still waiting for bytes the packet promised.
 *
 * The hub's bounds (docs/hub.md "Bounds before authentication") are respected: at most
 * `preAuthConcurrency` connections are ever open before their CONNACK (the hub allows 128 per address
 * and 2,048 in all), and each connection comes from one of 200 loopback source addresses so the
 * connection churn never runs out of TCP ports. What the hub refuses is counted as a refusal.
 */
import { TOPIC, deviceTopic } from '../../shared/protocol-core.js';
import { connectPacket, mutatePacket, PINGREQ, publishPacket, subscribePacket } from './mqtt-packets.js';
import { MqttWire, PACKET, type WirePacket } from './mqtt-wire.js';
import { EventIds, fuzzFobPayload } from './protocol-fuzz.js';
import type { Prng } from './prng.js';
import type { Tally } from './tally.js';

export interface MqttFuzzOptions {
  port: number;
  /** Fobs the session streams log in as (one each, shared now and then). */
  deviceIds: string[];
  /** Fobs the byte streams log in as, apart from the session streams' so takeovers stay rare. */
  byteDeviceIds: string[];
  secret: string;
  /** Packets to send in all (session and byte streams together). */
  packets: number;
  /** Share of the packets sent by byte streams (the rest by session streams). */
  byteShare: number;
  sessionStreams: number;
  byteStreams: number;
  rng: Prng;
  tally: Tally;
  /** Stops the run early (time bound or a crash); the report says how many were sent. */
  stop: () => boolean;
  /** How long to wait for an answer to a mutated packet before taking it as "hub waits for more bytes". */
  answerTimeoutMs?: number;
}

const SOURCES = 200;
const sourceAddress = (n: number): string => `127.0.${1 + Math.floor(n / 250) % 250}.${2 + (n % 250)}`;

/** Sent-packet budget shared by streams of one kind. */
class Budget {
  constructor(public left: number) {}
  take(): boolean {
    if (this.left <= 0) return false;
    this.left--;
    return true;
  }
}

export async function runMqttFuzz(o: MqttFuzzOptions): Promise<void> {
  const byteBudget = new Budget(Math.round(o.packets * o.byteShare));
  const sessionBudget = new Budget(o.packets - byteBudget.left);
  let conn = 0;
  const nextSource = (): string => sourceAddress(conn++ % SOURCES);
  const streams: Promise<void>[] = [];
  for (let s = 0; s < o.sessionStreams; s++) streams.push(sessionStream(o, s, o.rng.fork(), sessionBudget, nextSource));
  for (let s = 0; s < o.byteStreams; s++) streams.push(byteStream(o, s, o.rng.fork(), byteBudget, nextSource));
  await Promise.all(streams);
}

function sent(o: MqttFuzzOptions, what: string): void {
  o.tally.add('mqtt sent', what);
}

async function sessionStream(o: MqttFuzzOptions, n: number, rng: Prng, budget: Budget, source: () => string): Promise<void> {
  const own = o.deviceIds[n % o.deviceIds.length];
  const ids = new EventIds(rng.int(1, 1_000_000));
  const timeout = o.answerTimeoutMs ?? 2000;
  while (!o.stop() && budget.left > 0) {
    // Who to log in as: mostly its own fob; now and then a wrong secret, or another stream's id.
    const r = rng.next();
    const deviceId = r < 0.02 ? rng.pick(o.deviceIds) : own;
    const password = r > 0.98 ? 'wrong-secret' : o.secret;
    let wire: MqttWire;
    try {
      wire = await MqttWire.open(o.port, source());
    } catch (err) {
      o.tally.add('mqtt failures', `could not open a TCP connection: ${(err as Error).message}`);
      return;
    }
    const inflight = new Map<number, string>();
    let lastPacketId = 0;
    wire.onPacket = (p: WirePacket) => {
      if (p.type === PACKET.PUBACK) inflight.delete(p.body.readUInt16BE(0));
      if (p.type === PACKET.SUBACK) o.tally.add('mqtt answers', p.body[2] === 0x80 ? 'SUBACK refused (0x80)' : `SUBACK granted QoS ${p.body[2]}`);
      if (p.type === PACKET.PINGRESP) o.tally.add('mqtt answers', 'PINGRESP');
    };
    if (!budget.take()) {
      await wire.destroy();
      return;
    }
    sent(o, deviceId === own ? (password === o.secret ? 'CONNECT fob' : 'CONNECT fob, wrong secret') : 'CONNECT with another stream client id');
    wire.write(connectPacket({ clientId: deviceId, username: deviceId, password, keepAlive: 120 }));
    const connack = await wire.waitFor((p) => p.type === PACKET.CONNACK, timeout);
    if (!connack) {
      o.tally.add('mqtt answers', wire.closed ? 'closed before CONNACK' : 'no CONNACK in time');
      await wire.destroy();
      continue;
    }
    const code = connack.body[1];
    o.tally.add('mqtt answers', `CONNACK ${code}`);
    if (code !== 0) {
      await wire.destroy();
      continue;
    }
    // A connection carries up to a few thousand packets, then logs in again.
    const life = rng.int(200, 5000);
    for (let i = 0; i < life && !wire.closed && !o.stop(); i++) {
      if (!budget.take()) break;
      const c = rng.next();
      if (c < 0.02) {
        sent(o, 'PINGREQ');
        wire.write(PINGREQ);
      } else if (c < 0.03) {
        const theirs = rng.chance(0.5);
        sent(o, theirs ? 'SUBSCRIBE not its own topic' : 'SUBSCRIBE own command topic');
        wire.write(subscribePacket(theirs ? rng.pick(['#', 'lw/+/ev', 'lw/alerts/#', deviceTopic(rng.pick(o.deviceIds), TOPIC.command)]) : deviceTopic(deviceId, TOPIC.command), rng.int(0, 1), 1 + (lastPacketId++ % 65535)));
      } else if (c < 0.032) {
        // Not its own topic: the hub refuses the publish and drops the connection (docs/hub.md).
        sent(o, 'PUBLISH not its own topic');
        wire.write(publishPacket(deviceTopic(rng.pick(['other-fob', 'x']), TOPIC.event), Buffer.from('{}'), 1, 1 + (lastPacketId++ % 65535)));
        const closed = await wire.waitClosed(timeout);
        o.tally.add('mqtt answers', closed ? 'closed after PUBLISH on a topic not its own' : 'kept after PUBLISH on a topic not its own');
        break;
      } else {
        const f = fuzzFobPayload(rng, ids);
        const qos = f.leaf === TOPIC.heartbeat && rng.chance(0.7) ? 0 : 1;
        const id = 1 + (lastPacketId++ % 65535);
        sent(o, `PUBLISH ${f.label.split('/')[0]}`);
        o.tally.add('payload mutations', f.label.split('/')[1]);
        wire.write(publishPacket(deviceTopic(deviceId, f.leaf), f.payload, qos as 0 | 1, id));
        if (qos === 1) {
          inflight.set(id, f.label);
          // A window of 8 unacknowledged publishes, as aedes reads no further from a client while
          // one is being processed (docs/hub.md "Back-pressure").
          if (inflight.size >= 8) await waitInflight(wire, inflight, 7, timeout);
        }
      }
    }
    await waitInflight(wire, inflight, 0, timeout);
    if (inflight.size > 0) o.tally.add('mqtt answers', wire.closed ? 'closed with PUBLISHes unacknowledged' : 'PUBACK not in time');
    if (wire.closed) o.tally.add('mqtt answers', 'session closed by the hub');
    await wire.destroy();
  }
}

async function waitInflight(wire: MqttWire, inflight: Map<number, string>, below: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (inflight.size > below && !wire.closed && Date.now() < deadline) await wire.waitFor((p) => p.type === PACKET.PUBACK, deadline - Date.now());
}

async function byteStream(o: MqttFuzzOptions, n: number, rng: Prng, budget: Budget, source: () => string): Promise<void> {
  const timeout = o.answerTimeoutMs ?? 300;
  const deviceId = o.byteDeviceIds[n % o.byteDeviceIds.length];
  while (!o.stop() && budget.left > 0) {
    let wire: MqttWire;
    try {
      wire = await MqttWire.open(o.port, source());
    } catch (err) {
      o.tally.add('mqtt failures', `could not open a TCP connection: ${(err as Error).message}`);
      return;
    }
    if (rng.chance(0.4)) {
      // Before log-in: a mutated CONNECT, maybe with a wrong protocol level (§3.1.2.2).
      if (!budget.take()) return void (await wire.destroy());
      const level = rng.chance(0.3) ? rng.pick([0, 3, 5, 6, 255]) : 4;
      const valid = connectPacket({ clientId: rng.chance(0.5) ? deviceId : `x${rng.int(0, 1e6)}`, username: deviceId, password: o.secret, level, clean: rng.chance(0.9), ...(rng.chance(0.2) ? { will: { topic: deviceTopic(deviceId, TOPIC.status), payload: Buffer.from('0'), qos: 1 as const } } : {}) });
      const { bytes, mutation } = level === 4 ? mutatePacket(rng, valid) : { bytes: valid, mutation: `protocol level ${level}` };
      sent(o, `mutated CONNECT (${mutation})`);
      wire.write(bytes);
      const p = await wire.waitFor((x) => x.type === PACKET.CONNACK, timeout);
      o.tally.add('mqtt answers', p ? `mutated CONNECT: CONNACK ${p.body[1]}` : wire.closed ? 'mutated CONNECT: closed by the hub' : 'mutated CONNECT: no answer (hub waits for the rest, until its CONNECT deadline)');
      await wire.destroy();
      continue;
    }
    if (!budget.take()) return void (await wire.destroy());
    sent(o, 'CONNECT fob (before mutated packets)');
    wire.write(connectPacket({ clientId: deviceId, username: deviceId, password: o.secret }));
    const connack = await wire.waitFor((x) => x.type === PACKET.CONNACK, 2000);
    if (!connack || connack.body[1] !== 0) {
      o.tally.add('mqtt answers', connack ? `CONNACK ${connack.body[1]}` : 'no CONNACK in time');
      await wire.destroy();
      continue;
    }
    // Mutated packets on the logged-in connection until the hub drops it (at most 50).
    for (let i = 0; i < 50 && !wire.closed && !o.stop(); i++) {
      if (!budget.take()) break;
      const kind = rng.pick(['PUBLISH', 'PUBLISH', 'SUBSCRIBE', 'PINGREQ'] as const);
      const topic = deviceTopic(deviceId, rng.pick([TOPIC.event, TOPIC.heartbeat, TOPIC.status]));
      const valid = kind === 'PUBLISH' ? publishPacket(topic, Buffer.from(`{"i":"${rng.int(1, 99)}-${rng.int(1, 9999)}","k":"chk","ag":0}`), 1, rng.int(1, 65535)) : kind === 'SUBSCRIBE' ? subscribePacket(deviceTopic(deviceId, TOPIC.command), 1, rng.int(1, 65535)) : PINGREQ;
      const { bytes, mutation } = mutatePacket(rng, valid, kind === 'PINGREQ' ? undefined : kind === 'SUBSCRIBE' ? 2 : 0);
      sent(o, `mutated ${kind} (${mutation})`);
      wire.write(bytes);
      // Then a PINGREQ: a PINGRESP says the hub read the mutated packet and kept the connection.
      if (!budget.take()) break;
      sent(o, 'PINGREQ (after a mutated packet)');
      wire.write(PINGREQ);
      const p = await wire.waitFor((x) => x.type === PACKET.PINGRESP, timeout);
      if (!p) {
        o.tally.add('mqtt answers', wire.closed ? `mutated ${kind}: closed by the hub` : `mutated ${kind}: no answer (hub waits for the bytes the packet promised)`);
        break;
      }
      o.tally.add('mqtt answers', `mutated ${kind}: kept, PINGRESP`);
    }
    await wire.destroy();
  }
}
