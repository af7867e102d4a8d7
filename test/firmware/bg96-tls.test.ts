/**
 * Issue 17: the BG96 driver's TLS path (the modem's own SSL stack) and the CA upload, on a virtual
 * clock with no sockets: against a byte-exact scripted modem (the bytes the Quectel SSL and FILE
 * manuals show, in different chunkings) and against the strict simulated BG96 with a scripted TLS
 * peer. test/firmware/rak-tls.test.ts runs the same path with real TLS to a real hub.
 */
import { describe, expect, it } from 'vitest';
import { Bg96 } from '../../firmware/src/drivers/bg96.js';
import { SimulatedBg96, qfuplChecksum, type TcpEvents, type TlsDial, type TlsSettings } from '../../firmware/sim/bg96-sim.js';
import { VirtualClock } from '../../firmware/sim/virtual-clock.js';

const CA = 'ca.pem';
// Bytes a PEM holds, including what an AT parser could trip on: CR LF, "OK", ">" and "CONNECT".
const PEM = '-----BEGIN CERTIFICATE-----\r\nOK\r\n> CONNECT\r\nMIIB\r\n-----END CERTIFICATE-----\r\n';
const OPEN = 'AT+QSSLOPEN=1,1,0,"hub.example.org",8883,1';

function advance(clock: VirtualClock, ms: number): void {
  clock.advance(ms, (err) => {
    throw err;
  });
}

/** The driver alone: what it writes is recorded; the test plays the modem byte for byte. */
function scripted() {
  const clock = new VirtualClock();
  const written: string[] = [];
  const drv = new Bg96({ write: (d) => void written.push(d) }, (fn, ms) => clock.set(fn, ms), (id) => clock.clear(id));
  const data: string[] = [];
  let closed = 0;
  drv.onData = (d) => void data.push(d);
  drv.onClosed = () => void closed++;
  let result: string | null = null;
  const connect = (): void => drv.connect('hub.example.org', 8883, 'iot', (err) => (result = err), CA, PEM);
  return { clock, written, drv, data, closed: () => closed, result: () => result, connect };
}

const chunkings: [string, (s: string) => string[]][] = [
  ['at once', (s) => [s]],
  ['byte by byte', (s) => s.split('')],
];

// The start of the connect, as after ATE0 ([AT] §1.3 framing).
const BEFORE: [string, string][] = [
  ['AT', 'AT\r\r\nOK\r\n'],
  ['ATE0', 'ATE0\r\r\nOK\r\n'],
  ['AT+CPIN?', '\r\n+CPIN: READY\r\n\r\nOK\r\n'],
];
// After the CA check: the SSL context ([SSL] §2.2.1), then the PDP context as for TCP, then the open.
const AFTER: [string, string][] = [
  ['AT+QSSLCFG="seclevel",1,1', '\r\nOK\r\n'],
  [`AT+QSSLCFG="cacert",1,"${CA}"`, '\r\nOK\r\n'],
  ['AT+CEREG?', '\r\n+CEREG: 0,1\r\n\r\nOK\r\n'],
  ['AT+QICSGP=1,1,"iot","","",1', '\r\nOK\r\n'],
  ['AT+QIDEACT=1', '\r\nOK\r\n'],
  ['AT+QIACT=1', '\r\nOK\r\n'],
  [OPEN, '\r\nOK\r\n\r\n+QSSLOPEN: 0,0\r\n'],
];

/** Plays `script` to the driver: exactly one command out at a time, each answered whole. */
function play(s: ReturnType<typeof scripted>, script: [string, string][], chunk: (x: string) => string[] = (x) => [x]): void {
  for (const [cmd, answer] of script) {
    expect(s.written).toEqual([`${cmd}\r`]);
    s.written.length = 0;
    for (const b of chunk(answer)) s.drv.input(b);
  }
}

