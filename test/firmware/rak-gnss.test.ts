/**
 * Issue 20: the EMITTED RAK5010 bundle's GNSS on the simulated board (virtual clock) and the strict
 * simulated BG96 playing a track, against a plain aedes broker over real TCP: what goes on the wire.
 * The real-interpreter side is test/firmware/real-espruino-rak5010-gnss.test.ts.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type vm from 'node:vm';
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedRak } from '../../firmware/sim/rak-sim.js';
import { positionSchema } from '../../shared/protocol-schemas.js';

let script: vm.Script;
beforeAll(async () => {
  const b = await cachedFirmwareBuild('rak5010');
  expect(b.ok).toBe(true);
  script = SimulatedBoard.compile(b.code, 'rak5010.js');
});

let broker: Aedes;
let server: Server;
let port: number;
let published: { topic: string; payload: string; qos: number }[];
let raks: SimulatedRak[];

beforeEach(async () => {
  published = [];
  raks = [];
  broker = await Aedes.createBroker({
    authenticate: (_c: Client, u: string | undefined, p: Buffer | undefined, done: (err: null, ok: boolean) => void) => done(null, u === 'rak-g' && p?.toString() === 's3cret'),
  });
  broker.on('publish', (packet: AedesPublishPacket, client: Client | null) => {
    if (!client || packet.topic.startsWith('$SYS')) return;
    const payload = packet.payload.toString();
    published.push({ topic: packet.topic, payload, qos: packet.qos });
    // Plays the hub: every event acked.
    if (packet.topic === 'lw/rak-g/ev') command({ k: 'ack', i: (JSON.parse(payload) as { i: string }).i });
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

function command(c: Record<string, unknown>): void {
  broker.publish({ cmd: 'publish', topic: 'lw/rak-g/cmd', payload: Buffer.from(JSON.stringify(c)), qos: 1, dup: false, retain: false }, () => undefined);
}

function rak(track: string): SimulatedRak {
  const r = new SimulatedRak(script, { 'lw.json': JSON.stringify({ id: 'rak-g', pw: 's3cret', h: 'hub.example.org', p: port }) });
  r.modem.redirect('127.0.0.1');
  r.modem.now = () => r.board.clock.now();
  r.modem.ttffMs = 20_000;
  r.modem.setTrack(track);
  raks.push(r);
  r.boot();
  return r;
}

const events = (kind: string): Record<string, unknown>[] =>
  published.filter((p) => p.topic === 'lw/rak-g/ev').map((p) => JSON.parse(p.payload) as Record<string, unknown>).filter((e) => e.k === kind);
const positions = () => published.filter((p) => p.topic === 'lw/rak-g/ps');

describe('RAK5010 bundle: GNSS on the wire', () => {
  it('an alarm raised out of coverage keeps its l; sent later, its fa counts to the send (fa - ag = the age at the raise)', async () => {
    const r = rak('0 51.50722 -0.12750 1.2');
    expect(await r.until(() => events('hi').length > 0, 20_000)).toBe(true);
    await r.gesture('SSSS');
    expect(await r.until(() => positions().length > 0, 60_000)).toBe(true);
    expect(positions()[0].qos).toBe(0);
    expect(positionSchema.parse(JSON.parse(positions()[0].payload))).toMatchObject({ la: 51.50722, lo: -0.1275, ac: 6, s: 'g' });
    r.modem.dropLink();
    await r.gesture('H');
    await r.run(60_000, 1000);
    expect(events('sos')).toHaveLength(0);
    r.modem.restoreLink();
    expect(await r.until(() => events('sos').length > 0, 400_000)).toBe(true);
    const sos = events('sos')[0] as { ag: number; l: unknown };
    const l = positionSchema.parse(sos.l);
    expect(sos.ag).toBeGreaterThanOrEqual(60);
    expect(l.fa).toBeGreaterThanOrEqual(sos.ag);
    expect(l.fa - sos.ag).toBeLessThanOrEqual(120);
    expect(r.modem.refused).toEqual([]);
  }, 120_000);

  it("the hub's cfg gp: one fix every gp seconds during a visit, none off a visit", async () => {
    const r = rak('0 51.50722 -0.12750 1.2');
    expect(await r.until(() => events('hi').length > 0, 20_000)).toBe(true);
    // A gp the fob must refuse (under 60 s) refuses the whole cfg: counted, nothing changed.
    const bad = r.board.evaluate('LW.core.stats.badCommands') as number;
    command({ k: 'cfg', hb: 300, gp: 30 });
    expect(await r.until(() => r.board.evaluate('LW.core.stats.badCommands') === bad + 1, 10_000)).toBe(true);
    await r.run(700_000, 2000);
    expect(r.modem.commands.filter((c) => c.startsWith('AT+QGPS'))).toEqual([]);
    command({ k: 'cfg', hb: 300, gp: 600 });
    await r.run(700_000, 2000);
    expect(r.modem.commands.filter((c) => c.startsWith('AT+QGPS'))).toEqual([]);
    await r.gesture('SSS');
    expect(await r.until(() => events('vs').length > 0, 10_000)).toBe(true);
    await r.run(660_000, 2000);
    expect(positions()).toHaveLength(1);
    expect(r.modem.commands.filter((c) => c.startsWith('AT+QGPS')).at(-1)).toBe('AT+QGPSEND');
    expect(r.modem.refused).toEqual([]);
  }, 120_000);
  it('GPS_EN on the default wiring (D39): high before each AT+QGPS=1, low after each AT+QGPSEND, in the order the board saw them', async () => {
    const r = rak('0 51.50722 -0.12750 1.2');
    // One log for both: the board's digitalWrite on D39 and the commands as the modem receives them.
    const log: string[] = [];
    const wrote = r.board.outputs.push.bind(r.board.outputs);
    r.board.outputs.push = (...xs: [number, string, number][]) => {
      for (const [, pin, v] of xs) if (pin === 'D39') log.push(`D39=${v}`);
      return wrote(...xs);
    };
    const received = r.modem.commands.push.bind(r.modem.commands);
    r.modem.commands.push = (...cmds: string[]) => {
      for (const c of cmds) if (c === 'AT+QGPS=1' || c === 'AT+QGPSEND') log.push(c);
      return received(...cmds);
    };
    expect(r.board.wired('gps')).toBe('D39');
    expect(await r.until(() => events('hi').length > 0, 20_000)).toBe(true);
    expect(log).toEqual([]);
    await r.gesture('SSSS');
    expect(await r.until(() => positions().length > 0, 60_000)).toBe(true);
    expect(log).toEqual(['D39=1', 'AT+QGPS=1']);
    command({ k: 'clr' });
    expect(await r.until(() => log.length === 4, 10_000)).toBe(true);
    expect(log).toEqual(['D39=1', 'AT+QGPS=1', 'AT+QGPSEND', 'D39=0']);
    expect(r.modem.refused).toEqual([]);
  }, 120_000);
});
