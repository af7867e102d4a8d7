/**
 * The BG96 driver (firmware/src/drivers/bg96.ts) on a virtual clock, no sockets: against a
 * byte-exact scripted modem (the bytes the manual shows, fed in different chunkings) and against the
 * strict simulated BG96 (firmware/sim/bg96-sim.ts) whose TCP peer is scripted here. Issue 14.
 */
import { describe, expect, it } from 'vitest';
import { Bg96 } from '../../firmware/src/drivers/bg96.js';
import { SimulatedBg96, type Bg96Timings, type Dial, type TcpEvents } from '../../firmware/sim/bg96-sim.js';
import { VirtualClock } from '../../firmware/sim/virtual-clock.js';

const OPEN = 'AT+QIOPEN=1,0,"TCP","hub.example.org",1883,0,1';

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
  return { clock, written, drv, data, closed: () => closed };
}

/** A TCP peer the test controls: accepts, refuses, or stays silent; records what it got. */
class Peer {
  mode: 'accept' | 'refuse' | 'silent' = 'accept';
  received = '';
  ev: TcpEvents | null = null;
  dials = 0;
  constructor(private readonly clock: VirtualClock) {}
  readonly dial: Dial = (_host, _port, ev) => {
    this.dials++;
    this.ev = ev;
    // The network's answer takes a moment (a SYN-ACK or an RST over the radio).
    if (this.mode !== 'silent') this.clock.set(() => (this.mode === 'accept' ? ev.connected() : ev.refused()), 40);
    return { write: (b) => void (this.received += b), destroy: () => undefined };
  };
}

/** The driver wired to the strict simulated BG96 on one virtual clock. */
function simulated(timings: Partial<Bg96Timings> = {}) {
  const clock = new VirtualClock();
  const peer = new Peer(clock);
  let modem: SimulatedBg96 | null = null;
  const drv = new Bg96({ write: (d) => modem!.input(d) }, (fn, ms) => clock.set(fn, ms), (id) => clock.clear(id));
  modem = new SimulatedBg96((d) => drv.input(d), (fn, ms) => void clock.set(fn, ms), timings, peer.dial);
  const data: string[] = [];
  let closed = 0;
  drv.onData = (d) => void data.push(d);
  drv.onClosed = () => void closed++;
  const results: [number, string][] = [];
  const connect = (): void => drv.connect('hub.example.org', 1883, 'iot', (err) => void results.push([clock.now(), err]));
  return { clock, peer, modem, drv, data, closed: () => closed, results, connect };
}

/** Splits the bytes the way a UART may deliver them. */
const chunkings: [string, (s: string) => string[]][] = [
  ['at once', (s) => [s]],
  ['byte by byte', (s) => s.split('')],
  ['split after every CR', (s) => s.split(/(?<=\r)/)],
];

