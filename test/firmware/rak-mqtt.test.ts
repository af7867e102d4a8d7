/**
 * The EMITTED RAK5010 bundle, its own BG96 driver and its own MQTT 3.1.1 client, against a plain
 * aedes broker on an ephemeral port: the simulated BG96 opens real TCP sockets. Checks what the hub
 * tests do not: the CONNECT (credentials, last will), QoS 1 with the hub's ack, the last will on a
 * dead link, the keep-alive noticing it, and a broker that never answers CONNECT.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import type vm from 'node:vm';
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedRak } from '../../firmware/sim/rak-sim.js';
import { outboxEntries } from '../../firmware/sim/outbox-files.js';

let script: vm.Script;
beforeAll(async () => {
  const b = await cachedFirmwareBuild('rak5010');
  expect(b.problems).toEqual([]);
  script = SimulatedBoard.compile(b.code, 'rak5010.js');
});

interface Seen {
  topic: string;
  payload: string;
  qos: number;
  clientId: string | null;
}

let broker: Aedes;
let server: Server;
let port: number;
let published: Seen[];
let connects: { clientId: string; username?: string; password?: string }[];
/** When set, the broker never answers CONNECT (authentication hangs). */
let hangConnects: boolean;
/** When set, the test plays the hub: every event is acked on the fob's command topic. */
let autoAck: boolean;
let raks: SimulatedRak[];

beforeEach(async () => {
  published = [];
  connects = [];
  hangConnects = false;
  autoAck = true;
  raks = [];
  broker = await Aedes.createBroker({
    authenticate: (client: Client, username: string | undefined, password: Buffer | undefined, done: (err: null, ok: boolean) => void) => {
      connects.push({ clientId: client.id, username, password: password?.toString() });
      if (hangConnects) return;
      done(null, username === 'rak-1' && password?.toString() === 's3cret');
    },
  });
  broker.on('publish', (packet: AedesPublishPacket, client: Client | null) => {
    if (packet.topic.startsWith('$SYS')) return;
    const payload = packet.payload.toString();
    published.push({ topic: packet.topic, payload, qos: packet.qos, clientId: client ? client.id : null });
    if (client && autoAck && packet.topic === 'lw/rak-1/ev') {
      const id = (JSON.parse(payload) as { i: string }).i;
      broker.publish({ cmd: 'publish', topic: 'lw/rak-1/cmd', payload: Buffer.from(JSON.stringify({ k: 'ack', i: id })), qos: 1, dup: false, retain: false }, () => undefined);
    }
  });
  server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  for (const r of raks) r.stop();
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise<void>((r) => server.close(() => r()));
});

function rak(): SimulatedRak {
  const r = new SimulatedRak(script, { 'lw.json': JSON.stringify({ id: 'rak-1', pw: 's3cret', h: 'hub.example.org', p: port }) });
  // The fob asks for its configured host name; the simulated network resolves it to the test broker.
  r.modem.redirect('127.0.0.1');
  raks.push(r);
  r.boot();
  return r;
}

const outbox = (r: SimulatedRak): { i: string; k: string }[] => outboxEntries(r.storage);
const events = (kind?: string): { i: string; k: string; ag: number }[] =>
  published.filter((p) => p.topic === 'lw/rak-1/ev').map((p) => JSON.parse(p.payload)).filter((e) => !kind || e.k === kind);

