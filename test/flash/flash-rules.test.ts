/**
 * The pure rules of the flashing tool (issue 14 part 4): what counts as a started fob in the
 * board's output, which pins a wiring may use, and which hub addresses a fob may be given.
 */
import { describe, expect, it } from 'vitest';
import { consoleLines, explainSilence, judgeBoot } from '../../firmware/flash/boot-check.js';
import { BOARD_PINS, describeWiring, resolveWiring } from '../../firmware/flash/pins.js';
import { fobHubHost, isLoopbackHost as isLoopbackHub, parseFobEdges } from '../../firmware/flash/hub-address.js';

const expect1 = { version: '0.1.0', deviceId: 'fob-1' };

describe('judgeBoot: the firmware\'s own word on its start', () => {
  it('LW:up with this version and id is a start; the prompt and clear-line codes do not matter', () => {
    expect(judgeBoot('\r\x1b[J>LW:up 0.1.0 PUCKJS fob-1\r\n>', expect1)).toEqual({ kind: 'up', line: 'LW:up 0.1.0 PUCKJS fob-1', version: '0.1.0', board: 'PUCKJS', deviceId: 'fob-1' });
    expect(judgeBoot('LW:up 0.1.0 PUCKJS fob-2\r\n', expect1).kind).toBe('mismatch');
    expect(judgeBoot('LW:up 0.0.9 PUCKJS fob-1\r\n', expect1).kind).toBe('mismatch');
  });

  it('an Uncaught line (with Espruino\'s detail lines) or LW:fault before LW:up fails, whatever follows', () => {
    const text = 'ERROR: No path defined for device\r\nUncaught ReferenceError: "BTN" is not defined\r\n    at X (.bootcde:0:11)\r\n...,BTN,{edge...\r\n    ^\r\nLW:up 0.1.0 RAK5010 fob-1\r\n';
    const v = judgeBoot(text, expect1);
    expect(v).toMatchObject({ kind: 'uncaught', line: 'Uncaught ReferenceError: "BTN" is not defined' });
    expect(v.kind === 'uncaught' && v.detail[0]).toBe('    at X (.bootcde:0:11)');
    expect(judgeBoot('LW:fault btn D19 missing\r\nLW:up 0.1.0 RAK5010 fob-1\r\n', expect1)).toMatchObject({ kind: 'fault', reason: 'btn D19 missing' });
  });

  it('LW set without LW:up, a partial line, or nothing: still pending', () => {
    expect(judgeBoot('', expect1).kind).toBe('pending');
    expect(judgeBoot('hello\r\nLW:u', expect1).kind).toBe('pending');
    // A line still arriving is not judged: "fob-1" may be "fob-12" once the rest comes.
    expect(judgeBoot('LW:up 0.1.0 PUCKJS fob-1', expect1).kind).toBe('pending');
    expect(judgeBoot('Uncaught Error: x', expect1).kind).toBe('pending');
    expect(consoleLines('a\r\n>\r\n:b\r\n')).toEqual(['a', 'b']);
  });

  it('silence names the likely cause: output that stopped suggests the console moved; nothing at all lists the causes', () => {
    const moved = explainSilence('starting\r\n', false, { board: 'rak5010', port: '/dev/ttyACM0', seconds: 10 });
    expect(moved.message).toContain('the firmware moved the console off this port (/dev/ttyACM0)');
    expect(moved.message).toContain('(the last line it printed: "starting")');
    const none = explainSilence('', false, { board: 'puck', port: '/dev/ttyUSB0', seconds: 10 });
    expect(none.message).toBe('nothing answered on /dev/ttyUSB0 within 10 s after the restart (it printed nothing)');
    expect(none.hint).toContain('likely causes: the firmware moved the console off this port (E.setConsole)');
    expect(none.hint).toContain('a Puck.js has its console on Serial1 (D28 TX, D29 RX, 9600 baud)');
    const answers = explainSilence('', true, { board: 'puck', port: '/dev/ttyUSB0', seconds: 10 });
    expect(answers.message).toContain('though the console still answers');
  });
});

