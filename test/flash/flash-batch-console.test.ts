/**
 * Issue 8: batch flashing (--devices-from, prompting to swap boards), `lonewatch console`, and
 * `flash --list`, through the real CLI and a real pty to the virtual Espruino board.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startVirtualBoard } from '../helpers/virtual-espruino/harness.js';
import { flash, flashRun } from '../helpers/virtual-espruino/flash-in-process.js';
import { useFlashBench } from '../helpers/virtual-espruino/flash-bench.js';
import { lonewatch } from '../helpers/cli-in-process.js';

const bench = useFlashBench();

describe('lonewatch flash --devices-from', () => {
  it('R18: flashes one board after another, prompting to swap boards, with a summary at the end', async () => {
    await bench.hub.addWorker('sam');
    await bench.hub.addWorker('alex');
    const csv = join(bench.pty.dir, 'fobs.csv');
    writeFileSync(csv, 'device,board,worker\nfob-010,puck,sam\nfob-011,puck,alex\n');
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS' });
    const cli = flashRun(['--port', bench.pty.host, '--devices-from', csv, '--hub-host', '127.0.0.1', '--allow-localhost'], bench.env());
    await cli.waitForOutput(/Connect the board for fob-010 to .*press Enter/);
    cli.stdin.write('\n');
    await cli.waitForOutput(/Connect the board for fob-011 to .*press Enter/, 30_000);
    expect(cli.output()).toContain('OK: fob-010 flashed and started');
    expect((await bench.vb.state()).lw).toEqual({ v: '0.1.0', id: 'fob-010' });
    // The engineer swaps boards.
    bench.vb.send({ cmd: 'swap' });
    await bench.vb.waitFor((e) => e.ev === 'swapped');
    cli.stdin.write('\n');
    const r = await cli.done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('=== 2/2: fob-011 (puck, worker alex) ===');
    expect(r.stdout).toMatch(/batch summary\n\s+fob-010\s+ok\s.*\n\s+fob-011\s+ok\s.*\n2 of 2 flashed/);
    expect((await bench.vb.state()).lw).toEqual({ v: '0.1.0', id: 'fob-011' });
    const devices = await bench.hub.hub.store.read((tx) => tx.listDevices());
    expect(devices.map((d) => [d.id, d.workerId]).sort()).toEqual([
      ['fob-010', 'sam'],
      ['fob-011', 'alex'],
    ]);
  }, 120_000);

  it('--yes does not prompt; a board not swapped is refused, not overwritten, and the batch says so', async () => {
    const csv = join(bench.pty.dir, 'fobs.csv');
    writeFileSync(csv, 'device\nfob-020\nfob-021\n');
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS' });
    const r = await flash(['--port', bench.pty.host, '--board', 'puck', '--devices-from', csv, '--yes', '--hub-host', '127.0.0.1', '--allow-localhost'], bench.env());
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('press Enter');
    expect(r.stderr).toContain('fob-021: this board is already provisioned as fob-020, not fob-021');
    expect(r.stdout).toMatch(/fob-020\s+ok/);
    expect(r.stdout).toMatch(/fob-021\s+FAILED\s+this board is already provisioned as fob-020/);
    expect(r.stdout).toContain('1 of 2 flashed');
    expect((await bench.vb.state()).lw).toEqual({ v: '0.1.0', id: 'fob-020' });
  }, 120_000);
});

describe('lonewatch console', () => {
  it('is a terminal to the board: typed lines are evaluated, Ctrl-] quits', async () => {
    // The board as its own process here (main.ts), as an engineer runs it by hand.
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'RAK5010', ownProcess: true });
    const cli = runCli(['console', '--port', bench.pty.host]);
    await cli.waitForOutput(/Ctrl-\] quits/);
    cli.child.stdin!.write('process.env.BOARD\r');
    await cli.waitForOutput(/="RAK5010"/);
    cli.child.stdin!.write('require("Storage").list()\r');
    await cli.waitForOutput(/=\[\]/);
    cli.child.stdin!.write('\x1d');
    const r = await cli.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('process.env.BOARD\r\n="RAK5010"\r\n>');
    expect(r.stderr).toContain('disconnected');
  }, 120_000);

  it('a busy or missing port gets the same clear message as flash', async () => {
    // In-process (test/helpers/cli-in-process.ts): the refusal needs no child; the terminal above is one.
    const r = await lonewatch(['console', '--port', join(bench.pty.dir, 'nope')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`serial port ${join(bench.pty.dir, 'nope')} does not exist`);
  }, 120_000);
});

describe('lonewatch flash --list', () => {
  it('lists the serial ports (or says there are none)', async () => {
    const r = await lonewatch(['flash', '--list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^(path\s+manufacturer|no serial ports found)/);
  }, 120_000);
});
