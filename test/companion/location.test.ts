// The phone's position rules (hub/companion/public/location.js) in Node: the browser's geolocation
// is the edge here, replaced by one that answers as the W3C Geolocation API does (a
// GeolocationPosition with coords and a timestamp; error code 1 = PERMISSION_DENIED), and the timers
// are the test's, so the 15-second rate is checked without waiting. The browser test
// (companion-location-browser.test.ts) runs the same module in Chromium with its geolocation override.
import { describe, expect, it } from 'vitest';
import { ALARM_POSITION_MS, fixFrom, locationLine, MAX_ALARM_SHARE_MS, MAX_FIX_AGE_MS, PhoneLocation, positionOf, type WirePosition } from '../../hub/companion/public/location.js';
import { payload } from '../../hub/companion/public/outbox.js';
import { positionSchema } from '../../shared/protocol-schemas.js';

class Geo {
  watching = new Map<number, (p: unknown) => void>();
  asked = 0;
  next = 1;
  here = { latitude: 51.5072178, longitude: -0.1275862, accuracy: 14.6 };
  constructor(private clock: { t: number }) {}
  position() {
    return { coords: { ...this.here }, timestamp: this.clock.t };
  }
  watchPosition(ok: (p: unknown) => void) {
    const id = this.next++;
    this.watching.set(id, ok);
    ok(this.position());
    return id;
  }
  clearWatch(id: number) {
    this.watching.delete(id);
  }
  getCurrentPosition(ok: (p: unknown) => void) {
    this.asked++;
    ok(this.position());
  }
  move(latitude: number, longitude: number) {
    this.here = { ...this.here, latitude, longitude };
    for (const ok of this.watching.values()) ok(this.position());
  }
}

function rig() {
  const clock = { t: Date.parse('2026-12-01T10:00:00Z') };
  const geo = new Geo(clock);
  const intervals = new Map<number, { fn: () => void; ms: number; due: number }>();
  let id = 0;
  const sent: WirePosition[] = [];
  const loc = new PhoneLocation({
    geolocation: geo,
    now: () => clock.t,
    timers: {
      setInterval: (fn, ms) => {
        intervals.set(++id, { fn, ms, due: clock.t + ms });
        return id;
      },
      clearInterval: (i) => void intervals.delete(i as number),
    },
    sendPosition: (p) => sent.push(p),
    onChange: () => undefined,
  });
  const advance = (ms: number) => {
    const end = clock.t + ms;
    for (;;) {
      const next = [...intervals.values()].sort((a, b) => a.due - b.due)[0];
      if (!next || next.due > end) break;
      clock.t = next.due;
      next.due += next.ms;
      next.fn();
    }
    clock.t = end;
  };
  return { clock, geo, loc, sent, intervals, advance };
}