describe('BG96 driver over TLS against a byte-exact scripted modem', () => {
  it.each(chunkings)('a modem without the CA: QFLST, QFDEL, QFUPL (the PEM only after CONNECT, whole), then the SSL context and QSSLOPEN (%s)', (_n, chunk) => {
    const s = scripted();
    s.connect();
    play(s, BEFORE, chunk);
    // [FILE] §2.2: no such file.
    play(s, [[`AT+QFLST="${CA}"`, '\r\n+CME ERROR: 405\r\n']], chunk);
    play(s, [[`AT+QFDEL="${CA}"`, '\r\n+CME ERROR: 405\r\n']], chunk);
    expect(s.written).toEqual([`AT+QFUPL="${CA}",${PEM.length},10\r`]);
    s.written.length = 0;
    // Nothing goes before CONNECT.
    advance(s.clock, 1000);
    expect(s.written).toEqual([]);
    for (const b of chunk('\r\nCONNECT\r\n')) s.drv.input(b);
    expect(s.written).toEqual([PEM]);
    s.written.length = 0;
    // Only the modem's own answer, +QFUPL: <size>,<checksum> and then OK, completes the upload.
    for (const b of chunk(`\r\n+QFUPL: ${PEM.length},${qfuplChecksum(PEM)}\r\n`)) s.drv.input(b);
    expect(s.written).toEqual([]);
    for (const b of chunk('\r\nOK\r\n')) s.drv.input(b);
    play(s, AFTER, chunk);
    expect(s.result()).toBe('');
    expect(s.written).toEqual([]);
  });

  it('a modem that holds the CA (same name and size) is not sent it again', () => {
    const s = scripted();
    s.connect();
    play(s, BEFORE);
    play(s, [[`AT+QFLST="${CA}"`, `\r\n+QFLST: "${CA}",${PEM.length}\r\n\r\nOK\r\n`]]);
    play(s, AFTER);
    expect(s.result()).toBe('');
  });

  it('a file of that name but another size is deleted and uploaded', () => {
    const s = scripted();
    s.connect();
    play(s, BEFORE);
    play(s, [[`AT+QFLST="${CA}"`, `\r\n+QFLST: "${CA}",12\r\n\r\nOK\r\n`]]);
    play(s, [[`AT+QFDEL="${CA}"`, '\r\nOK\r\n']]);
    expect(s.written).toEqual([`AT+QFUPL="${CA}",${PEM.length},10\r`]);
  });

  it.each([
    ['a short upload', `\r\nCONNECT\r\n`, `\r\n+QFUPL: 10,1a2b\r\n\r\nOK\r\n`, 'upload'],
    ['a file-system error', '', '\r\n+CME ERROR: 407\r\n', '+CME ERROR: 407'],
  ])('%s fails the connect, and nothing more is sent', (_n, connect, answer, expected) => {
    const s = scripted();
    s.connect();
    play(s, BEFORE);
    play(s, [[`AT+QFLST="${CA}"`, '\r\n+CME ERROR: 405\r\n']]);
    play(s, [[`AT+QFDEL="${CA}"`, '\r\nOK\r\n']]);
    s.written.length = 0;
    if (connect) s.drv.input(connect);
    s.written.length = 0;
    s.drv.input(answer);
    expect(s.result()).toBe(expected);
    expect(s.written).toEqual([]);
  });

  it('a failed TLS open (+QSSLOPEN: 0,566) is closed with QSSLCLOSE, and the retry keeps the contexts: CEREG, then QSSLOPEN', () => {
    const s = scripted();
    s.connect();
    play(s, BEFORE);
    play(s, [[`AT+QFLST="${CA}"`, `\r\n+QFLST: "${CA}",${PEM.length}\r\n\r\nOK\r\n`]]);
    play(s, AFTER.slice(0, -1));
    expect(s.written).toEqual([`${OPEN}\r`]);
    s.written.length = 0;
    s.drv.input('\r\nOK\r\n');
    // [SSL] §2.2.2: the open's result is the URC, up to 150 s later.
    advance(s.clock, 149_000);
    expect(s.result()).toBeNull();
    s.drv.input('\r\n+QSSLOPEN: 0,566\r\n');
    expect(s.result()).toBe('+QSSLOPEN: 0,566');
    expect(s.written).toEqual(['AT+QSSLCLOSE=0\r']);
    s.drv.input('\r\nOK\r\n');
    s.written.length = 0;
    s.connect();
    play(s, [['AT+CEREG?', '\r\n+CEREG: 0,1\r\n\r\nOK\r\n']]);
    expect(s.written).toEqual([`${OPEN}\r`]);
  });

  it('over TLS: sends are QSSLSEND after the prompt, +QSSLURC "recv" data goes on, "closed" ends the link, close() is QSSLCLOSE', () => {
    const s = scripted();
    s.connect();
    play(s, BEFORE);
    play(s, [[`AT+QFLST="${CA}"`, `\r\n+QFLST: "${CA}",${PEM.length}\r\n\r\nOK\r\n`]]);
    play(s, AFTER);
    let sent: string | null = null;
    s.drv.send('x'.repeat(2000), (err) => (sent = err));
    expect(s.written).toEqual(['AT+QSSLSEND=0,1460\r']);
    s.written.length = 0;
    s.drv.input('\r\n> ');
    expect(s.written).toEqual(['x'.repeat(1460)]);
    s.written.length = 0;
    s.drv.input('\r\nSEND OK\r\n');
    expect(s.written).toEqual(['AT+QSSLSEND=0,540\r']);
    s.written.length = 0;
    s.drv.input('\r\n> ');
    s.drv.input('\r\nSEND OK\r\n');
    expect(sent).toBe('');
    // [SSL] §2.3, direct push: exactly <len> bytes follow, whatever they hold.
    s.drv.input('\r\n+QSSLURC: "recv",0,5\r\n\x20\x02OK\r');
    expect(s.data.join('')).toBe('\x20\x02OK\r');
    expect(s.closed()).toBe(0);
    s.drv.input('\r\n+QSSLURC: "closed",0\r\n');
    expect(s.closed()).toBe(1);
    s.written.length = 0;
    s.drv.close();
    expect(s.written).toEqual(['AT+QSSLCLOSE=0\r']);
  });
});

