/**
 * Issue 20: the RAK5010's GNSS. The strict simulated BG96's receiver (firmware/sim/bg96-sim.ts)
 * answered as the BG96 GNSS AT Commands Manual says, and the firmware's GNSS schedule
 * (firmware/src/drivers/gnss.ts) driving it through the real BG96 driver, on one virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { Bg96 } from '../../firmware/src/drivers/bg96.js';
import { FIX_FRESH_MS, GNSS_ALARM_MS, GNSS_LIMIT_MS, GNSS_RETRY_MS, gnssOn } from '../../firmware/src/drivers/gnss.js';
import { SimulatedBg96, parseTrack } from '../../firmware/sim/bg96-sim.js';
import { VirtualClock } from '../../firmware/sim/virtual-clock.js';
import { positionSchema } from '../../shared/protocol-schemas.js';

const TRACK = `# a worker walks out of a building
0 51.50722 -0.12750 1.2
60 51.50800 -0.12800 0.9
120 indoors
`;

function rig(track = TRACK) {
  const clock = new VirtualClock();
  let modem: SimulatedBg96 | null = null;
  const drv = new Bg96({ write: (d) => modem!.input(d) }, (fn, ms) => clock.set(fn, ms), (id) => clock.clear(id));
  modem = new SimulatedBg96((d) => drv.input(d), (fn, ms) => void clock.set(fn, ms), {}, () => {
    throw new Error('no TCP in these tests');
  });
  modem.now = () => clock.now();
  modem.setTrack(track);
  drv.onData = () => undefined;
  drv.onClosed = () => undefined;
  const advance = (ms: number): void =>
    clock.advance(ms, (err) => {
      throw err;
    });
  return { clock, modem, drv, advance };
}

/** One command through the driver: its result and information line. */
function ask(r: ReturnType<typeof rig>, cmd: string): [string, string] {
  let out: [string, string] | null = null;
  r.drv.at(cmd, 5000, (err, info) => void (out = [err, info]));
  r.advance(100);
  if (!out) throw new Error(`no answer to ${cmd}`);
  return out;
}

describe('simulated BG96 GNSS receiver, strict as the manual', () => {
  it('505 before QGPS, 504 for a second QGPS=1, 516 before the first fix, then a mode-2 fix, 505 after QGPSEND', () => {
    const r = rig();
    r.modem.ttffMs = 3000;
    ask(r, 'ATE0');
    expect(ask(r, 'AT+QGPSLOC=2')[0]).toBe('+CME ERROR: 505');
    expect(ask(r, 'AT+QGPS=1')).toEqual(['', '']);
    expect(ask(r, 'AT+QGPS=1')[0]).toBe('+CME ERROR: 504');
    expect(ask(r, 'AT+QGPSLOC=2')[0]).toBe('+CME ERROR: 516');
    r.advance(3000);
    const [err, info] = ask(r, 'AT+QGPSLOC=2');
    expect(err).toBe('');
    expect(info).toMatch(/^\+QGPSLOC: \d{6}\.0,51\.50722,-0\.12750,1\.2,[\d.]+,3,[\d.]+,[\d.]+,[\d.]+,\d{6},\d{2}$/);
    expect(ask(r, 'AT+QGPSEND')).toEqual(['', '']);
    expect(ask(r, 'AT+QGPSEND')[0]).toBe('+CME ERROR: 505');
    expect(ask(r, 'AT+QGPSLOC=2')[0]).toBe('+CME ERROR: 505');
  });

  it('plays the track: the position moves with time, and indoors there is no fix (516) with the receiver on', () => {
    const r = rig();
    ask(r, 'ATE0');
    ask(r, 'AT+QGPS=1');
    r.advance(61_000);
    expect(ask(r, 'AT+QGPSLOC=2')[1]).toContain(',51.50800,-0.12800,0.9,');
    r.advance(60_000);
    expect(ask(r, 'AT+QGPSLOC=2')[0]).toBe('+CME ERROR: 516');
  });

  it('a GNSS command it does not model is refused and changes nothing: AT+QGPSCFG="priority" (the BG95/BG77 GNSS-or-LTE setting, not found for the BG96: docs/fob.md)', () => {
    const r = rig();
    ask(r, 'ATE0');
    expect(ask(r, 'AT+QGPSCFG="priority",0')[0]).toMatch(/ERROR/);
    expect(ask(r, 'AT+QGPSLOC=2')[0]).toBe('+CME ERROR: 505');
    expect(ask(r, 'AT+QGPS=1')).toEqual(['', '']);
    expect(ask(r, 'AT+QGPSCFG="priority",1')[0]).toMatch(/ERROR/);
    // Still on: the refused command did not touch the session.
    expect(ask(r, 'AT+QGPS=1')[0]).toBe('+CME ERROR: 504');
  });

  it('a track with a bad line is refused with the line and the expected format', () => {
    expect(() => parseTrack('0 51.5 -0.1 1.2\n10 95 0 1')).toThrow(/track line 2 "10 95 0 1": .*expected "<seconds> <lat> <lon> <hdop>"/);
    expect(() => parseTrack('10 51.5 -0.1 1\n5 indoors')).toThrow(/line 2 .*time goes back/);
    expect(parseTrack('0 indoors\n5 1 2 3')).toEqual([{ t: 0, indoors: true }, { t: 5, lat: 1, lon: 2, hdop: 3 }]);
  });
});