describe('RAK5010 bundle: BG96 driver and MQTT client against a plain broker', () => {
  it('connects as the device with a last will, says it is online, subscribes and says hello at QoS 1', async () => {
    const r = rak();
    expect(await r.until(() => events('hi').length > 0, 20_000)).toBe(true);
    expect(connects[0]).toEqual({ clientId: 'rak-1', username: 'rak-1', password: 's3cret' });
    // The modem was driven by AT commands the BG96 manual documents, in order.
    expect(r.modem.commands.slice(0, 8).map((c) => c.replace(/=.*/, ''))).toEqual(['AT', 'ATE0', 'AT+CPIN?', 'AT+CEREG?', 'AT+QICSGP', 'AT+QIDEACT', 'AT+QIACT', 'AT+QIOPEN']);
    // Nothing was sent to the modem while it was still executing a command, nor ended by LF alone.
    expect(r.modem.refused).toEqual([]);
    expect(r.modem.commands).toContain(`AT+QIOPEN=1,0,"TCP","hub.example.org",${port},0,1`);
    expect(published.find((p) => p.topic === 'lw/rak-1/st')).toMatchObject({ payload: '1', qos: 1 });
    expect(published.find((p) => p.topic === 'lw/rak-1/ev')).toMatchObject({ qos: 1 });
    const client = (broker as unknown as { clients: Record<string, { will?: { topic: string; payload: Buffer } }> }).clients['rak-1'];
    expect(client.will?.topic).toBe('lw/rak-1/st');
    expect(client.will?.payload.toString()).toBe('0');
    expect(await r.until(() => outbox(r).length === 0, 5000)).toBe(true);
  }, 120_000);

  it('R2, R17: loud SOS: buzzer, an sos event at QoS 1, and the ack empties the outbox', async () => {
    const r = rak();
    await r.until(() => events('hi').length > 0, 20_000);
    await r.gesture('H');
    expect(r.board.buzzerOnCount()).toBeGreaterThan(0);
    expect(await r.until(() => events('sos').length === 1, 5000)).toBe(true);
    expect(await r.until(() => outbox(r).length === 0, 5000)).toBe(true);
    // Heartbeats go at QoS 0.
    await r.run(6 * 60_000, 1000);
    const hb = published.filter((p) => p.topic === 'lw/rak-1/hb');
    expect(hb.length).toBeGreaterThan(0);
    expect(hb.every((p) => p.qos === 0)).toBe(true);
  }, 120_000);

  it('a dropped link: the broker publishes the last will, the fob reconnects, and the alarm raised meanwhile arrives with one id', async () => {
    const r = rak();
    await r.until(() => events('hi').length > 0 && outbox(r).length === 0, 20_000);
    autoAck = false;
    r.modem.dropLink();
    // The socket died without a DISCONNECT: the broker sends the will.
    await expect.poll(() => published.some((p) => p.topic === 'lw/rak-1/st' && p.payload === '0'), { timeout: 5000 }).toBe(true);
    await r.gesture('SSSS');
    expect(events('cov')).toHaveLength(0);
    r.modem.restoreLink();
    // Within two keep-alive periods the fob notices, reconnects with back-off and resends.
    expect(await r.until(() => events('cov').length > 0, 400_000)).toBe(true);
    const id = events('cov')[0].i;
    expect(connects.length).toBeGreaterThanOrEqual(2);
    // Not acked: retried with back-off, always the same id.
    await r.run(60_000, 1000);
    const covs = events('cov');
    expect(covs.length).toBeGreaterThan(1);
    expect(new Set(covs.map((e) => e.i))).toEqual(new Set([id]));
    expect(covs[covs.length - 1].ag).toBeGreaterThan(covs[0].ag);
    autoAck = true;
    expect(await r.until(() => outbox(r).length === 0, 400_000)).toBe(true);
    expect(r.board.buzzerOnCount()).toBe(0);
    expect(r.board.errors).toEqual([]);
  }, 120_000);

  it('a silent dead link (no URC, sends vanish) is noticed by the keep-alive within two periods', async () => {
    const r = rak();
    await r.until(() => events('hi').length > 0 && outbox(r).length === 0, 20_000);
    const opens = (): number => r.modem.commands.filter((c) => c.startsWith('AT+QIOPEN')).length;
    r.modem.silentDrop();
    await r.gesture('SS');
    expect(events('chk')).toHaveLength(0);
    expect(opens()).toBe(1);
    // Keep-alive 120 s: a PINGREQ every 60 s; no PINGRESP by the next tick closes the link.
    await r.run(125_000, 1000);
    expect(r.modem.commands).toContain('AT+QICLOSE=0');
    r.modem.restoreLink();
    expect(await r.until(() => events('chk').length > 0, 400_000)).toBe(true);
    expect(opens()).toBeGreaterThanOrEqual(2);
    expect(await r.until(() => outbox(r).length === 0, 20_000)).toBe(true);
  }, 120_000);

  it('a broker that never answers CONNECT is given up on, and the fob tries again', async () => {
    hangConnects = true;
    const r = rak();
    expect(await r.until(() => connects.length >= 1, 20_000)).toBe(true);
    hangConnects = false;
    expect(await r.until(() => events('hi').length > 0, 200_000)).toBe(true);
    expect(connects.length).toBeGreaterThanOrEqual(2);
    expect(r.board.errors).toEqual([]);
  }, 120_000);

  it('the outbox survives a reboot: events raised with the modem down arrive after it', async () => {
    hangConnects = true;
    const r = rak();
    await r.until(() => connects.length >= 1, 20_000);
    await r.gesture('SSSS');
    r.reboot();
    hangConnects = false;
    // The outbox sends oldest first, so the hello of boot 2 may land just after the alarm: wait for both.
    const helloOfBoot2 = (): boolean => events('hi').some((e) => e.i.startsWith('2-'));
    expect(await r.until(() => events('cov').length > 0 && helloOfBoot2(), 200_000)).toBe(true);
    // hello of boot 1, cov of boot 1, hello of boot 2: ids from both lives.
    const ids = events().map((e) => e.i);
    expect(ids).toContain(events('cov')[0].i);
    expect(events('cov')[0].i.startsWith('1-')).toBe(true);
    expect(helloOfBoot2()).toBe(true);
  }, 120_000);
});
