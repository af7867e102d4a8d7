/**
 * Issue 14: the simulated board must have what the real board has and nothing more, or a bundle
 * that dies on the real board (the RAK5010 has no BTN) passes every simulated test. Checks the
 * simulator's pin tables against Espruino's board files, the default wiring against them, and the
 * emitted bundles' fault path on the simulated board.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type vm from 'node:vm';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { BOARD_PINS, SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { DEFAULT_WIRING, WIRING_ROLES } from '../../firmware/src/wiring.js';
import { FIRMWARE_VERSION } from '../../firmware/src/version.js';
import { readBoardFile, realEspruinoMissing, type RealBoard } from '../helpers/real-espruino.js';

const missing = realEspruinoMissing();
if (missing) console.warn(`board-files: board-file checks skipped, ${missing}`);

const BOARD_OF = { puck: 'PUCKJS', rak5010: 'RAK5010' } as const;

describe.skipIf(!!missing)("the simulated boards follow Espruino's board files", () => {
  it.each(['PUCKJS', 'RAK5010'] as RealBoard[])('%s: the same GPIOs and device pins', (board) => {
    expect(BOARD_PINS[board]).toEqual(readBoardFile(board));
  });

  it.each(Object.entries(BOARD_OF))('the default wiring of %s names pins its board file has', (fw, board) => {
    const file = readBoardFile(board);
    const wiring = DEFAULT_WIRING[fw as keyof typeof DEFAULT_WIRING];
    for (const role of WIRING_ROLES) {
      const name = wiring[role];
      if (role === 'batt' && name === '') continue;
      // gps (the GNSS power enable) is the RAK5010's alone: a Puck.js's wiring has no such role.
      if (role === 'gps' && fw === 'puck') {
        expect(name).toBeUndefined();
        continue;
      }
      if (name === undefined) throw new Error(`${fw}: no ${role} in the default wiring`);
      const pin = file.devices[name] ?? name;
      expect(/^D\d+$/.test(pin) && Number(pin.slice(1)) < file.gpios, `${role}=${name}`).toBe(true);
    }
  });

  it('the RAK5010 wiring keeps off the crystal (D0, D1: XL1/XL2 in RAK5010.py) and the modem PWRKEY (D2)', () => {
    const used = WIRING_ROLES.map((r) => DEFAULT_WIRING.rak5010[r]);
    for (const bad of ['D0', 'D1', 'D2']) expect(used).not.toContain(bad);
  });
});

describe('the emitted RAK5010 bundle on the simulated board (no BTN there)', () => {
  let script: vm.Script;
  beforeAll(async () => {
    const b = await cachedFirmwareBuild('rak5010');
    expect(b.ok).toBe(true);
    script = SimulatedBoard.compile(b.code, 'rak5010.js');
  });

  const boot = (w?: Record<string, string>): SimulatedBoard => {
    const board = new SimulatedBoard(script, { 'lw.json': JSON.stringify({ id: 'rak-9', pw: 'x', h: '127.0.0.1', p: 1, ...(w ? { w } : {}) }) }, {}, 'RAK5010');
    board.boot();
    return board;
  };

  it('has no BTN, and the default wiring boots: LW:up once', () => {
    const board = boot();
    expect(board.evaluate('typeof BTN')).toBe('undefined');
    expect(board.errors).toEqual([]);
    expect(board.consoleLines).toEqual([`LW:up ${FIRMWARE_VERSION} rak5010 rak-9`]);
    expect(board.wired('btn')).toBe('D19');
  });

  it('wired to BTN: LW:fault, LW.fault, a fast blink on LED1 (D12), and the core still started', () => {
    const board = boot({ btn: 'BTN' });
    expect(board.errors).toEqual([]);
    expect(board.consoleLines).toEqual(['LW:fault btn=BTN not a pin']);
    expect(board.evaluate('LW.fault')).toBe('btn=BTN not a pin');
    expect(board.evaluate('LW.up')).toBe(0);
    expect(board.evaluate('LW.core') === null).toBe(false);
    board.advance(1000);
    expect(board.outputs.filter(([, pin, v]) => pin === 'D12' && v > 0).length).toBeGreaterThanOrEqual(3);
  });

  it('several wrong names are all reported, in the roles order', () => {
    const board = boot({ buzz: 'D99', led: 'E' });
    expect(board.consoleLines).toEqual(['LW:fault buzz=D99 not a pin, led=E not a pin']);
    expect(board.errors).toEqual([]);
  });

  it("'' is a part not fitted (wiring.ts, flash --pins motor=): LW:up, that role idle; an empty button is a fault", () => {
    const board = boot({ motor: '', buzz: '' });
    expect(board.errors).toEqual([]);
    expect(board.consoleLines).toEqual([`LW:up ${FIRMWARE_VERSION} rak5010 rak-9`]);
    expect(board.evaluate('LW.up')).toBe(1);
    expect(boot({ btn: '' }).consoleLines).toEqual(['LW:fault btn= not a pin']);
  });
});
