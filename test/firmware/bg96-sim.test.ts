/**
 * The simulated BG96 holds a driver to the manual: it refuses what the real modem refuses and
 * answers with the real timings' shape, on a virtual clock, with a scripted TCP peer (no sockets).
 */
import { describe, expect, it } from 'vitest';
import { SimulatedBg96, type Bg96Timings, type TcpEvents } from '../../firmware/sim/bg96-sim.js';
import { VirtualClock } from '../../firmware/sim/virtual-clock.js';

function modem(timings: Partial<Bg96Timings> = {}, peer: 'accept' | 'refuse' = 'accept') {
  const clock = new VirtualClock();
  let out = '';
  let ev: TcpEvents | null = null;
  const m = new SimulatedBg96(
    (d) => void (out += d),
    (fn, ms) => void clock.set(fn, ms),
    { reply: 5, ...timings },
    (_h, _p, e) => {
      ev = e;
      clock.set(() => (peer === 'accept' ? e.connected() : e.refused()), 40);
      return { write: () => undefined, destroy: () => undefined };
    },
  );
  const run = (ms: number): string => {
    clock.advance(ms, (err) => {
      throw err;
    });
    const o = out;
    out = '';
    return o;
  };
  /** Sends a CR-terminated command and returns what came back within ms. */
  const at = (cmd: string, ms = 100): string => {
    m.input(`${cmd}\r`);
    return run(ms);
  };
  return { m, clock, run, at, peer: () => ev! };
}

/** Brings the modem to an open socket. */
function opened(timings: Partial<Bg96Timings> = {}) {
  const r = modem({ qiact: 100, ...timings });
  r.at('ATE0');
  r.at('AT+QIACT=1', 200);
  expect(r.at('AT+QIOPEN=1,0,"TCP","hub",1883,0,1')).toBe('\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n');
  return r;
}

describe('simulated BG96: what the real modem refuses', () => {
  it.each([
    ['LF only', 'AT\n'],
    ['no terminator at all', 'AT'],
  ])('a command ended by %s is not executed ([AT] §1.3: <CR> ends the line)', (_name, bytes) => {
    const r = modem();
    r.at('ATE0');
    r.m.input(bytes);
    expect(r.run(1000)).toBe('');
    expect(r.m.commands).toEqual(['ATE0']);
    expect(r.m.unterminated).toBe('AT');
    // The CR completes it.
    r.m.input('\r');
    expect(r.run(100)).toBe('\r\nOK\r\n');
  });

  it('a command sent before the previous one has its final result code is not executed', () => {
    const r = modem({ qiact: 3000 });
    r.at('ATE0');
    r.m.input('AT+QIACT=1\r');
    r.m.input('AT+QIOPEN=1,0,"TCP","hub",1883,0,1\r');
    expect(r.run(3100)).toBe('\r\nOK\r\n');
    expect(r.m.commands).toEqual(['ATE0', 'AT+QIACT=1']);
    expect(r.m.refused.length).toBeGreaterThan(0);
    expect(r.m.refused[0]).toBe('busy: "A"');
  });

  it.each([
    [1460, '\r\n> '],
    [1461, '\r\nERROR\r\n'],
    [3000, '\r\nERROR\r\n'],
  ])('AT+QISEND=0,%i: at most 1460 bytes per send ([TCP] §2.2.7)', (n, answer) => {
    const r = opened();
    expect(r.at(`AT+QISEND=0,${n}`)).toBe(answer);
    if (n > 1460) expect(r.m.refused).toEqual([`send over 1460: ${n}`]);
  });

  it('a QISEND takes exactly <len> bytes after the prompt, whatever they are, then SEND OK', () => {
    const r = opened();
    const sent: string[] = [];
    r.m.onSend = (b) => void sent.push(b);
    expect(r.at('AT+QISEND=0,6')).toBe('\r\n> ');
    r.m.input('AT\r\n> ');
    expect(r.run(100)).toBe('\r\nSEND OK\r\n');
    expect(sent).toEqual(['AT\r\n> ']);
    expect(r.m.commands.filter((c) => c === 'AT')).toEqual([]);
  });

  it('QISEND on a socket that is not connected answers ERROR', () => {
    const r = modem();
    r.at('ATE0');
    expect(r.at('AT+QISEND=0,5')).toBe('\r\nERROR\r\n');
  });

  it('QIACT after the network deactivated the context fails until QIDEACT ([TCP] §2.3 "pdpdeact")', () => {
    const r = opened({ pdpdeact: 1000, register: 2000 });
    r.m.dropLink();
    expect(r.run(500)).toBe('');
    expect(r.at('AT+CEREG?')).toBe('\r\n+CEREG: 0,2\r\n\r\nOK\r\n');
    expect(r.run(1000)).toBe('\r\n+QIURC: "pdpdeact",1\r\n');
    r.m.restoreLink();
    r.run(2500);
    expect(r.at('AT+CEREG?')).toBe('\r\n+CEREG: 0,1\r\n\r\nOK\r\n');
    expect(r.at('AT+QIACT=1', 200)).toBe('\r\nERROR\r\n');
    expect(r.at('AT+QIDEACT=1', 300)).toBe('\r\nOK\r\n');
    expect(r.at('AT+QIACT=1', 200)).toBe('\r\nOK\r\n');
  });
});