describe('firmware GNSS schedule (drivers/gnss.ts) on the BG96 driver', () => {
  function fob(track = TRACK, onVisit = false) {
    const r = rig(track);
    r.modem.ttffMs = 8000;
    const fixes: string[] = [];
    const fixedAt: number[] = [];
    const g = gnssOn(r.drv, () => r.clock.now(), (fn, ms) => r.clock.set(fn, ms), (id) => r.clock.clear(id), () => onVisit);
    g.onFix = (ps) => {
      fixes.push(ps);
      fixedAt.push(r.clock.now());
    };
    const gnssCommands = (): string[] => r.modem.commands.filter((c) => c.startsWith('AT+QGPS'));
    return { ...r, g, fixes, fixedAt, gnssCommands };
  }

  it('an alarm turns the receiver on, polls through 516 until the fix, sends it as a valid position, then every 30 s; clr turns it off', () => {
    const f = fob();
    f.g.alarmOpen(true);
    f.advance(1000);
    expect(f.gnssCommands().slice(0, 2)).toEqual(['AT+QGPS=1', 'AT+QGPSLOC=2']);
    expect(f.fixes).toEqual([]);
    f.advance(10_000);
    expect(f.fixes).toHaveLength(1);
    const p = positionSchema.parse(JSON.parse(f.fixes[0]));
    // Accuracy is HDOP x 5 m (an estimate): HDOP 1.2 -> 6 m.
    expect(p).toEqual({ la: 51.50722, lo: -0.1275, ac: 6, fa: 0, s: 'g' });
    f.advance(GNSS_ALARM_MS);
    expect(f.fixes).toHaveLength(2);
    expect(f.gnssCommands()).not.toContain('AT+QGPSEND');
    f.g.alarmOpen(false);
    f.advance(100);
    expect(f.gnssCommands().at(-1)).toBe('AT+QGPSEND');
    const n = f.gnssCommands().length;
    f.advance(10 * 60_000);
    expect(f.gnssCommands()).toHaveLength(n);
    expect(f.modem.refused).toEqual([]);
  });

  it('fix() is the last fix with its age while fresh, and nothing once older than FIX_FRESH_MS', () => {
    const f = fob();
    expect(f.g.fix()).toBe('');
    f.g.alarmOpen(true);
    f.advance(11_000);
    f.g.alarmOpen(false);
    f.advance(20_000);
    expect(JSON.parse(f.g.fix())).toMatchObject({ la: 51.50722, fa: Math.round((f.clock.now() - f.fixedAt[0]) / 1000) });
    expect(f.clock.now() - f.fixedAt[0]).toBeGreaterThan(19_000);
    f.advance(FIX_FRESH_MS);
    expect(f.g.fix()).toBe('');
  });

  it('indoors the session is bounded: QGPSEND after GNSS_LIMIT_MS without a fix, tried again GNSS_RETRY_MS later during the alarm', () => {
    const f = fob('0 indoors');
    f.g.alarmOpen(true);
    f.advance(GNSS_LIMIT_MS - 10_000);
    expect(f.gnssCommands()).not.toContain('AT+QGPSEND');
    f.advance(20_000);
    expect(f.gnssCommands().filter((c) => c === 'AT+QGPSEND')).toHaveLength(1);
    const ons = f.gnssCommands().filter((c) => c === 'AT+QGPS=1').length;
    f.advance(GNSS_RETRY_MS);
    expect(f.gnssCommands().filter((c) => c === 'AT+QGPS=1')).toHaveLength(ons + 1);
    expect(f.fixes).toEqual([]);
  });

  it('during a visit one fix every gp seconds, the receiver off between; off visit or gp 0, nothing', () => {
    const f = fob('0 51.50722 -0.12750 1.2', true);
    f.g.gnssPeriod(600);
    f.advance(599_000);
    expect(f.gnssCommands()).toEqual([]);
    f.advance(20_000);
    expect(f.fixes).toHaveLength(1);
    expect(f.gnssCommands().at(-1)).toBe('AT+QGPSEND');
    f.g.gnssPeriod(0);
    f.advance(3600_000);
    expect(f.fixes).toHaveLength(1);
    const off = fob(TRACK, false);
    off.g.gnssPeriod(600);
    off.advance(3600_000);
    expect(off.gnssCommands()).toEqual([]);
  });

  it('a receiver the modem lost (505 after a modem restart) is turned on again', () => {
    const f = fob();
    f.g.alarmOpen(true);
    f.advance(11_000);
    expect(f.fixes).toHaveLength(1);
    f.modem.close(); // power cut: the receiver is off
    f.advance(GNSS_ALARM_MS + 10_000);
    expect(f.gnssCommands().filter((c) => c === 'AT+QGPS=1').length).toBeGreaterThanOrEqual(2);
    f.advance(GNSS_ALARM_MS);
    expect(f.fixes.length).toBeGreaterThanOrEqual(2);
    expect(f.fixedAt[1]).toBeGreaterThan(f.fixedAt[0] + GNSS_ALARM_MS);
  });
});

