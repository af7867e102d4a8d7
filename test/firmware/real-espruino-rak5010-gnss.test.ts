/**
 * Issue 20 on the REAL Espruino 2v29 interpreter: the emitted RAK5010 bundle, its Serial1 on a pty to
 * the simulated BG96 (firmware/sim/bg96-sim.ts) whose GNSS receiver plays a track, real TCP to a real
 * hub (aedes, SQLite). Positions are checked where they travel: `l` in the alarm event as the hub
 * stored it (fob_events.payload, the raw JSON), `ps` as MQTT PUBLISH packets on the modem's TCP
 * (this branch's hub does not store positions; branch lochub does).
 *
 * GPS_EN (issue 20): the board's GNSS power enable is D39 (Espruino's libs/js/rak/RAK5010.js), and
 * the Linux build has no pin above D32, so these fobs are provisioned with it on D30 through the
 * wiring `w` (as the motor on D31): the pin writes are real digitalWrites on the interpreter, seen by
 * the prelude's probes in order with the AT+QGPS=1 / AT+QGPSEND the firmware writes to Serial1. What
 * a fob on the default D39 does there (a wiring fault, reported) is the last test.
 */
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { RAK5010_WIRING } from '../../firmware/src/wiring.js';
import { FIRMWARE_VERSION } from '../../firmware/src/version.js';
import { RealFob, readBoardFile, realEspruinoMissing } from '../helpers/real-espruino.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { positionSchema } from '../../shared/protocol-schemas.js';
import { commandTopic } from '../../shared/protocol-core.js';

const missing = realEspruinoMissing('RAK5010');
if (missing) console.warn(`real-espruino-rak5010-gnss: skipped, ${missing}`);

const MOTOR_ON_LINUX = 'D31';
const GPS_EN_ON_LINUX = 'D30';
const OUTSIDE = '0 51.50722 -0.12750 1.2';