describe('resolveWiring: --pins against the board file\'s pin names', () => {
  it('defaults per board; overrides by role; empty = not fitted (never the button)', () => {
    expect(resolveWiring('rak5010', undefined)).toEqual({ btn: 'D19', buzz: 'D20', motor: 'D34', led: 'LED1', batt: 'D4', gps: 'D39' });
    expect(resolveWiring('rak5010', 'btn=D33, batt=')).toEqual({ btn: 'D33', buzz: 'D20', motor: 'D34', led: 'LED1', batt: '', gps: 'D39' });
    // Issue 20: the GNSS power enable is a RAK5010 role, movable and optional like the others ...
    expect(resolveWiring('rak5010', 'gps=D22').gps).toBe('D22');
    expect(resolveWiring('rak5010', 'gps=').gps).toBe('');
    expect(() => resolveWiring('rak5010', 'gps=D19')).toThrow('btn and gps are both on D19');
    expect(describeWiring(resolveWiring('rak5010', undefined))).toBe('btn D19, buzz D20, motor D34, led LED1, batt D4, gps D39');
    // ... and no Puck.js role: it has no GNSS, so its wiring (and its bundle) never has one.
    expect(() => resolveWiring('puck', 'gps=D1')).toThrow('unknown role "gps" (gps is the RAK5010\'s GNSS power enable: a Puck.js has no GNSS): the roles are btn, buzz, motor, led, batt');
    expect(resolveWiring('puck', undefined)).not.toHaveProperty('gps');
    expect(describeWiring(resolveWiring('puck', undefined))).toBe('btn BTN1, buzz D1, motor D2, led LED1, batt -');
    expect(() => resolveWiring('puck', 'btn=')).toThrow('the button (btn) must be on a pin');
  });

  it('refuses unknown roles, pins the board does not have, a role twice, two roles on one pin (by either name)', () => {
    expect(() => resolveWiring('puck', 'horn=D1')).toThrow('unknown role "horn": the roles are btn, buzz, motor, led, batt');
    expect(() => resolveWiring('puck', 'buzz=D32')).toThrow('a Puck.js has no pin "D32"');
    expect(() => resolveWiring('rak5010', 'btn=BTN1')).toThrow('a RAK5010 has no pin "BTN1"');
    expect(() => resolveWiring('rak5010', 'led=LED2')).toThrow('a RAK5010 has no pin "LED2"');
    expect(() => resolveWiring('puck', 'buzz=D11,buzz=D12')).toThrow('buzz is given twice');
    expect(() => resolveWiring('puck', 'buzz=D5')).toThrow('buzz and led are both on D5');
    expect(() => resolveWiring('rak5010', 'd19')).toThrow('"d19" is not role=pin');
    expect(BOARD_PINS.rak5010).toContain('D47');
    expect(BOARD_PINS.puck).not.toContain('D32');
  });
});

describe('fobHubHost: never a loopback address in a fob', () => {
  it('refuses localhost, 127.x, ::1 (from --hub-host or hub.public_url) unless allowed', () => {
    for (const h of ['localhost', 'LOCALHOST', 'fob.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '0.0.0.0']) expect(isLoopbackHub(h)).toBe(true);
    for (const h of ['hub.example.org', '10.0.0.5', '128.0.0.1', '::2']) expect(isLoopbackHub(h)).toBe(false);
    expect(() => fobHubHost({ hubHost: undefined, publicUrl: 'http://localhost:8080', allowLocalhost: false })).toThrow(
      'the hub address for the fob would be "localhost" (from hub.public_url)',
    );
    expect(() => fobHubHost({ hubHost: '127.0.0.1', publicUrl: 'https://hub.example.org', allowLocalhost: false })).toThrow('or pass --hub-host <address>');
    expect(fobHubHost({ hubHost: '127.0.0.1', publicUrl: 'x', allowLocalhost: true })).toEqual({ host: '127.0.0.1', from: '--hub-host' });
    expect(fobHubHost({ hubHost: undefined, publicUrl: 'https://hub.example.org:8443/x', allowLocalhost: false })).toEqual({ host: 'hub.example.org', from: 'hub.public_url' });
    expect(() => fobHubHost({ hubHost: ' ', publicUrl: 'x', allowLocalhost: true })).toThrow('--hub-host is empty');
  });
});

describe('parseFobEdges: the edges a RAK5010 is given (issue 19)', () => {
  it('host:port in order, IPv6 in brackets; no port, a bad port, loopback (unless allowed), a repeat or nothing is refused', () => {
    expect(parseFobEdges(['edge-1.example.org:1883', ' [2001:db8::1]:1884 '], '--hub', false)).toEqual([
      ['edge-1.example.org', 1883],
      ['2001:db8::1', 1884],
    ]);
    expect(() => parseFobEdges(['edge-1.example.org'], '--hub', false)).toThrow('--hub: "edge-1.example.org" is not host:port');
    expect(() => parseFobEdges(['e:0'], '--hub', false)).toThrow('the port 1-65535');
    expect(() => parseFobEdges(['e:65536'], '--hub', false)).toThrow('is not host:port');
    expect(() => parseFobEdges(['e:1883', '127.0.0.1:1884'], 'cluster.edges in lonewatch.toml', false)).toThrow('cluster.edges in lonewatch.toml: "127.0.0.1:1884" is the fob\'s own loopback');
    expect(parseFobEdges(['127.0.0.1:1884'], '--hub', true)).toEqual([['127.0.0.1', 1884]]);
    expect(() => parseFobEdges(['E:1883', 'e:1883'], '--hub', false)).toThrow('"e:1883" is listed twice');
    expect(() => parseFobEdges(['', ' '], '--hub', false)).toThrow('--hub lists no edge');
  });
});