describe('the phone position', () => {
  it('is the protocol position: 5 decimals, whole metres, source p, its age counted to the send', () => {
    const fix = fixFrom({ coords: { latitude: 51.5072178, longitude: -0.1275862, accuracy: 14.6 }, timestamp: 1000 });
    expect(fix).toEqual({ la: 51.50722, lo: -0.12759, ac: 15, at: 1000 });
    const p = positionOf(fix, 41_400);
    expect(p).toEqual({ la: 51.50722, lo: -0.12759, ac: 15, fa: 40, s: 'p' });
    expect(positionSchema.safeParse(p).success).toBe(true);
    expect(fixFrom({ coords: { latitude: 0, longitude: 0, accuracy: 5e6 }, timestamp: 0 }).ac).toBe(100_000);
  });

  it('is never read off shift, is read on shift, and forgotten at the end of it', () => {
    const { geo, loc, sent } = rig();
    loc.setOnShift(false);
    expect(geo.watching.size).toBe(0);
    expect(loc.freshFix()).toBeNull();
    expect(locationLine(loc.mode, loc.permission)).toEqual({ on: false, text: 'Location off: not used outside your shift.' });
    loc.setOnShift(true);
    expect(geo.watching.size).toBe(1);
    expect(loc.freshFix()).toMatchObject({ la: 51.50722, lo: -0.12759 });
    expect(locationLine(loc.mode, loc.permission).text).toBe('Location on: shared with the office during your shift (sent with an alarm).');
    // On shift with no alarm nothing is sent on its own.
    expect(sent).toEqual([]);
    loc.setOnShift(false);
    expect(geo.watching.size).toBe(0);
    expect(loc.freshFix()).toBeNull();
    expect(geo.asked).toBe(0);
  });

  it('during an alarm: sent at once, then a fresh fix every 15 s, until the hub closes the alarm', () => {
    const { geo, loc, sent, advance } = rig();
    loc.setOnShift(true);
    // The shift's fix goes with the alarm event itself, not on `ps` as well.
    expect(loc.alarmStarted()).toMatchObject({ la: 51.50722, lo: -0.12759 });
    expect(loc.mode).toBe('alarm');
    expect(sent.length).toBe(0);
    advance(ALARM_POSITION_MS - 1);
    expect(sent.length).toBe(0);
    geo.move(51.5081, -0.1281);
    advance(1);
    expect(sent.at(-1)).toMatchObject({ la: 51.5081, lo: -0.1281, fa: 0, s: 'p' });
    const n = sent.length;
    advance(ALARM_POSITION_MS * 4);
    expect(sent.length).toBe(n + 4);
    // A worker's cancel: the hub's first clr only stands the fob down; sharing goes on.
    loc.workerCancelled();
    loc.cleared();
    expect(loc.mode).toBe('alarm');
    loc.cleared();
    expect(loc.mode).toBe('shift');
    const m = sent.length;
    advance(ALARM_POSITION_MS * 3);
    expect(sent.length).toBe(m);
  });

  it('an alarm off shift turns location on for the alarm only, and a forgotten one stops after 2 h', () => {
    const { geo, loc, sent, advance } = rig();
    // Off shift there is no fix yet when the alarm starts: the first one goes out on `ps` at once.
    expect(loc.alarmStarted()).toBeNull();
    expect(geo.watching.size).toBe(1);
    expect(sent.length).toBe(1);
    expect(locationLine(loc.mode, loc.permission).text).toBe('Location on: sent to the office every 15 s during this alarm.');
    advance(MAX_ALARM_SHARE_MS + ALARM_POSITION_MS);
    expect(loc.mode).toBe('off');
    expect(geo.watching.size).toBe(0);
  });

  it('a stale fix does not go with an alarm event, and a refusal stops asking', () => {
    const { geo, loc, clock } = rig();
    loc.setOnShift(true);
    geo.watching.clear(); // the fix stops updating (indoors)
    clock.t += MAX_FIX_AGE_MS + 1;
    expect(loc.freshFix()).toBeNull();
    loc.failed({ code: 1 });
    expect(loc.permission).toBe('denied');
    expect(locationLine(loc.mode, loc.permission).text).toMatch(/^Location is blocked/);
  });

  it('the outbox adds the fix as `l` with its age at the time of each send', () => {
    const fix = { la: 51.50722, lo: -0.12759, ac: 15, at: 10_000 };
    const entry = { i: 'z1-1', event: { i: 'z1-1', k: 'cov' }, ag0: 0, heldSince: 12_000, origin: 'phone' as const, fix };
    expect(JSON.parse(payload(entry, 12_000))).toEqual({ i: 'z1-1', k: 'cov', l: { la: 51.50722, lo: -0.12759, ac: 15, fa: 2, s: 'p' }, ag: 0 });
    expect(JSON.parse(payload(entry, 72_000))).toMatchObject({ l: { fa: 62 }, ag: 60 });
    // The fob's own position wins; an entry with no fix gets none.
    const own = { la: 1, lo: 2, ac: 3, fa: 4, s: 'g' };
    expect(JSON.parse(payload({ ...entry, event: { ...entry.event, l: own } }, 12_000)).l).toEqual(own);
    expect(JSON.parse(payload({ ...entry, fix: undefined }, 12_000))).not.toHaveProperty('l');
  });
});
