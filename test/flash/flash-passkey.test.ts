/**
 * Issue 17: `lonewatch flash` gives a Puck.js its BLE passkey (lw.json pk): a new random one,
 * printed once in the summary for the worker to type on the phone; kept, and not shown again, on a
 * re-flash; `--passkey` sets one. The firmware the run wrote is then booted, with the identity the
 * run wrote, on a simulated Puck.js: a phone pairing with the printed passkey gets through, one
 * with another does not.
 */
import { describe, expect, it } from 'vitest';
import { startVirtualBoard } from '../helpers/virtual-espruino/harness.js';
import { flash } from '../helpers/virtual-espruino/flash-in-process.js';
import { useFlashBench } from '../helpers/virtual-espruino/flash-bench.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedPuck } from '../../firmware/sim/puck-sim.js';
import { isPasskey, newPasskey } from '../../firmware/flash/ble-passkey.js';

const bench = useFlashBench();
const ARGS = ['--board', 'puck', '--device', 'puck-9', '--hub-host', '127.0.0.1', '--allow-localhost'];

/** The fob exactly as the flash left it: its .bootcde and lw.json on a simulated Puck.js. */
function fobFrom(files: Record<string, string>): SimulatedPuck {
  const code = Buffer.from(files['.bootcde']!, 'latin1').toString('utf8');
  const p = new SimulatedPuck(SimulatedBoard.compile(code, 'puck.js'), { 'lw.json': files['lw.json']! });
  p.boot();
  return p;
}

describe('lonewatch flash: the Puck.js BLE passkey', () => {
  it('new passkeys are 6 digits from the whole range', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const pk = newPasskey();
      expect(isPasskey(pk)).toBe(true);
      seen.add(pk);
    }
    // 200 draws from 1,000,000: a repeat is possible but 190 distinct or fewer would be a broken generator.
    expect(seen.size).toBeGreaterThan(190);
    expect(isPasskey('12345')).toBe(false);
    expect(isPasskey(123456)).toBe(false);
  });

  it('writes a new passkey, prints it once, and the fob pairs only with it; a re-flash keeps it without printing it', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS' });
    const first = await flash(['--port', bench.pty.host, ...ARGS], bench.env());
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const shown = /BLE passkey {3}(\d{6}) {2}<- give this to the worker/.exec(first.stdout);
    expect(shown, first.stdout).not.toBeNull();
    const pk = shown![1]!;
    // Printed exactly once in the whole run.
    expect(first.stdout.split(pk).length - 1).toBe(1);
    const files = await bench.vb.files();
    expect(JSON.parse(files['lw.json']!)).toMatchObject({ id: 'puck-9', pk });

    // The fob as written: the printed passkey pairs, another does not.
    const fob = fobFrom(files);
    expect(fob.board.errors).toEqual([]);
    fob.link(true, { id: 'stranger', passkey: pk === '000000' ? '000001' : '000000' });
    fob.advance(3000);
    expect(fob.sent).toEqual([]);
    fob.link(false);
    fob.link(true, { id: 'worker-phone', passkey: pk });
    fob.advance(3000);
    expect(fob.events('hi')).toHaveLength(1);

    // Re-flash (new firmware): the passkey the phone paired with is kept and not shown again.
    const again = await flash(['--port', bench.pty.host, ...ARGS, '--force'], bench.env());
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('BLE passkey   kept from the board (lw.json pk; not shown again');
    expect(again.stdout).not.toContain(pk);
    expect(again.stderr).not.toContain(pk);
    expect(JSON.parse((await bench.vb.files())['lw.json']!).pk).toBe(pk);

    // --passkey sets another; it is not echoed either.
    const set = await flash(['--port', bench.pty.host, ...ARGS, '--force', '--passkey', '048213'], bench.env());
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('BLE passkey   the one given with --passkey');
    expect(set.stdout).not.toContain('048213');
    expect(JSON.parse((await bench.vb.files())['lw.json']!).pk).toBe('048213');
  }, 120_000);

  it('refuses a bad --passkey, or one for a RAK5010, before anything is opened or registered', async () => {
    for (const [args, words] of [
      [['--port', bench.pty.host, ...ARGS, '--passkey', '12345'], '--passkey must be 6 digits, e.g. 048213 (got "12345")'],
      [['--port', bench.pty.host, ...ARGS, '--passkey', '12a456'], '--passkey must be 6 digits'],
      [['--port', bench.pty.host, '--board', 'rak5010', '--device', 'rak-9', '--hub-host', '127.0.0.1', '--allow-localhost', '--passkey', '123456'], '--passkey is for a Puck.js'],
    ] as const) {
      const r = await flash([...args], bench.env());
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(words);
    }
    expect(await bench.hub.hub.store.read((tx) => tx.getDevice('puck-9'))).toBeNull();
    expect(await bench.hub.hub.store.read((tx) => tx.getDevice('rak-9'))).toBeNull();
  });
});
