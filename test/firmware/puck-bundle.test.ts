/**
 * The EMITTED Puck.js bundle, run by a simulated board: gestures, the alarm state machine, the
 * outbox across reboots and dropped links, commands, man-down and the watchdog.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type vm from 'node:vm';
import { buildFirmware } from '../../firmware/build/build.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedPuck } from '../../firmware/sim/puck-sim.js';
import { compareEventIds } from '../../shared/protocol-core.js';
import { parseFobEvent, parseHeartbeat } from '../../shared/protocol-schemas.js';

let script: vm.Script;
beforeAll(async () => {
  const b = await buildFirmware('puck', { write: false });
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
    expect(hello).toMatchObject({ k: 'hi', bd: 'puck', pv: 1, bc: 1 });
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

  it('loud SOS: a 3 s hold sounds the buzzer at once and sends sos', () => {
    const p = puck();
    p.gesture('H');
    expect(p.events('sos')).toHaveLength(1);
    expect(p.board.buzzerOnCount()).toBeGreaterThan(0);
  });

  it('covert SOS: four quick presses send cov and the buzzer is never driven, even when help is coming', () => {
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

  it('check-in, visit start and end, extend, end of shift; a single press or a stray long press does nothing', () => {
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

  it('cancel names the alarm it cancels and stops the buzzer', () => {
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
    expect(JSON.parse(storage['lw-ob']).e.some((e: { i: string }) => e.i === id)).toBe(false);
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
    for (let i = 0; i < 25; i++) p.gesture('SS');
    const kept = JSON.parse(storage['lw-ob']).e as { k: string }[];
    expect(kept.length).toBe(20);
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
