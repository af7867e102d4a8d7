// Issue 20, R22: the rule of who sees a position when (pure), and the [positions] config refused
// with a clear message when it is wrong.
import { describe, expect, it } from 'vitest';
import { decidePositionView } from '../../hub/http/position-privacy.js';
import { parseConfig } from '../../hub/config/load-config.js';
import { positionLine, geoUri, osmUrl, ageWords } from '../../hub/notifiers/position-text.js';

describe('decidePositionView', () => {
  const cases: [string, 'alarm' | 'worker', boolean, boolean, boolean][] = [
    // role, scope, alarmOpen, onShift, allowed
    ['admin', 'alarm', false, false, true],
    ['admin', 'worker', false, false, true],
    ['duty_officer', 'alarm', true, false, true],
    ['duty_officer', 'alarm', false, true, false],
    ['duty_officer', 'worker', false, true, true],
    ['duty_officer', 'worker', true, false, true],
    ['duty_officer', 'worker', false, false, false],
    ['manager', 'worker', false, true, false],
    ['manager', 'worker', true, false, true],
    ['manager', 'alarm', true, false, true],
    ['manager', 'alarm', false, false, false],
    ['worker', 'worker', true, true, false],
  ];
  it.each(cases)('%s asking for the %s position (alarm open %s, on shift %s): allowed %s', (role, scope, alarmOpen, onShift, allowed) => {
    const d = decidePositionView(role as never, { scope, alarmOpen, onShift });
    expect(d.allowed).toBe(allowed);
    if (!d.allowed) expect(d.reason.length).toBeGreaterThan(20);
  });
});

describe('[positions] config', () => {
  it('defaults to 30 days and refuses 0 or a fraction, naming the key', () => {
    expect(parseConfig({}, 'defaults').positions.retention_days).toBe(30);
    expect(() => parseConfig({ positions: { retention_days: 0 } }, 'test')).toThrow(/positions\.retention_days.*at least 1 day/);
    expect(() => parseConfig({ positions: { retention_days: 1.5 } }, 'test')).toThrow(/positions\.retention_days.*whole number of days/);
    expect(() => parseConfig({ positions: { keep: 3 } }, 'test')).toThrow(/positions/);
  });
});

describe('position text', () => {
  const p = { lat: 51.50722, lon: -0.1275, accuracyM: 12, fixAt: '2026-11-23T09:00:00.000Z', source: 'gnss' as const };
  it('geo: (RFC 5870 with u=), OpenStreetMap, and the age in words', () => {
    expect(geoUri(p)).toBe('geo:51.50722,-0.1275;u=12');
    expect(osmUrl(p)).toBe('https://www.openstreetmap.org/?mlat=51.50722&mlon=-0.1275#map=18/51.50722/-0.1275');
    expect([ageWords(40), ageWords(720), ageWords(3 * 3600 + 300), ageWords(7200)]).toEqual(['40 s', '12 min', '3 h 5 min', '2 h']);
    expect(positionLine(p, Date.parse('2026-11-23T09:04:00.000Z'))).toBe(
      "51.50722, -0.1275 (within 12 m, fix 4 min old at 09:04:00 UTC, from the fob's GPS): https://www.openstreetmap.org/?mlat=51.50722&mlon=-0.1275#map=18/51.50722/-0.1275",
    );
  });
});