describe('simulated BG96: the shape of the real timings', () => {
  it('QIACT answers OK only after the network delay', () => {
    const r = modem({ qiact: 5000 });
    r.at('ATE0');
    r.m.input('AT+QIACT=1\r');
    expect(r.run(5000)).toBe('');
    expect(r.run(10)).toBe('\r\nOK\r\n');
  });

  it.each([
    ['accept', '+QIOPEN: 0,0'],
    ['refuse', '+QIOPEN: 0,566'],
  ] as const)('QIOPEN answers OK at once, then the URC when the peer answers (%s)', (peer, urc) => {
    const r = modem({ qiact: 100, qiopen: 50 }, peer);
    r.at('ATE0');
    r.at('AT+QIACT=1', 200);
    expect(r.at('AT+QIOPEN=1,0,"TCP","hub",1883,0,1', 10)).toBe('\r\nOK\r\n');
    // 40 ms for the peer, 50 for the modem, 5 on the UART.
    expect(r.run(80)).toBe('');
    expect(r.run(20)).toBe(`\r\n${urc}\r\n`);
  });

  it('QIOPEN without an active context, or on a socket not closed since, fails with its URC', () => {
    const r = modem({ qiact: 100 });
    r.at('ATE0');
    expect(r.at('AT+QIOPEN=1,0,"TCP","hub",1883,0,1')).toBe('\r\nOK\r\n\r\n+QIOPEN: 0,561\r\n');
    r.at('AT+QIACT=1', 200);
    r.at('AT+QIOPEN=1,0,"TCP","hub",1883,0,1');
    expect(r.at('AT+QIOPEN=1,0,"TCP","hub",1883,0,1')).toBe('\r\nOK\r\n\r\n+QIOPEN: 0,563\r\n');
    expect(r.at('AT+QICLOSE=0')).toBe('\r\nOK\r\n');
    expect(r.at('AT+QIOPEN=1,0,"TCP","hub",1883,0,1')).toBe('\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n');
  });

  it('incoming data is pushed as +QIURC: "recv",0,<len> and the bytes; the peer closing gives "closed"', () => {
    const r = opened();
    r.peer().data('a>b\r\n');
    expect(r.run(10)).toBe('\r\n+QIURC: "recv",0,5\r\na>b\r\n');
    r.peer().closed();
    expect(r.run(10)).toBe('\r\n+QIURC: "closed",0\r\n');
    // Closing until AT+QICLOSE ([TCP] §2.3.1).
    expect(r.at('AT+QISEND=0,1')).toBe('\r\nERROR\r\n');
  });

  it('echo is on until ATE0 ([AT] ATE)', () => {
    const r = modem();
    expect(r.at('AT')).toBe('AT\r\r\nOK\r\n');
    expect(r.at('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    expect(r.at('AT')).toBe('\r\nOK\r\n');
  });
});