describe('BG96 driver against a byte-exact scripted modem', () => {
  // What the manual shows for each command of the connect sequence, as the modem sends it after ATE0.
  const answers: [string, string][] = [
    ['AT', 'AT\r\r\nOK\r\n'], // echo is still on
    ['ATE0', 'ATE0\r\r\nOK\r\n'],
    ['AT+CPIN?', '\r\n+CPIN: READY\r\n\r\nOK\r\n'],
    ['AT+CEREG?', '\r\n+CEREG: 0,1\r\n\r\nOK\r\n'],
    ['AT+QICSGP=1,1,"iot","","",1', '\r\nOK\r\n'],
    ['AT+QIDEACT=1', '\r\nOK\r\n'],
    ['AT+QIACT=1', '\r\nOK\r\n'],
    [OPEN, '\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n'],
  ];

  it.each(chunkings)('each reply completes its own command, never the next one (%s)', (_name, chunk) => {
    const s = scripted();
    let result: string | null = null;
    s.drv.connect('hub.example.org', 1883, 'iot', (err) => (result = err));
    for (const [cmd, answer] of answers) {
      // Exactly one command is out, ended by CR alone.
      expect(s.written).toEqual([`${cmd}\r`]);
      s.written.length = 0;
      // Everything but the final result code: the next command must not go yet (the CEREG bug:
      // treated as done on its +CEREG line, its OK then completed QICSGP, and so on to QIOPEN).
      const finalAt = answer.lastIndexOf(cmd === OPEN ? '+QIOPEN' : 'OK');
      for (const b of chunk(answer.slice(0, finalAt))) {
        s.drv.input(b);
        expect(s.written).toEqual([]);
        expect(result).toBeNull();
      }
      for (const b of chunk(answer.slice(finalAt))) s.drv.input(b);
      advance(s.clock, 10);
    }
    expect(result).toBe('');
    expect(s.written).toEqual([]);
  });

  it('QIACT is awaited for its own result (up to 150 s), and a late QIACT error fails the connect', () => {
    const s = scripted();
    let result: string | null = null;
    s.drv.connect('hub.example.org', 1883, 'iot', (err) => (result = err));
    for (const [cmd, answer] of answers.slice(0, 6)) {
      expect(s.written).toEqual([`${cmd}\r`]);
      s.written.length = 0;
      s.drv.input(answer);
    }
    expect(s.written).toEqual(['AT+QIACT=1\r']);
    s.written.length = 0;
    advance(s.clock, 149_000);
    expect(s.written).toEqual([]);
    expect(result).toBeNull();
    s.drv.input('\r\nERROR\r\n');
    expect(result).toBe('ERROR');
    expect(s.written).toEqual([]);
  });

  it.each([
    ['+QIOPEN: 0,566', '\r\nOK\r\n\r\n+QIOPEN: 0,566\r\n', 'AT+CEREG?\r'],
    ['+QIOPEN: 0,561', '\r\nOK\r\n\r\n+QIOPEN: 0,561\r\n', 'AT\r'],
    ['+QIOPEN: 0,563', '\r\nOK\r\n\r\n+QIOPEN: 0,563\r\n', 'AT\r'],
    ['ERROR', '\r\nERROR\r\n', 'AT\r'],
    ['+CME ERROR: 3', '\r\n+CME ERROR: 3\r\n', 'AT\r'],
  ])('a failed open (%s) fails the connect at once, and the socket is closed', (expected, answer, retryStartsWith) => {
    const s = scripted();
    let result: string | null = null;
    s.drv.connect('hub.example.org', 1883, 'iot', (err) => (result = err));
    for (const [, a] of answers.slice(0, 7)) {
      s.written.length = 0;
      s.drv.input(a);
    }
    expect(s.written).toEqual([`${OPEN}\r`]);
    s.written.length = 0;
    s.drv.input(answer);
    expect(result).toBe(expected);
    expect(s.written).toEqual(['AT+QICLOSE=0\r']);
    // The hub refused (566): the context is kept, the retry only checks registration and opens.
    // Anything else: the retry sets the modem and the context up again.
    s.drv.input('\r\nOK\r\n');
    s.written.length = 0;
    s.drv.connect('hub.example.org', 1883, 'iot', () => undefined);
    expect(s.written).toEqual([retryStartsWith]);
  });

  it('a command that never answers times out at its limit, and the next command then goes', () => {
    const s = scripted();
    let result: string | null = null;
    s.drv.connect('hub.example.org', 1883, 'iot', (err) => (result = err));
    s.drv.input(answers[0][1]);
    s.drv.input(answers[1][1]);
    expect(s.written.pop()).toBe('AT+CPIN?\r');
    advance(s.clock, 4999);
    expect(result).toBeNull();
    advance(s.clock, 1);
    expect(result).toBe('timeout AT+CPIN?');
    s.drv.close();
    expect(s.written.pop()).toBe('AT+QICLOSE=0\r');
  });

  it('a command that times out does not take the commands queued behind it with it', () => {
    const s = scripted();
    let result: string | null = null;
    s.drv.close();
    s.drv.connect('hub.example.org', 1883, 'iot', (err) => (result = err));
    expect(s.written).toEqual(['AT+QICLOSE=0\r']);
    advance(s.clock, 10_000);
    expect(s.written).toEqual(['AT+QICLOSE=0\r', 'AT\r']);
    s.drv.input('\r\nERROR\r\n');
    expect(result).toBe('ERROR');
  });

  it('an open whose URC never comes times out after 150 s and is closed', () => {
    const s = scripted();
    let result: string | null = null;
    s.drv.connect('hub.example.org', 1883, 'iot', (err) => (result = err));
    for (const [, a] of answers.slice(0, 7)) s.drv.input(a);
    s.written.length = 0;
    s.drv.input('\r\nOK\r\n');
    advance(s.clock, 149_999);
    expect(result).toBeNull();
    advance(s.clock, 1);
    expect(result).toBe(`timeout ${OPEN}`);
    expect(s.written).toEqual(['AT+QICLOSE=0\r']);
  });

  it.each([
    ['a recv URC carrying ">" bytes', ['\r\n+QIURC: "recv",0,6\r\n>\r\n> >'], '>\r\n> >'],
    ['a recv URC whose data arrives in two pieces, both starting with ">"', ['\r\n+QIURC: "recv",0,4\r\n>a', '>b'], '>a>b'],
    ['a line that merely contains ">"', ['\r\n+CSQ: 20,99 >\r\n'], ''],
  ])('">" is the send prompt only at the start of a line while a QISEND waits: not in %s', (_name, noise, data) => {
    const s = scripted();
    let sent: string | null = null;
    s.drv.send('payload', (err) => (sent = err));
    expect(s.written).toEqual(['AT+QISEND=0,7\r']);
    s.written.length = 0;
    for (const n of noise) {
      s.drv.input(n);
      expect(s.written).toEqual([]);
    }
    // The real prompt.
    s.drv.input('\r\n> ');
    expect(s.written).toEqual(['payload']);
    s.drv.input('\r\nSEND OK\r\n');
    expect(sent).toBe('');
    expect(s.data.join('')).toBe(data);
  });

  it('a ">" with no QISEND waiting is not a prompt and sends nothing', () => {
    const s = scripted();
    s.drv.input('\r\n> \r\n');
    expect(s.written).toEqual([]);
  });

  it.each([
    ['SEND FAIL', '\r\nSEND FAIL\r\n'],
    ['ERROR', '\r\nERROR\r\n'],
  ])('a send refused with %s reports it once, and the rest of a split payload never goes', (expected, answer) => {
    const s = scripted();
    const results: string[] = [];
    s.drv.send('x'.repeat(3000), (err) => void results.push(err));
    expect(s.written).toEqual(['AT+QISEND=0,1460\r']);
    s.written.length = 0;
    s.drv.input('\r\n> ');
    s.drv.input(answer);
    expect(results).toEqual([expected]);
    expect(s.written).toEqual(['x'.repeat(1460)]);
  });

  it.each([
    ['closed', '\r\n+QIURC: "closed",0\r\n', true],
    ['pdpdeact', '\r\n+QIURC: "pdpdeact",1\r\n', false],
  ])('+QIURC: "%s" reports the link closed', (_name, urc, contextKept) => {
    const s = scripted();
    s.drv.connect('hub.example.org', 1883, 'iot', () => undefined);
    for (const [, a] of answers) s.drv.input(a);
    s.drv.input(urc);
    expect(s.closed()).toBe(1);
    // After pdpdeact the next connect must deactivate and re-activate the context.
    s.written.length = 0;
    s.drv.connect('hub.example.org', 1883, 'iot', () => undefined);
    s.drv.input(contextKept ? '\r\n+CEREG: 0,1\r\n\r\nOK\r\n' : 'AT\r\r\nOK\r\n');
    expect(s.written[1]).toBe(contextKept ? `${OPEN}\r` : 'ATE0\r');
  });
});