/** A TLS peer the test controls: completes the handshake or fails it with a reason; records what it got. */
class TlsPeer {
  fail: string | null = null;
  received = '';
  ev: TcpEvents | null = null;
  settings: TlsSettings[] = [];
  constructor(private readonly clock: VirtualClock) {}
  readonly dial: TlsDial = (_host, _port, t, ev) => {
    this.settings.push(t);
    this.ev = ev;
    this.clock.set(() => (this.fail ? ev.refused(this.fail) : ev.connected()), 60);
    return { write: (b) => void (this.received += b), destroy: () => undefined };
  };
}

function simulated() {
  const clock = new VirtualClock();
  const peer = new TlsPeer(clock);
  let modem: SimulatedBg96 | null = null;
  const drv = new Bg96({ write: (d) => modem!.input(d) }, (fn, ms) => clock.set(fn, ms), (id) => clock.clear(id));
  modem = new SimulatedBg96((d) => drv.input(d), (fn, ms) => void clock.set(fn, ms), { qiact: 100 }, undefined, peer.dial);
  const data: string[] = [];
  drv.onData = (d) => void data.push(d);
  drv.onClosed = () => undefined;
  const results: string[] = [];
  const connect = (pem = PEM): void => drv.connect('hub.example.org', 8883, 'iot', (err) => void results.push(err), CA, pem);
  return { clock, peer, modem, drv, data, results, connect };
}

