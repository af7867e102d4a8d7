/**
 * Issue 8, done when: a test flashes a virtual board through a REAL pseudo-terminal (socat) with the
 * REAL CLI (in-process, EspruinoTools over serialport), and the flashed fob then reaches a real hub
 * and raises an alarm.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVirtualBoard } from '../helpers/virtual-espruino/harness.js';
import { firmwareBuild, flash } from '../helpers/virtual-espruino/flash-in-process.js';
import { useFlashBench } from '../helpers/virtual-espruino/flash-bench.js';
import { FIRMWARE_VERSION } from '../../firmware/src/version.js';
import { verifySecret } from '../../hub/device-secrets.js';

const bench = useFlashBench();

describe('lonewatch flash, happy path', () => {
  it('R18: flashes a blank RAK5010 through a pty; the fob says hello to the hub and raises an SOS', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'RAK5010', modemRedirect: '127.0.0.1' });
    await bench.hub.addWorker('sam');
    const { code, stdout, stderr } = await flash(
      ['--port', bench.pty.host, '--board', 'rak5010', '--device', 'fob-001', '--worker', 'sam', '--hub-host', '127.0.0.1', '--allow-localhost', '--hub-port', String(bench.hub.mqttPort), '--wait', '30'],
      bench.env(),
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    // Progress bar through the upload, and the summary.
    // The whole bundle, as the build reported it (the RAK5010's is at most 10,240 bytes: issue 14).
    const built = Number(/(\d+) bytes, Espruino-compatible/.exec(stdout)?.[1]);
    expect(built).toBeGreaterThan(5000);
    expect(built).toBeLessThanOrEqual(10 * 1024);
    expect(stdout).toMatch(new RegExp(`\\[#{30}\\] 100%\\s+${built}/${built} bytes\\s+chunk (\\d+)/\\1`));
    expect(stdout).toContain('board: RAK5010, Espruino 2v29, not provisioned');
    expect(stdout).toContain('registered fob-001 with the hub for worker sam');
    expect(stdout).toContain('OK: fob-001 flashed and started');
    expect(stdout).toContain(`started       LW:up ${FIRMWARE_VERSION} rak5010 fob-001 (printed by the firmware after the restart)`);
    expect(stdout).toContain(`read back     LW.v ${FIRMWARE_VERSION}, LW.id fob-001, LW.up 1`);
    expect(stdout).toContain('wiring        btn D19, buzz D20, motor D34, led LED1, batt D4, gps D39 (lw.json)');
    expect(stdout).toContain('boot files    none besides .bootcde');
    expect(stdout).toMatch(/hub\s+hello received after [\d.]+ s \(firmware 0\.1\.0, board rak5010\)/);
    expect(stdout).not.toMatch(/secret:/i);

    // The board: code and identity as separate files, staging gone, the code runs.
    const files = await bench.vb.files();
    expect(Object.keys(files).sort()).toEqual(expect.arrayContaining(['.bootcde', 'lw.json']));
    expect(files['lw.up']).toBeUndefined();
    expect(files['lw.new']).toBeUndefined();
    const build = await firmwareBuild('rak5010');
    expect(Buffer.from(files['.bootcde'], 'latin1').toString('utf8')).toBe(build.code);
    const identity = JSON.parse(files['lw.json']);
    expect(identity).toMatchObject({ id: 'fob-001', h: '127.0.0.1', p: bench.hub.mqttPort, w: { btn: 'D19', buzz: 'D20', motor: 'D34', led: 'LED1', batt: 'D4' } });
    expect(build.code).not.toContain(identity.pw);
    // The registration: the hub holds a hash of the very secret the board holds.
    const device = await bench.hub.hub.store.read((tx) => tx.getDevice('fob-001'));
    expect(device).toMatchObject({ workerId: 'sam', board: 'rak5010', firmware: FIRMWARE_VERSION });
    expect(await verifySecret(identity.pw, device!.secretHash)).toBe(true);

    // The flashed fob raises an alarm: a 3 s hold (loud SOS) on its button, via the test channel.
    bench.vb.send({ cmd: 'press', ms: 3300 });
    const deadline = Date.now() + 20_000;
    let alarms = await bench.hub.alarms();
    while (alarms.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      alarms = await bench.hub.alarms();
    }
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ kind: 'sos', deviceId: 'fob-001', workerId: 'sam' });
  }, 90_000);

  it('R18: flashes a Puck.js (no hub wait by default) and --dry-run writes exactly the bytes a real run sends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lw-dry-'));
    const d = await flash(['--board', 'puck', '--device', 'puck-7', '--secret', 'not-used-yet', '--dry-run', join(dir, 'out.bin'), '--hub-host', 'bench.hub.example.org'], bench.env());
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/dry run: \d+ bytes that would be sent to a blank puck written to/);
    const bytes = readFileSync(join(dir, 'out.bin'), 'latin1');
    expect(bytes.startsWith('\x03\x10try{print("<LW1 "')).toBe(true);
    expect(bytes).toContain('\x10reset()\n');
    expect(bytes).toContain('\x10load()\n');
    // The dry run registered nothing.
    expect(await bench.hub.hub.store.read((tx) => tx.getDevice('puck-7'))).toBeNull();

    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS' });
    const { code, stdout, stderr } = await flash(['--port', bench.pty.host, '--board', 'puck', '--device', 'puck-7', '--hub-host', '127.0.0.1', '--allow-localhost'], bench.env());
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`started       LW:up ${FIRMWARE_VERSION} puck puck-7`);
    expect(stdout).toContain('read back     LW.v 0.1.0, LW.id puck-7, LW.up 1');
    expect(stdout).toContain('not waited for (a Puck.js reaches the hub through the phone relay');
    const state = await bench.vb.state();
    expect(state.lw).toEqual({ v: FIRMWARE_VERSION, id: 'puck-7' });
    // Same firmware bytes in both: the dry run's chunks are the real run's chunks.
    const written = (await bench.vb.files())['.bootcde'];
    const chunkLiterals = [...bytes.matchAll(/s\.write\("lw\.up",("(?:[^"\\]|\\.)*")/g)].map((m) => m[1]);
    const decoded = chunkLiterals.map((lit) => lit.slice(1, -1).replace(/\\x([0-9a-f]{2})|\\(.)/g, (_m, hex, c) => (hex ? String.fromCharCode(parseInt(hex, 16)) : c))).join('');
    expect(decoded).toBe(written);
  }, 90_000);
});