describe('BG96 driver against the strict simulated BG96 (virtual clock, scripted TCP peer)', () => {
  it('the connect waits for QIACT however long the network takes: QIOPEN never goes early, nothing is refused', () => {
    const r = simulated({ qiact: 30_000 });
    r.connect();
    advance(r.clock, 29_000);
    expect(r.modem.commands).toContain('AT+QIACT=1');
    expect(r.modem.commands.some((c) => c.startsWith('AT+QIOPEN'))).toBe(false);
    advance(r.clock, 2000);
    expect(r.modem.commands.at(-1)).toBe(OPEN);
    advance(r.clock, 1000);
    expect(r.results).toHaveLength(1);
    expect(r.results[0][1]).toBe('');
    expect(r.results[0][0]).toBeGreaterThanOrEqual(30_000);
    expect(r.modem.refused).toEqual([]);
  });

  it('a refused connect fails within a second, not 150 s, and the retry goes straight to QIOPEN', () => {
    const r = simulated();
    r.peer.mode = 'refuse';
    r.connect();
    advance(r.clock, 5000);
    expect(r.results).toHaveLength(1);
    expect(r.results[0][1]).toBe('+QIOPEN: 0,566');
    const started = r.modem.commands.indexOf(OPEN);
    expect(r.modem.commands.slice(started)).toEqual([OPEN, 'AT+QICLOSE=0']);
    // The context is still up: the retry checks registration and opens.
    r.peer.mode = 'accept';
    const before = r.modem.commands.length;
    r.connect();
    advance(r.clock, 1000);
    expect(r.modem.commands.slice(before)).toEqual(['AT+CEREG?', OPEN]);
    expect(r.results[1][1]).toBe('');
    expect(r.modem.refused).toEqual([]);
  });

  it.each([
    ['coverage returns after 10 s: the poll carries on and the connect succeeds', 10_000, ''],
    ['no coverage at all: given up after 60 s with "reg"', null, 'reg'],
  ])('registration is polled (AT+CEREG? every 2 s) with a limit: %s', (_name, restoreAt, expected) => {
    const r = simulated({ register: 3000 });
    r.modem.dropLink();
    r.connect();
    if (restoreAt !== null) {
      advance(r.clock, restoreAt);
      r.modem.restoreLink();
    }
    advance(r.clock, 70_000);
    expect(r.results.map(([, e]) => e)).toEqual([expected]);
    const polls = r.modem.commands.filter((c) => c === 'AT+CEREG?').length;
    if (expected === 'reg') {
      expect(polls).toBe(30);
      expect(r.results[0][0]).toBeGreaterThanOrEqual(58_000);
      expect(r.results[0][0]).toBeLessThanOrEqual(61_000);
    } else expect(polls).toBeGreaterThanOrEqual(6);
  });

  it('a 3000-byte packet goes as 1460 + 1460 + 80 in order, one result', () => {
    const r = simulated();
    r.connect();
    advance(r.clock, 5000);
    const payload = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(i % 256)).join('');
    const results: string[] = [];
    r.drv.send(payload, (err) => void results.push(err));
    advance(r.clock, 1000);
    expect(r.modem.commands.filter((c) => c.startsWith('AT+QISEND'))).toEqual(['AT+QISEND=0,1460', 'AT+QISEND=0,1460', 'AT+QISEND=0,80']);
    expect(r.peer.received).toBe(payload);
    expect(results).toEqual(['']);
    expect(r.modem.refused).toEqual([]);
  });

  it('data with ">" arriving while a QISEND waits for its prompt is data, and the payload goes at the real prompt', () => {
    const r = simulated();
    r.connect();
    advance(r.clock, 5000);
    // The hub's bytes land between the QISEND command and its prompt.
    const modemInput = r.modem.input.bind(r.modem);
    r.modem.input = (d: string) => {
      modemInput(d);
      if (d.startsWith('AT+QISEND')) r.peer.ev!.data('\r\n> >>');
    };
    const results: string[] = [];
    r.drv.send('hello', (err) => void results.push(err));
    advance(r.clock, 1000);
    expect(r.data.join('')).toBe('\r\n> >>');
    expect(r.peer.received).toBe('hello');
    expect(results).toEqual(['']);
    expect(r.modem.refused).toEqual([]);
  });

  it('network loss: pdpdeact closes the link, and the reconnect deactivates and re-activates the context', () => {
    const r = simulated({ pdpdeact: 1000, register: 3000 });
    r.connect();
    advance(r.clock, 5000);
    expect(r.results[0][1]).toBe('');
    r.modem.dropLink();
    advance(r.clock, 999);
    expect(r.closed()).toBe(0);
    advance(r.clock, 10);
    expect(r.closed()).toBe(1);
    r.drv.close();
    advance(r.clock, 100);
    r.modem.restoreLink();
    const before = r.modem.commands.length;
    r.connect();
    advance(r.clock, 10_000);
    const after = r.modem.commands.slice(before);
    expect(after.indexOf('AT+QIDEACT=1')).toBeGreaterThan(after.lastIndexOf('AT+CEREG?'));
    expect(after.indexOf('AT+QIACT=1')).toBeGreaterThan(after.indexOf('AT+QIDEACT=1'));
    expect(after.at(-1)).toBe(OPEN);
    expect(r.results[1][1]).toBe('');
    expect(r.peer.dials).toBe(2);
    expect(r.modem.refused).toEqual([]);
  });
});
