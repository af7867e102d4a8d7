/**
 * What the broker keeps per idle connection was cut for issue 19 (docs/benchmarks.md "An idle fob
 * connection on an edge"): one keepalive sweep instead of a Timeout per client
 * (hub/broker/keepalive-sweep.ts), the broker's one 'close' listener instead of aedes's
 * stream.finished() watch (lean-connection.ts closeWithSocket), no 'error' listener of ours, and the
 * socket guard's functions shared by every socket. These tests hold the behaviour to what it was, on
 * the real broker over loopback TCP with raw MQTT packets:
 *
 * - MQTT 3.1.1 §3.1.2.10: a client silent for one and a half times its Keep Alive is disconnected as
 *   if the network had failed (its will is published), not before; any control packet (PINGREQ)
 *   restarts the count; Keep Alive 0 never expires. Time is a ManualClock given as keepaliveClock.
 * - a connection that ends in any way (the fob's FIN, a reset, the hub dropping it) still closes its
 *   aedes client: the will is published (its payload now a copy, lean-connection.ts ownWillPayload)
 *   and the client and its socket are let go.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { MqttBroker } from '../../hub/broker/mqtt-broker.js';
import { KeepaliveMark, SWEEP_MS } from '../../hub/broker/keepalive-sweep.js';
import { ManualClock } from '../../hub/clock.js';
import { silentLogger } from '../../hub/logger.js';
import { ACCEPT_EVERY_FOB } from '../helpers/accept-every-fob.js';

let broker: MqttBroker | null = null;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await broker?.close();
  broker = null;
});

interface Started {
  port: number;
  wills: string[];
  keepaliveTimeouts: string[];
}

async function start(keepaliveClock?: ManualClock): Promise<Started> {
  broker = await MqttBroker.create(
    ACCEPT_EVERY_FOB,
    silentLogger,
    keepaliveClock ? { keepaliveClock } : {},
  );
  const wills: string[] = [];
  const keepaliveTimeouts: string[] = [];
  // A will is published by aedes through authorizePublish (the device's own lw/<id>/st) to the
  // topic tree; the test listens there, as the hub's ingest sees it.
  broker.aedes.subscribe('lw/+/st', (p, cb) => {
    wills.push(`${p.topic}:${p.payload.toString()}`);
    cb();
  }, () => undefined);
  broker.aedes.on('keepaliveTimeout', (c) => keepaliveTimeouts.push(c.id));
  return { port: await broker.listenTcp(0, '127.0.0.1'), wills, keepaliveTimeouts };
}

interface Fob {
  socket: Socket;
  packets: Packet[];
  closed: Promise<void>;
  isClosed: () => boolean;
}

/** A fob as the firmware connects: clean session, a QoS 1 will, the given Keep Alive, then SUBSCRIBE. */
async function fob(port: number, id: string, keepalive: number): Promise<Fob> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: Packet[] = [];
  parser.on('packet', (p) => packets.push(p));
  socket.on('data', (d) => parser.parse(d));
  socket.on('error', () => undefined);
  let isClosed = false;
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  void closed.then(() => (isClosed = true));
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: id,
      clean: true,
      keepalive,
      username: id,
      password: Buffer.from('secret'),
      will: { topic: `lw/${id}/st`, payload: Buffer.from('gone'), qos: 1, retain: false },
    }),
  );
  socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `lw/${id}/cmd`, qos: 1 }] }));
  await expect.poll(() => packets.map((p) => p.cmd)).toEqual(['connack', 'suback']);
  return { socket, packets, closed, isClosed: () => isClosed };
}

type AedesClient = { _keepaliveTimer: unknown; conn: Socket; closed: boolean };
const clientOf = (id: string): AedesClient | undefined => (broker!.aedes as unknown as { clients: Record<string, AedesClient> }).clients[id];
/**
 * The sweep runs inside ManualClock.advance, and an expiry closes the aedes client there and then
 * ('keepaliveTimeout', then the client's error and close, all synchronous): right after an advance,
 * a client that is still open was not expired.
 */
const stillOpen = (id: string): boolean => clientOf(id)?.closed === false;

