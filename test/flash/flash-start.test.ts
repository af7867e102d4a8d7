/**
 * Issue 14 part 4: a flash succeeds only when the firmware says it started (`LW:up <version>
 * <board> <id>` on its console after load()); an exception at boot, an LW:fault or a console that
 * went away fail it with exit 1 and the board's own words. Also: stray boot files, the hub address
 * a fob is given, and the wiring written with the identity. In-process command, real pty, virtual
 * board running the real bundle.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startVirtualBoard } from '../helpers/virtual-espruino/harness.js';
import { useFlashBench } from '../helpers/virtual-espruino/flash-bench.js';
import { flash, testBundle } from '../helpers/virtual-espruino/flash-in-process.js';
import { FIRMWARE_VERSION } from '../../firmware/src/version.js';

const bench = useFlashBench();
const args = (board: string, device: string, ...extra: string[]): string[] => [
  '--port',
  bench.pty.host,
  '--board',
  board,
  '--device',
  device,
  '--hub-host',
  '127.0.0.1',
  '--allow-localhost',
  '--hub-port',
  String(bench.hub.mqttPort),
  '--wait',
  '0',
  ...extra,
];

describe('lonewatch flash: the fob must say it started', () => {
  it('a bundle that throws at boot (a Puck.js build without NRF): exit 1 with the board\'s own Uncaught line', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS', without: ['NRF'] });
    const r = await flash(args('puck', 'fob-103'), bench.env());
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAILED: fob-103 was written but its firmware stopped with an error at start');
    expect(r.stdout).toContain('started       NO: the board printed "Uncaught ReferenceError: \\"NRF\\" is not defined"');
    expect(r.stdout).not.toContain('OK:');
    expect(r.stderr).toContain('the firmware stopped with an error at start; the board printed:\n    Uncaught ReferenceError: "NRF" is not defined');
    expect(r.stderr).toContain('what to do: a name that "is not defined" is a part this board does not have');
    // The firmware sets LW only once its hardware is set up (board-common.ts booted()): it threw first.
    expect((await bench.vb.state()).lw).toBeNull();
  }, 120_000);

  it('the firmware reports a wiring fault (LW:fault): exit 1 with its line, never OK', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'RAK5010' });
    const bundle = testBundle(`global.LW={v:"${FIRMWARE_VERSION}",id:require("Storage").readJSON("lw.json").id};print("LW:fault btn: pin D19 reads high with nothing pressed");`);
    const r = await flash(args('rak5010', 'fob-104'), bench.env(), { build: bundle });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAILED: fob-104 was written but its firmware reported a wiring fault');
    expect(r.stderr).toContain('the firmware reported a wiring fault at start: LW:fault btn: pin D19 reads high with nothing pressed');
    expect(r.stderr).toContain('change it with --pins role=pin');
  }, 120_000);

  it('a firmware that moves the console off the cable: exit 1, the cause named', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'RAK5010' });
    const bundle = testBundle(`global.LW={v:"${FIRMWARE_VERSION}",id:"x"};print("starting");E.setConsole("Bluetooth",{force:true});print("LW:up ${FIRMWARE_VERSION} RAK5010 x");`);
    const r = await flash(args('rak5010', 'fob-105', '--boot-wait', '2'), bench.env(), { build: bundle });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAILED: fob-105 was written but did not report that it started');
    expect(r.stderr).toContain(`the firmware moved the console off this port (${bench.pty.host}) after the restart, it seems: the board printed its start, then stopped answering (the last line it printed: "starting")`);
    expect(r.stderr).toContain('a RAK5010 has its console on its own USB socket');
  }, 120_000);

  it('LW:up from another firmware version or device is not this flash', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS' });
    const bundle = testBundle(`global.LW={v:"0.0.9",id:"fob-999",up:1};print("LW:up 0.0.9 PUCKJS fob-999");`);
    const r = await flash(args('puck', 'fob-106'), bench.env(), { build: bundle });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the board started firmware 0.0.9 as fob-999, not ${FIRMWARE_VERSION} as fob-106`);
  }, 120_000);
});

describe('lonewatch flash: stray boot files', () => {
  const seed = (files: Record<string, string>): string => {
    const f = join(bench.pty.dir, 'storage.json');
    writeFileSync(f, JSON.stringify(files), 'latin1');
    return f;
  };

  it('lists .boot0-.boot3 and other boot code, removes them, and says so', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS', storage: seed({ '.boot0': 'print("old boot0")', '.boot3': 'x=1', '.bootrst': 'y=2', keep: 'data' }) });
    const r = await flash(args('puck', 'fob-107'), bench.env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('stray boot code on the board (Espruino runs it at every start): .boot0 (18 bytes), .boot3 (3 bytes), .bootrst (3 bytes); it will be removed');
    expect(r.stdout).toContain('boot files    removed .boot0 (18 bytes), .boot3 (3 bytes), .bootrst (3 bytes) (they ran at every start)');
    const files = await bench.vb.files();
    expect(Object.keys(files).filter((n) => n.startsWith('.boot'))).toEqual(['.bootcde']);
    expect(files.keep).toBe('data');
  }, 120_000);

  it('--keep-boot-files keeps them, and the summary says they still run', async () => {
    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS', storage: seed({ '.boot1': 'z=3' }) });
    const r = await flash(args('puck', 'fob-108', '--keep-boot-files'), bench.env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('.boot1 (3 bytes); kept (--keep-boot-files)');
    expect(r.stdout).toContain('boot files    KEPT .boot1 (3 bytes) (--keep-boot-files: they run at every start, before .bootcde)');
    expect((await bench.vb.files())['.boot1']).toBe('z=3');
  }, 120_000);
});

describe('lonewatch flash: hub address and wiring', () => {
  it('refuses a loopback hub address unless --allow-localhost; nothing is opened or registered', async () => {
    const noFlag = args('rak5010', 'fob-109').filter((a) => a !== '--allow-localhost');
    const r = await flash(noFlag, bench.env());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the hub address for the fob would be "127.0.0.1" (from --hub-host)');
    expect(r.stderr).toContain('Set hub.public_url in lonewatch.toml to the address fobs reach the hub at, or pass --hub-host <address>');
    // No --hub-host: the default public_url (http://localhost:8080) is refused the same way.
    const dflt = await flash(['--port', bench.pty.host, '--board', 'puck', '--device', 'fob-109'], bench.env());
    expect(dflt.code).toBe(2);
    expect(dflt.stderr).toContain('the hub address for the fob would be "localhost" (from hub.public_url)');
    expect(await bench.hub.hub.store.read((tx) => tx.getDevice('fob-109'))).toBeNull();
  }, 120_000);

  it('--pins overrides the wiring written to lw.json and shown in the summary; a bad pin is refused before anything happens', async () => {
    const bad = await flash(args('rak5010', 'fob-110', '--pins', 'btn=D48'), bench.env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--pins: btn=D48: a RAK5010 has no pin "D48"');
    expect(await bench.hub.hub.store.read((tx) => tx.getDevice('fob-110'))).toBeNull();

    bench.vb = await startVirtualBoard(bench.pty.board, { board: 'PUCKJS' });
    const r = await flash(args('puck', 'fob-110', '--pins', 'buzz=D11,motor='), bench.env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('wiring        btn BTN1, buzz D11, motor -, led LED1, batt - (lw.json)');
    expect(JSON.parse((await bench.vb.files())['lw.json']).w).toEqual({ btn: 'BTN1', buzz: 'D11', motor: '', led: 'LED1', batt: '' });
  }, 120_000);
});