// Concurrent (issue 18): each test has its own interpreter, modem (its own track) and device id on
// the one hub, and waits mostly on the interpreter's own timers (the gestures, the GNSS polls, the
// modem's answers), so the tests wait side by side rather than one after the other; nothing they
// check is timed by the test. Each interpreter is powered off when its
// own test ends (`onTestFinished`, the test context's: a shared afterEach would end the others'
// fobs), and each test asserts with its context's `expect` (vitest: "Running tests concurrently").
describe.skipIf(!!missing)('RAK5010 GNSS on the real Espruino interpreter, through the BG96 to a real hub', { concurrent: true, timeout: 120_000 }, () => {
  let bundle = '';
  let hub: TestHub;
  let n = 0;

  beforeAll(async () => {
    const b = await cachedFirmwareBuild('rak5010');
    expect(b.ok).toBe(true);
    bundle = b.code;
    hub = await startTestHub();
  });
  afterAll(async () => {
    await hub?.stop();
  });

  const btn = (): string => readBoardFile('RAK5010').devices[RAK5010_WIRING.btn] ?? RAK5010_WIRING.btn;

  /** A fob whose modem plays `track`; `ps` collects every position PUBLISH it puts on TCP. */
  async function start(ctx: TestContext, track: string, w: Record<string, string> = { motor: MOTOR_ON_LINUX, gps: GPS_EN_ON_LINUX }): Promise<{ fob: RealFob; id: string; ps: string[] }> {
    const id = `rak-gnss-${++n}`;
    const ps: string[] = [];
    const { secret } = await hub.addDevice(id, { workerId: `wg-${n}` });
    const topic = `lw/${id}/ps`;
    const fob = new RealFob({
      board: 'RAK5010',
      bundle,
      identity: { id, pw: secret, h: '127.0.0.1', p: hub.mqttPort, w },
      onModem: (modem) => {
        modem.setTrack(track);
        modem.onSend = (bytes) => {
          // MQTT 3.1.1 §3.3: PUBLISH QoS 0 is type 0x30, then the length, the topic (2-byte length
          // prefix) and the payload. A packet may carry only this one message: the payload runs to its end.
          const at = bytes.indexOf(topic);
          if (bytes.charCodeAt(0) === 0x30 && at > 0) ps.push(bytes.substr(at + topic.length));
        };
      },
    });
    ctx.onTestFinished(() => fob.destroy());
    await fob.boot();
    if (w.gps === undefined) return { fob, id, ps };
    await fob.waitForConsole(/^LW:up/, 10_000);
    await ctx.expect.poll(async () => (await hub.hub.store.read((tx) => tx.getDevice(id)))?.firmware, { timeout: 15_000 }).toBe(FIRMWARE_VERSION);
    return { fob, id, ps };
  }

  /** GPS_EN's writes and the GNSS session commands, as the interpreter printed them. */
  const gpsSequence = (fob: RealFob): string[] =>
    fob.probes.flatMap((p) => {
      const v = p.v as [string, number] | string;
      if (p.k === 'tx') return [v as string];
      if (p.k === 'io' && Array.isArray(v) && v[0] === GPS_EN_ON_LINUX) return [`${v[0]}=${v[1]}`];
      return [];
    });

  const stored = (id: string, kind: string): Record<string, unknown>[] => {
    const db = new Database(join(hub.dataDir, 'lonewatch.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT payload FROM fob_events WHERE device_id = ? AND kind = ? ORDER BY received_at').all(id, kind) as { payload: string }[];
      return rows.map((r) => JSON.parse(r.payload) as Record<string, unknown>);
    } finally {
      db.close();
    }
  };

  it('indoors: the SOS reaches the hub at once without l (never delayed for a fix); stepping outside, ps follows with the fix', async (ctx) => {
    const { expect } = ctx;
    const { fob, id, ps } = await start(ctx, '0 indoors');
    await fob.gesture(btn(), 'H');
    await expect.poll(() => stored(id, 'sos').length, { timeout: 15_000 }).toBe(1);
    expect(stored(id, 'sos')[0].l).toBeUndefined();
    // The receiver was turned on by the alarm and answers 516 indoors: no position sent.
    await expect.poll(() => fob.modem!.commands.filter((c) => c === 'AT+QGPSLOC=2').length, { timeout: 15_000 }).toBeGreaterThan(1);
    expect(ps).toEqual([]);
    expect(gpsSequence(fob)).toEqual([`${GPS_EN_ON_LINUX}=1`, 'AT+QGPS=1']);
    fob.modem!.setTrack(OUTSIDE);
    await expect.poll(() => ps.length, { timeout: 20_000 }).toBeGreaterThan(0);
    const p = positionSchema.parse(JSON.parse(ps[0]));
    expect(p).toMatchObject({ la: 51.50722, lo: -0.1275, ac: 6, s: 'g' });
    expect(p.fa).toBeLessThanOrEqual(2);
    expect(fob.modem!.refused).toEqual([]);
    expect(fob.errors).toEqual([]);
  });

  it('an SOS while the fob holds a fresh fix arrives with l in the stored event; the hub closing the alarm turns the receiver off', async (ctx) => {
    const { expect } = ctx;
    const { fob, id, ps } = await start(ctx, OUTSIDE);
    // A first alarm (covert) turns the receiver on and gets the fix (and a ps) ...
    await fob.gesture(btn(), 'SSSS');
    await expect.poll(() => ps.length, { timeout: 20_000 }).toBeGreaterThan(0);
    const cov = stored(id, 'cov');
    expect(cov).toHaveLength(1);
    expect(cov[0].l).toBeUndefined();
    // ... so the loud SOS raised next carries it.
    await fob.gesture(btn(), 'H');
    await expect.poll(() => stored(id, 'sos').length, { timeout: 15_000 }).toBe(1);
    const l = positionSchema.parse(stored(id, 'sos')[0].l);
    expect(l).toMatchObject({ la: 51.50722, lo: -0.1275, ac: 6, s: 'g' });
    expect(l.fa).toBeLessThanOrEqual(120);
    // The officer closes it: clr from the hub; the firmware ends the GNSS session.
    hub.hub.broker.publish(commandTopic(id), '{"k":"clr"}', 1);
    await expect.poll(() => fob.modem!.commands.includes('AT+QGPSEND'), { timeout: 15_000 }).toBe(true);
    // GPS_EN around the session, in the interpreter's own order: high before AT+QGPS=1 left on
    // Serial1, low only after AT+QGPSEND was answered (libs/js/rak/RAK5010.js setGPSOn).
    await expect.poll(() => gpsSequence(fob), { timeout: 10_000 }).toEqual([`${GPS_EN_ON_LINUX}=1`, 'AT+QGPS=1', 'AT+QGPSEND', `${GPS_EN_ON_LINUX}=0`]);
    expect(fob.modem!.refused).toEqual([]);
    expect(fob.errors).toEqual([]);
  });

  it('on the default GPS_EN (D39), which the Linux build cannot make: LW:fault names it, and the alarm still reaches the hub', async (ctx) => {
    const { expect } = ctx;
    const { fob, id } = await start(ctx, OUTSIDE, { motor: MOTOR_ON_LINUX });
    expect(fob.missingPins).toContain('D39');
    expect(await fob.waitForConsole(/^LW:(up|fault)/, 10_000)).toBe('LW:fault gps=D39 not a pin');
    await fob.gesture(btn(), 'H');
    await expect.poll(() => stored(id, 'sos').length, { timeout: 15_000 }).toBe(1);
    // The receiver is still asked for (the modem may power its GNSS without the pin): no pin written.
    await expect.poll(() => fob.modem!.commands.includes('AT+QGPS=1'), { timeout: 15_000 }).toBe(true);
    expect(fob.probes.filter((p) => p.k === 'io' && (p.v as [string])[0] === 'D39')).toEqual([]);
    expect(fob.errors).toEqual([]);
  });
});