describe('BG96 driver over TLS against the strict simulated BG96', () => {
  it('uploads the CA into the modem, which hands it to the TLS handshake (TLS up to 1.2: sslversion left at 4) and the host asked for; data flows both ways', () => {
    const s = simulated();
    s.connect();
    advance(s.clock, 5000);
    expect(s.results).toEqual(['']);
    expect(s.modem.files[CA]).toBe(PEM);
    expect(s.peer.settings).toEqual([{ ca: PEM, version: 4, servername: 'hub.example.org' }]);
    expect(s.modem.refused).toEqual([]);
    s.drv.send('hello', () => undefined);
    advance(s.clock, 100);
    expect(s.peer.received).toBe('hello');
    s.peer.ev!.data('\x30\x05back');
    advance(s.clock, 100);
    expect(s.data.join('')).toBe('\x30\x05back');
  });

  it('a failed handshake: +QSSLOPEN: 0,566, the reason recorded, the retry opens again without a second upload', () => {
    const s = simulated();
    s.peer.fail = 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
    s.connect();
    advance(s.clock, 5000);
    expect(s.results).toEqual(['+QSSLOPEN: 0,566']);
    expect(s.modem.sslFailures).toEqual(['UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
    expect(s.modem.commands).toContain('AT+QSSLCLOSE=0');
    s.peer.fail = null;
    s.connect();
    advance(s.clock, 5000);
    expect(s.results).toEqual(['+QSSLOPEN: 0,566', '']);
    expect(s.modem.commands.filter((c) => c.startsWith('AT+QFUPL'))).toHaveLength(1);
  });
});

describe('simulated BG96: the SSL and file commands as strictly as the TCP ones', () => {
  function modem() {
    const clock = new VirtualClock();
    let out = '';
    const peer = new TlsPeer(clock);
    const m = new SimulatedBg96((d) => void (out += d), (fn, ms) => void clock.set(fn, ms), { reply: 5, qiact: 100 }, undefined, peer.dial);
    const run = (ms: number): string => {
      advance(clock, ms);
      const o = out;
      out = '';
      return o;
    };
    const at = (cmd: string, ms = 200): string => {
      m.input(`${cmd}\r`);
      return run(ms);
    };
    at('ATE0');
    return { m, at, run, peer };
  }

  it('the QFUPL checksum is the 16-bit XOR of byte pairs, an odd last byte high ([FILE] §2.4 note 2)', () => {
    expect(qfuplChecksum('AB')).toBe('4142');
    expect(qfuplChecksum('ABC')).toBe('242');
    expect(qfuplChecksum('')).toBe('0');
  });

  it('QFUPL: CONNECT, exactly <file_size> bytes (CR and "AT" in them are data), +QFUPL: <size>,<checksum>; an existing name is 407', () => {
    const r = modem();
    expect(r.at('AT+QFUPL="a.pem",6,10')).toBe('\r\nCONNECT\r\n');
    r.m.input('AT\rOK\r');
    expect(r.run(100)).toBe(`\r\n+QFUPL: 6,${qfuplChecksum('AT\rOK\r')}\r\n\r\nOK\r\n`);
    expect(r.m.files['a.pem']).toBe('AT\rOK\r');
    expect(r.m.commands).toEqual(['ATE0', 'AT+QFUPL="a.pem",6,10']);
    expect(r.at('AT+QFUPL="a.pem",6,10')).toBe('\r\n+CME ERROR: 407\r\n');
    expect(r.at('AT+QFLST="a.pem"')).toBe('\r\n+QFLST: "a.pem",6\r\n\r\nOK\r\n');
    expect(r.at('AT+QFLST="b.pem"')).toBe('\r\n+CME ERROR: 405\r\n');
    expect(r.at('AT+QFDEL="a.pem"')).toBe('\r\nOK\r\n');
    expect(r.at('AT+QFDEL="a.pem"')).toBe('\r\n+CME ERROR: 405\r\n');
    expect(r.at('AT+QFUPL="a.pem",0')).toBe('\r\nERROR\r\n');
  });

  it('QSSLCFG accepts the documented forms only', () => {
    const r = modem();
    for (const ok of ['AT+QSSLCFG="sslversion",1,3', 'AT+QSSLCFG="ciphersuite",1,0xFFFF', 'AT+QSSLCFG="seclevel",1,1', 'AT+QSSLCFG="cacert",1,"a.pem"']) expect(r.at(ok)).toBe('\r\nOK\r\n');
    for (const bad of ['AT+QSSLCFG="sslversion",1,5', 'AT+QSSLCFG="seclevel",6,1', 'AT+QSSLCFG="cacert",1,a.pem', 'AT+QSSLCFG="ciphersuite",1,FFFF', 'AT+QSSLCFG="sni",1,1']) expect(r.at(bad)).toBe('\r\nERROR\r\n');
  });

  it('QSSLOPEN with seclevel 1 and a cacert the modem does not hold fails (566) without dialling; QISEND on a TLS socket is ERROR', () => {
    const r = modem();
    r.at('AT+QIACT=1');
    r.at('AT+QSSLCFG="seclevel",1,1');
    r.at('AT+QSSLCFG="cacert",1,"gone.pem"');
    expect(r.at('AT+QSSLOPEN=1,1,0,"hub",8883,1')).toBe('\r\nOK\r\n\r\n+QSSLOPEN: 0,566\r\n');
    expect(r.peer.settings).toEqual([]);
    expect(r.m.sslFailures).toEqual(['no cacert file: "gone.pem"']);
    r.at('AT+QFUPL="gone.pem",2');
    r.m.input('CA');
    r.run(100);
    expect(r.at('AT+QSSLOPEN=1,1,0,"hub",8883,1')).toBe('\r\nOK\r\n\r\n+QSSLOPEN: 0,0\r\n');
    expect(r.peer.settings).toEqual([{ ca: 'CA', version: 4, servername: 'hub' }]);
    expect(r.at('AT+QISEND=0,3')).toBe('\r\nERROR\r\n');
    expect(r.at('AT+QSSLSEND=0,3')).toBe('\r\n> ');
    r.m.input('abc');
    expect(r.run(100)).toBe('\r\nSEND OK\r\n');
    expect(r.peer.received).toBe('abc');
    // A second open on client 0 before QSSLCLOSE: 563.
    expect(r.at('AT+QSSLOPEN=1,1,0,"hub",8883,1')).toBe('\r\nOK\r\n\r\n+QSSLOPEN: 0,563\r\n');
    expect(r.at('AT+QSSLCLOSE=0')).toBe('\r\nOK\r\n');
    // Buffer and transparent access modes are not modelled: refused, not half-done.
    expect(r.at('AT+QSSLOPEN=1,1,0,"hub",8883,0')).toBe('\r\nERROR\r\n');
  });
});
