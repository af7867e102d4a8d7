/**
 * The EMITTED Puck.js bundle, run by a simulated board: gestures, the alarm state machine, the
 * outbox across reboots and dropped links, commands, man-down and the watchdog.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type vm from 'node:vm';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedPuck } from '../../firmware/sim/puck-sim.js';
import { outboxEntries } from '../../firmware/sim/outbox-files.js';
import { OUTBOX_MAX } from '../../firmware/src/core/outbox-size.js';
import { PROTOCOL_VERSION, compareEventIds } from '../../shared/protocol-core.js';
import { parseFobEvent, parseHeartbeat } from '../../shared/protocol-schemas.js';

let script: vm.Script;
beforeAll(async () => {
  const b = await cachedFirmwareBuild('puck');
  expect(b.problems).toEqual([]);
  script = SimulatedBoard.compile(b.code, 'puck.js');
});

const identity = (): Record<string, string> => ({ 'lw.json': JSON.stringify({ id: 'fob-1', pw: 'secret', h: '', p: 0 }) });

function puck(storage: Record<string, string> = identity(), connected = true): SimulatedPuck {
  const p = new SimulatedPuck(script, storage);
  p.boot();
  if (connected) p.link(true);
  p.advance(1500);
  return p;
}

describe('Puck.js bundle on a simulated board', () => {
  it('boots, locks the console, says hello; every message it sends is valid protocol', () => {
    const p = puck();
    expect(p.board.consoleDevice).toBe('Serial1');
    expect(p.board.evaluate('LW.id')).toBe('fob-1');
    expect(p.board.evaluate('LW.v')).toMatch(/^\d+\.\d+\.\d+$/);
    const [hello] = p.events('hi');
    expect(hello).toMatchObject({ k: 'hi', bd: 'puck', pv: PROTOCOL_VERSION, bc: 1 });
    p.advance(10 * 60_000);
    for (const m of p.sent) {
      const parsed = m.leaf === 'ev' ? parseFobEvent(m.json) : parseHeartbeat(m.json);
      expect(parsed.ok, m.json).toBe(true);
    }
    expect(p.sent.some((m) => m.leaf === 'hb')).toBe(true);
  });

  it('an unprovisioned fob sends nothing and blinks', () => {
    const p = puck({});
    p.advance(10_000);
    expect(p.sent).toEqual([]);
    expect(p.board.evaluate('LW.id')).toBe('');
  });

  it('R2: loud SOS: a 3 s hold sounds the buzzer at once and sends sos', () => {
    const p = puck();
    p.gesture('H');
    expect(p.events('sos')).toHaveLength(1);
    expect(p.board.buzzerOnCount()).toBeGreaterThan(0);
  });

  it('R1: covert SOS: four quick presses send cov and the buzzer is never driven, even when help is coming', () => {
    const p = puck();
    p.gesture('SSSS');
    const [cov] = p.events('cov');
    expect(cov).toBeDefined();
    p.command(JSON.stringify({ k: 'ack', i: cov.i }));
    const pulses = p.board.motorPulses();
    p.command('{"k":"hc"}');
    expect(p.board.motorPulses()).toBe(pulses + 1);
    p.advance(60_000);
    expect(p.board.buzzerOnCount()).toBe(0);
  });

  it('R10, R11, R12: check-in, visit start and end, extend, end of shift; a single press or a stray long press does nothing', () => {
    const p = puck();
    p.gesture('S');
    p.gesture('L');
    expect(p.events().filter((e) => e.k !== 'hi')).toEqual([]);
    p.gesture('SS');
    p.gesture('SSS');
    p.gesture('SL');
    p.gesture('SSS');
    p.gesture('SSSL');
    expect(p.events().map((e) => e.k)).toEqual(['hi', 'chk', 'vs', 'ext', 've', 'eos']);
    expect(p.events('ext')[0].m).toBe(30);
  });

  it('R6: cancel names the alarm it cancels and stops the buzzer', () => {
    const p = puck();
    p.gesture('H');
    const [sos] = p.events('sos');
    p.gesture('SSL');
    expect(p.events('can')[0].r).toBe(sos.i);
    const last = p.board.outputs.filter(([, pin]) => pin === 'D1').pop();
    expect(last?.[2]).toBe(0);
  });

  it('the outbox keeps an alarm across a dropped link and a reboot, and resends it with the same id until acked', () => {
    const storage = identity();
    const p = puck(storage, false);
    p.gesture('SSSS');
    expect(p.events('cov')).toHaveLength(0); // no link: nothing sent yet
    p.advance(30_000);
    p.link(true);
    p.advance(2000);
    const first = p.events('cov');
    expect(first).toHaveLength(1);
    const id = first[0].i;
    // Its age says when it happened, whatever the (unset) clock says.
    expect(first[0].ag).toBeGreaterThanOrEqual(30);
    p.link(false);
    p.reboot();
    p.link(true);
    p.advance(2000);
    // Not acked: after the reboot, and again with back-off, always the same id.
    p.advance(60_000);
    const retries = p.sends('cov');
    expect(retries.length).toBeGreaterThan(1);
    expect(new Set(retries.map((e) => e.i))).toEqual(new Set([id]));
    p.command(JSON.stringify({ k: 'ack', i: id }));
    const count = p.sends('cov').length;
    p.advance(10 * 60_000);
    expect(p.sends('cov')).toHaveLength(count);
    expect(outboxEntries(storage).some((e) => e.i === id)).toBe(false);
  });

  it('event ids stay unique and ordered across reboots without a clock', () => {
    const storage = identity();
    const p = puck(storage);
    p.gesture('SS');
    p.reboot();
    p.advance(1500);
    p.gesture('SS');
    const ids = p.events().map((e) => e.i);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort(compareEventIds)).toEqual(ids);
    expect(p.events('hi').map((e) => e.bc)).toEqual([1, 2]);
  });

  it('malformed or unknown commands are counted and ignored, never a crash', () => {
    const p = puck();
    for (const c of ['not json', '{"k":5}', '{"k":"boom"}', '{"k":"cfg","hb":1}', 'null', '[]']) p.command(c);
    p.board.uartReceive('garbage without newline\nxx {}\n');
    expect(p.board.evaluate('LW.core.stats.badCommands')).toBeGreaterThanOrEqual(7);
    expect(p.board.errors).toEqual([]);
    p.gesture('SS');
    expect(p.events('chk')).toHaveLength(1);
  });

  it('a full outbox drops non-alarm events before it ever drops an alarm', () => {
    const storage = identity();
    const p = puck(storage, false);
    p.gesture('SSSS');
    p.gesture('H');
    for (let i = 0; i < OUTBOX_MAX + 5; i++) p.gesture('SS');
    const kept = outboxEntries(storage);
    expect(kept.length).toBe(OUTBOX_MAX);
    expect(kept.filter((e) => e.k === 'cov' || e.k === 'sos')).toHaveLength(2);
  });

  it('man-down: no movement during a visit starts a cancel window; a press cancels it, silence sends mdn', () => {
    const p = puck();
    p.gesture('SSS'); // visit start
    p.advance(10 * 60_000);
    p.advance(10_000); // inside the 30 s window: pulses
    expect(p.events('mdn')).toHaveLength(0);
    p.board.press(150); // "I'm fine"
    p.advance(5 * 60_000);
    expect(p.events('mdn')).toHaveLength(0);
    p.advance(6 * 60_000 + 40_000);
    expect(p.events('mdn')).toHaveLength(1);
  });

  it('movement keeps man-down quiet', () => {
    const p = puck();
    p.gesture('SSS');
    for (let i = 0; i < 30; i++) {
      p.board.move();
      p.advance(60_000);
    }
    expect(p.events('mdn')).toHaveLength(0);
  });

  it('a hung fob is reset by the watchdog and its outbox survives', () => {
    const storage = identity();
    const p = puck(storage, false);
    p.gesture('SSSS');
    expect(p.board.watchdog).toEqual({ timeoutS: 20, auto: false });
    // Hang the main loop: nothing runs, nothing kicks the watchdog.
    p.board.clock.clearAll();
    p.advance(25_000);
    expect(p.resets).toBe(1);
    p.link(true);
    p.advance(2000);
    expect(p.events('cov')).toHaveLength(1);
  });
});

describe('Puck.js bundle: console, advertising, heartbeats, prompts', () => {
  it('the console is locked: what a phone nearby writes never reaches a REPL, only the firmware', () => {
    const p = puck();
    p.board.uartReceive('LW.core.outbox.entries=[]\n');
    expect(p.board.replInput).toEqual([]);
    expect(p.board.evaluate('LW.core.stats.badCommands')).toBe(1);
  });

  it('R16: advertising carries battery, worn and the heartbeat counter, and never alarm state', () => {
    const p = puck(identity(), false);
    expect(p.board.advertising?.opts).toMatchObject({ manufacturer: 0x0590, manufacturerData: [90, 0, 0], interval: 1000 });
    p.board.battery = 77;
    p.board.move();
    p.advance(11 * 60_000);
    expect(p.board.advertising?.opts.manufacturerData).toEqual([77, 1, 1]);
    p.gesture('SSSS');
    p.advance(25 * 60_000);
    const data = p.board.advertising?.opts.manufacturerData ?? [];
    expect(data).toHaveLength(3);
    expect(data[0]).toBe(77);
    expect(data[1]).toBe(0);
    expect(JSON.stringify(p.board.advertising)).not.toContain('cov');
  });

  it('heartbeats back off while the link is down and resume at once when it returns', () => {
    const p = puck(identity(), false);
    p.advance(60 * 60_000);
    // Down for an hour at 5 min intervals would be 12 beats; backed off (10, then 20 min), 4.
    const ticks = (p.board.advertising?.opts.manufacturerData ?? [])[2];
    expect(ticks).toBeLessThanOrEqual(3);
    p.link(true);
    p.advance(3000);
    expect(p.sent.filter((m) => m.leaf === 'hb')).toHaveLength(1);
    p.advance(5.5 * 60_000);
    expect(p.sent.filter((m) => m.leaf === 'hb')).toHaveLength(2);
  });

  it('R10: a prompt is felt, and the check-in that follows answers it; cfg changes the heartbeat interval', () => {
    const p = puck();
    const pulses = p.board.motorPulses();
    p.command('{"k":"prm","d":300}');
    expect(p.board.motorPulses()).toBe(pulses + 1);
    p.gesture('SS');
    expect(p.events('chk')[0].p).toBe(1);
    p.gesture('SS');
    expect(p.events('chk')[1].p).toBeUndefined();
    p.command('{"k":"cfg","hb":60}');
    const before = p.sent.filter((m) => m.leaf === 'hb').length;
    p.advance(10 * 60_000);
    expect(p.sent.filter((m) => m.leaf === 'hb').length - before).toBeGreaterThanOrEqual(9);
  });

  it('R1: covert SOS shows no light either, through ack, help coming, stop and clear', () => {
    const p = puck();
    p.gesture('SSSS');
    const [cov] = p.events('cov');
    for (const c of [{ k: 'ack', i: cov.i }, { k: 'hc' }, { k: 'stop' }, { k: 'clr' }]) p.command(JSON.stringify(c));
    p.advance(120_000);
    expect(p.board.buzzerOnCount()).toBe(0);
    expect(p.board.outputs.filter(([, pin, v]) => pin === p.board.wired('led') && v > 0)).toEqual([]);
  });

  it('man-down warns with vibration only during its cancel window, then sends mdn once', () => {
    const p = puck();
    p.gesture('SSS');
    const pulses = p.board.motorPulses();
    p.advance(10 * 60_000 + 20_000);
    expect(p.board.motorPulses()).toBeGreaterThan(pulses + 2);
    expect(p.events('mdn')).toHaveLength(0);
    p.advance(20_000);
    expect(p.events('mdn')).toHaveLength(1);
    expect(p.board.buzzerOnCount()).toBe(0);
  });

  it('R2: a loud alarm stops on the hub\'s stop command', () => {
    const p = puck();
    p.gesture('H');
    p.command('{"k":"stop"}');
    const last = p.board.outputs.filter(([, pin]) => pin === 'D1').pop();
    expect(last?.[2]).toBe(0);
  });

  it('the wall clock is never read: ids and ages are the same whether the clock is set or not', () => {
    const p = puck();
    p.board.evaluate('setTime(1.9e9)');
    p.gesture('SS');
    p.board.evaluate('setTime(0)');
    p.gesture('SS');
    const ids = p.events('chk').map((e) => e.i);
    expect(ids).toEqual([...ids].sort(compareEventIds));
    expect(p.events('chk').every((e) => e.ag < 5)).toBe(true);
  });

  it('many boards from one compiled script are independent', () => {
    const fobs = Array.from({ length: 50 }, (_, n) => {
      const p = new SimulatedPuck(script, { 'lw.json': JSON.stringify({ id: `f-${n}`, pw: 'x', h: '', p: 0 }) });
      p.boot();
      p.link(true);
      return p;
    });
    fobs[7].gesture('SSSS');
    for (const f of fobs) f.advance(2000);
    expect(fobs.filter((f) => f.events('cov').length > 0)).toHaveLength(1);
    expect(fobs[3].board.evaluate('LW.id')).toBe('f-3');
  });
});
