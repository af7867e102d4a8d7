/**
 * The emitted bundles against the REAL hub: a simulated RAK5010 whose simulated BG96 opens real TCP
 * sockets, and a simulated Puck.js behind the BLE relay; a button press becomes an alarm in the hub
 * over a real MQTT connection, and the hub's ack silences the outbox.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type vm from 'node:vm';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedRak } from '../../firmware/sim/rak-sim.js';
import { SimulatedPuck } from '../../firmware/sim/puck-sim.js';
import { outboxEntries } from '../../firmware/sim/outbox-files.js';
import { BleRelay } from '../../simulator/ble-relay.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';

let rakScript: vm.Script;
let puckScript: vm.Script;
let t: TestHub;
beforeAll(async () => {
  rakScript = SimulatedBoard.compile((await cachedFirmwareBuild('rak5010')).code, 'rak5010.js');
  puckScript = SimulatedBoard.compile((await cachedFirmwareBuild('puck')).code, 'puck.js');
});
beforeEach(async () => {
  t = await startTestHub();
});
afterEach(async () => {
  await t.stop();
});

async function rak(deviceId: string): Promise<SimulatedRak> {
  const { secret } = await t.addDevice(deviceId, { workerId: `w-${deviceId}` });
  const r = new SimulatedRak(rakScript, { 'lw.json': JSON.stringify({ id: deviceId, pw: secret, h: '127.0.0.1', p: t.mqttPort }) });
  r.boot();
  const up = await r.until(() => (t.hub.metrics().connectedFobs as number) > 0, 20_000);
  expect(up).toBe(true);
  return r;
}

describe('RAK5010 bundle over the simulated BG96 to the real hub', () => {
  it('R17: connects with its own MQTT client, says hello, and a held button raises an SOS the hub acks', async () => {
    const r = await rak('rak-1');
    expect(r.modem.commands.slice(0, 2)).toEqual(['AT', 'ATE0']);
    await r.until(() => false, 2000);
    expect((await t.hub.store.read((tx) => tx.getDevice('rak-1')))?.firmware).toMatch(/^\d+\.\d+\.\d+$/);
    await r.gesture('H');
    await r.until(() => false, 3000);
    const alarms = await t.alarms();
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ kind: 'sos', deviceId: 'rak-1' });
    // The hub's ack emptied the outbox.
    expect(await r.until(() => outboxEntries(r.storage).length === 0, 5000)).toBe(true);
    r.stop();
  }, 120_000);

  it('an alarm raised while the link is down arrives once when it returns; nothing is counted twice', async () => {
    const r = await rak('rak-2');
    await r.until(() => false, 1000);
    r.modem.dropLink();
    await r.run(500);
    await r.gesture('SSSS');
    await r.run(5000);
    expect(await t.alarms()).toHaveLength(0);
    r.modem.restoreLink();
    // The keep-alive notices the dead link, the fob reconnects with back-off and resends.
    let arrived = false;
    for (let i = 0; i < 400 && !arrived; i++) {
      await r.run(1000, 250);
      arrived = (await t.alarms()).length > 0 && outboxEntries(r.storage).length === 0;
    }
    expect(arrived).toBe(true);
    const alarms = await t.alarms();
    expect(alarms).toHaveLength(1);
    expect(alarms[0].kind).toBe('covert_sos');
    // hello (twice: two connections) and cov, each stored once.
    expect(await t.eventCount('rak-2')).toBe(JSON.parse(r.storage['lw-bc']) === 1 ? 2 : 3);
    expect(r.board.buzzerOnCount()).toBe(0);
    r.stop();
  }, 120_000);
});

describe('Puck.js bundle through the BLE relay to the real hub', () => {
  it('R1, R17: a covert SOS reaches the hub and the ack comes back over the UART', async () => {
    const { secret } = await t.addDevice('puck-1', { workerId: 'w-puck' });
    const p = new SimulatedPuck(puckScript, { 'lw.json': JSON.stringify({ id: 'puck-1', pw: secret, h: '', p: 0 }) });
    p.boot();
    const relay = await BleRelay.start(p, { url: t.mqttUrl, deviceId: 'puck-1', secret });
    p.advance(1500);
    p.gesture('SSSS');
    await expect.poll(async () => (await t.alarms()).length, { timeout: 5000 }).toBe(1);
    await expect.poll(() => {
      p.advance(100);
      return outboxEntries(p.storage).length;
    }, { timeout: 5000 }).toBe(0);
    expect((await t.alarms())[0].kind).toBe('covert_sos');
    expect(p.board.buzzerOnCount()).toBe(0);
    await relay.stop();
  }, 120_000);

  it('a loud SOS retried before its ack gets through is one alarm and one stored event', async () => {
    const { secret } = await t.addDevice('puck-2', { workerId: 'w-puck-2' });
    const p = new SimulatedPuck(puckScript, { 'lw.json': JSON.stringify({ id: 'puck-2', pw: secret, h: '', p: 0 }) });
    p.boot();
    const relay = await BleRelay.start(p, { url: t.mqttUrl, deviceId: 'puck-2', secret });
    p.advance(1500);
    await expect.poll(() => t.eventCount('puck-2'), { timeout: 5000 }).toBe(1);
    // The phone loses the hub's acks for a while: the fob retries with back-off, same id.
    relay.holdCommands = true;
    p.gesture('H');
    expect(p.board.buzzerOnCount()).toBeGreaterThan(0);
    await expect.poll(async () => (await t.alarms()).length, { timeout: 5000 }).toBe(1);
    p.advance(20_000);
    const sends = p.sends('sos');
    expect(sends.length).toBeGreaterThanOrEqual(3);
    expect(new Set(sends.map((e) => e.i)).size).toBe(1);
    // Every retry reached the hub (it answers each with another ack); give it time to store them.
    await new Promise((r) => setTimeout(r, 300));
    relay.holdCommands = false;
    p.advance(60_000);
    await expect.poll(() => {
      p.advance(100);
      return outboxEntries(p.storage).length;
    }, { timeout: 5000 }).toBe(0);
    const alarms = await t.alarms();
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ kind: 'sos', deviceId: 'puck-2', sourceEventId: sends[0].i });
    expect(await t.eventCount('puck-2')).toBe(2); // hello and sos, each once
    await relay.stop();
  }, 120_000);
});