describe('keepalive (MQTT 3.1.1 §3.1.2.10), one sweep for every client', () => {
  it('a client silent for 1.5 x its Keep Alive is disconnected and its will published, not a millisecond before', async () => {
    const clock = new ManualClock();
    const s = await start(clock);
    const f = await fob(s.port, 'fob-k1', 10);
    // aedes's per-client Timeout has been replaced by the sweep's mark.
    expect(clientOf('fob-k1')?._keepaliveTimer).toBeInstanceOf(KeepaliveMark);
    // 15,000 ms of silence is exactly 1.5 x 10 s: aedes's own rule fires only past it (10 x 1500 + 1).
    clock.advance(15_000);
    expect(stillOpen('fob-k1')).toBe(true);
    expect(s.keepaliveTimeouts).toEqual([]);
    // The next sweep, within SWEEP_MS after the limit, disconnects it as if the network had failed.
    clock.advance(SWEEP_MS);
    expect(stillOpen('fob-k1')).toBe(false);
    await f.closed;
    await expect.poll(() => s.wills).toEqual(['lw/fob-k1/st:gone']);
    expect(s.keepaliveTimeouts).toEqual(['fob-k1']);
    await expect.poll(() => broker!.connectedClients).toBe(0);
  });

  it('a PINGREQ restarts the count, and Keep Alive 0 never expires', async () => {
    const clock = new ManualClock();
    const s = await start(clock);
    const pinging = await fob(s.port, 'fob-k2', 10);
    const never = await fob(s.port, 'fob-k3', 0);
    for (let i = 0; i < 3; i++) {
      clock.advance(14_000);
      pinging.socket.write(mqttPacket.generate({ cmd: 'pingreq' }));
      await expect.poll(() => pinging.packets.filter((p) => p.cmd === 'pingresp').length).toBe(i + 1);
    }
    // 42 s since the CONNECT, never 15 s without a packet: still connected.
    clock.advance(14_000);
    expect(stillOpen('fob-k2')).toBe(true);
    clock.advance(2_000);
    expect(stillOpen('fob-k2')).toBe(false);
    await pinging.closed;
    clock.advance(3_600_000);
    expect(stillOpen('fob-k3')).toBe(true);
    expect(never.isClosed()).toBe(false);
    expect(s.keepaliveTimeouts).toEqual(['fob-k2']);
    await expect.poll(() => s.wills).toEqual(['lw/fob-k2/st:gone']);
  });
});

describe('a connection that ends still closes its client', () => {
  it('holds at most two listeners per socket event, and no stream.finished() watch', async () => {
    const s = await start();
    await fob(s.port, 'fob-l1', 60);
    const conn = clientOf('fob-l1')!.conn;
    for (const event of conn.eventNames()) expect(conn.listenerCount(event), String(event)).toBeLessThanOrEqual(2);
    // finished() was the only 'finish' listener on the socket.
    expect(conn.listenerCount('finish')).toBe(0);
    // The will's payload is a buffer of its own, not a slice keeping the CONNECT's socket chunk.
    const will = (clientOf('fob-l1') as unknown as { will: { payload: Buffer } }).will;
    expect(will.payload.toString()).toBe('gone');
    expect(will.payload.buffer.byteLength).toBe(will.payload.length);
  });

  it('the fob closing its socket, resetting it, or the hub dropping it: each time the will is published and the client let go', async () => {
    const s = await start();
    const a = await fob(s.port, 'fob-e1', 60);
    const b = await fob(s.port, 'fob-e2', 60);
    const c = await fob(s.port, 'fob-e3', 60);
    expect(broker!.connectedClients).toBe(3);
    a.socket.end();
    // A TCP reset: the hub's socket gets ECONNRESET (an 'error', then 'close') with no listener of ours.
    b.socket.resetAndDestroy();
    expect(broker!.disconnectDevice('fob-e3', 'test')).toBe(true);
    await c.closed;
    await expect.poll(() => [...s.wills].sort()).toEqual(['lw/fob-e1/st:gone', 'lw/fob-e2/st:gone', 'lw/fob-e3/st:gone']);
    await expect.poll(() => broker!.connectedClients).toBe(0);
    expect((broker as unknown as { sockets: Set<Socket> }).sockets.size).toBe(0);
  });
});
