/**
 * Issue 17: the Puck.js's BLE link needs a phone paired with the fob's passkey (lw.json pk, written
 * by `lonewatch flash`). The EMITTED bundle on the simulated board, whose NRF.setSecurity and
 * pairing follow Espruino's reference and source (firmware/sim/ble-security.ts); the model itself
 * is checked first, then the bundle against a paired phone, a wrong passkey and an unpaired one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type vm from 'node:vm';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedPuck } from '../../firmware/sim/puck-sim.js';
import { connectCentral, parseSetSecurity, uartAllowed, BleSecurityError } from '../../firmware/sim/ble-security.js';

let script: vm.Script;
beforeAll(async () => {
  const b = await cachedFirmwareBuild('puck');
  expect(b.problems).toEqual([]);
  script = SimulatedBoard.compile(b.code, 'puck.js');
});

const PASSKEY = '482913';
const identity = (extra: Record<string, unknown> = { pk: PASSKEY }): Record<string, string> => ({
  'lw.json': JSON.stringify({ id: 'fob-7', pw: 'secret', h: '', p: 0, ...extra }),
});

function boot(storage = identity()): SimulatedPuck {
  const p = new SimulatedPuck(script, storage);
  p.boot();
  return p;
}

describe('NRF.setSecurity as the simulated Puck.js models it', () => {
  it('reads the options as Espruino does: a string passkey of 6 digits, cut to 6, and the UART then needs encryption', () => {
    const s = parseSetSecurity({ passkey: '1234567', mitm: 1, display: 1 });
    expect(s).toMatchObject({ passkey: '123456', mitm: true, display: true, bond: true, encryptUart: true });
    // A number is not read as a passkey at all (bluetooth.c reads only a string): no UART encryption.
    expect(parseSetSecurity({ passkey: 123456, display: 1 })).toMatchObject({ passkey: '', encryptUart: false });
    expect(parseSetSecurity({ bond: 0 }).bond).toBe(false);
    expect(parseSetSecurity(undefined)).toMatchObject({ passkey: '', encryptUart: false });
  });

  it('refuses what Espruino refuses, with its words', () => {
    const thrown = (v: unknown): BleSecurityError => {
      try {
        parseSetSecurity(v);
      } catch (e) {
        return e as BleSecurityError;
      }
      throw new Error('did not throw');
    };
    expect(thrown('123456')).toMatchObject({ kind: 'TypeError', message: 'Expecting an object or undefined, got String' });
    expect(thrown(null)).toMatchObject({ kind: 'TypeError', message: 'Expecting an object or undefined, got null' });
    expect(thrown({ passkey: '12a456', display: 1 })).toMatchObject({ kind: 'Error', message: 'ERR 0x7 (INVALID_PARAM)' });
    expect(thrown({ passkey: '12345', display: 1 })).toMatchObject({ kind: 'Error', message: 'ERR 0x7 (INVALID_PARAM)' });
  });

  it('pairing: the right passkey gives an encrypted MITM-protected bond; a wrong one, none, or a passkey without display does not', () => {
    const sec = parseSetSecurity({ passkey: PASSKEY, mitm: 1, display: 1, lesc: 1 });
    const ok = connectCentral(sec, { id: 'a', passkey: PASSKEY }, undefined);
    expect(ok).toMatchObject({ encrypted: true, mitm: true, bonded: true, lesc: true, failure: null });
    expect(connectCentral(sec, { id: 'a', passkey: PASSKEY, lesc: false }, undefined).lesc).toBe(false);
    expect(connectCentral(sec, { id: 'b', passkey: '000000' }, undefined)).toMatchObject({ encrypted: false, failure: 'wrong passkey (confirm value failed)' });
    const unpaired = connectCentral(sec, { id: 'c' }, undefined);
    expect(unpaired.encrypted).toBe(false);
    expect(uartAllowed(sec, unpaired)).toBe(false);
    expect(uartAllowed(sec, ok)).toBe(true);
    const noDisplay = parseSetSecurity({ passkey: PASSKEY, mitm: 1 });
    expect(connectCentral(noDisplay, { id: 'd', passkey: PASSKEY }, undefined).failure).toBe('a passkey without display:1');
    // Without any security (a fob flashed before issue 17) the UART is open to anyone.
    const open = parseSetSecurity(undefined);
    expect(uartAllowed(open, connectCentral(open, { id: 'e' }, undefined))).toBe(true);
  });
});

describe('Puck.js bundle: BLE pairing with the provisioned passkey', () => {
  it('sets the security from lw.json pk at boot', () => {
    const p = boot();
    expect(p.board.errors).toEqual([]);
    expect(p.board.security).toMatchObject({ passkey: PASSKEY, mitm: true, display: true, lesc: true, bond: true, encryptUart: true });
  });

  it('a phone paired with the right passkey gets the hello and its commands reach the fob', () => {
    const p = boot();
    p.link(true, { id: 'worker-phone', passkey: PASSKEY });
    p.advance(1500);
    expect(p.board.link).toMatchObject({ encrypted: true, mitm: true, bonded: true });
    expect(p.events('hi')).toHaveLength(1);
    const bad = p.board.evaluate('LW.core.stats.badCommands') as number;
    p.command('not json');
    expect(p.board.evaluate('LW.core.stats.badCommands')).toBe(bad + 1);
    p.gesture('H');
    expect(p.events('sos')).toHaveLength(1);
    expect(p.board.uartRefused).toEqual({ fromPhone: 0, toPhone: 0 });
  });

  it('a phone that does not pair reads nothing and writes nothing, and the SOS waits in the outbox', () => {
    const p = boot();
    p.link(true, { id: 'stranger' });
    p.advance(1500);
    p.gesture('H');
    p.command('{"k":"stop"}');
    p.advance(30_000);
    expect(p.sent).toEqual([]);
    expect(p.board.uartRefused.fromPhone).toBe(1);
    expect(p.board.uartRefused.toPhone).toBeGreaterThan(0);
    // The firmware still raised the alarm (buzzer) and keeps it for a phone that can pair.
    expect(p.board.buzzerOnCount()).toBeGreaterThan(0);
    expect(Object.keys(p.storage).filter((f) => f.startsWith('lw-e'))).not.toEqual([]);
    // The worker's own phone pairs: the waiting SOS goes out.
    p.link(false);
    p.link(true, { id: 'worker-phone', passkey: PASSKEY });
    p.advance(10_000);
    expect(p.events('sos')).toHaveLength(1);
  });

  it('a wrong passkey is refused: no bond, nothing over the UART', () => {
    const p = boot();
    p.link(true, { id: 'attacker', passkey: '111111' });
    p.advance(5000);
    p.gesture('SS');
    p.advance(10_000);
    expect(p.sent).toEqual([]);
    expect(p.board.pairingFailures).toEqual(['attacker: wrong passkey (confirm value failed)']);
    expect(p.board.bonds.has('attacker')).toBe(false);
  });

  it('a bonded phone reconnects encrypted without the passkey, also after the fob reboots', () => {
    const p = boot();
    p.link(true, { id: 'worker-phone', passkey: PASSKEY });
    p.advance(1500);
    p.link(false);
    p.reboot();
    p.link(true, { id: 'worker-phone' });
    p.advance(1500);
    expect(p.board.link).toMatchObject({ encrypted: true, bonded: true });
    expect(p.events('hi').length).toBeGreaterThanOrEqual(2);
  });

  it('an identity without pk (flashed before issue 17) leaves the UART open, as before', () => {
    const p = boot(identity({}));
    expect(p.board.security.encryptUart).toBe(false);
    p.link(true);
    p.advance(1500);
    expect(p.events('hi')).toHaveLength(1);
  });

  it('a malformed pk in lw.json fails at boot with Espruino\'s error, and the fob reports nothing over an open link', () => {
    const p = boot(identity({ pk: '12x456' }));
    expect(String(p.board.errors[0])).toContain('ERR 0x7 (INVALID_PARAM)');
    p.link(true);
    p.advance(1500);
    expect(p.sent).toEqual([]);
  });
});