/**
 * Issue 20: GPS_EN, the RAK5010's GNSS power enable (D39; Espruino's libs/js/rak/RAK5010.js setGPSOn
 * writes it high before AT+QGPS=1 and low when GNSS goes off). One log holds the pin's writes and
 * the GNSS session commands in the order they happened: the pin through gnssOn's `en`, each command
 * as the simulated BG96 receives it.
 */
describe('GPS_EN around the GNSS sessions', () => {
  function powered(track: string) {
    const r = rig(track);
    r.modem.ttffMs = 8000;
    const log: string[] = [];
    const received = r.modem.commands.push.bind(r.modem.commands);
    r.modem.commands.push = (...cmds: string[]) => {
      for (const c of cmds) if (c === 'AT+QGPS=1' || c === 'AT+QGPSEND') log.push(c);
      return received(...cmds);
    };
    const g = gnssOn(r.drv, () => r.clock.now(), (fn, ms) => r.clock.set(fn, ms), (id) => r.clock.clear(id), () => false, (v) => log.push(`en=${v}`));
    g.onFix = () => undefined;
    return { ...r, g, log };
  }

  it('high before AT+QGPS=1, low only once AT+QGPSEND was answered', () => {
    const f = powered('0 51.50722 -0.12750 1.2');
    f.g.alarmOpen(true);
    f.advance(1000);
    expect(f.log).toEqual(['en=1', 'AT+QGPS=1']);
    f.advance(20_000);
    f.g.alarmOpen(false);
    // QGPSEND is on its way, not yet answered: the pin is still high.
    expect(f.log.at(-1)).not.toBe('en=0');
    f.advance(1000);
    expect(f.log).toEqual(['en=1', 'AT+QGPS=1', 'AT+QGPSEND', 'en=0']);
  });

  it('indoors: the session given up after GNSS_LIMIT_MS turns the pin off, the retry on again before its QGPS=1', () => {
    const f = powered('0 indoors');
    f.g.alarmOpen(true);
    f.advance(GNSS_LIMIT_MS + 10_000);
    expect(f.log).toEqual(['en=1', 'AT+QGPS=1', 'AT+QGPSEND', 'en=0']);
    f.advance(GNSS_RETRY_MS);
    expect(f.log).toEqual(['en=1', 'AT+QGPS=1', 'AT+QGPSEND', 'en=0', 'en=1', 'AT+QGPS=1']);
  });

  it('an alarm closed and raised again before QGPSEND is answered: the new session keeps its pin high', () => {
    const f = powered('0 51.50722 -0.12750 1.2');
    f.g.alarmOpen(true);
    f.advance(1000);
    f.g.alarmOpen(false);
    f.g.alarmOpen(true);
    f.advance(2000);
    expect(f.log.filter((x) => x.startsWith('AT+')).slice(-2)).toEqual(['AT+QGPSEND', 'AT+QGPS=1']);
    expect(f.log).not.toContain('en=0');
    expect(f.log.filter((x) => x.startsWith('en='))).toEqual(['en=1', 'en=1']);
  });
});
