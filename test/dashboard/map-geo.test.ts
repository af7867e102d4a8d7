// The map's pure parts (hub/dashboard/public/map-geo.js) and the [map] settings' validation.
import { describe, expect, it } from 'vitest';
import { ageWords, coordinates, distanceMetres, escapeHtml, fixSummary, geoLink, gridLines, gridSpacingMetres, osmLink } from '../../hub/dashboard/public/map-geo.js';
import { parseConfig } from '../../hub/config/load-config.js';
import { tileOrigin } from '../../hub/config/map-config.js';
import { securityHeaders } from '../../hub/http/api.js';

const fix = { lat: 51.50722, lon: -0.1275, accuracyM: 12, fixAt: '2026-12-01T10:00:00.000Z', source: 'gnss' };
const at = (iso: string) => Date.parse(iso);

describe('the words of a fix', () => {
  it('says how old the fix is from its own time, its accuracy and its source', () => {
    expect(fixSummary(fix, at('2026-12-01T10:00:40.000Z'))).toBe('fix 40 s old, ±12 m, GNSS');
    expect(fixSummary({ ...fix, source: 'phone', accuracyM: 35.4 }, at('2026-12-01T10:03:05.000Z'))).toBe('fix 3 min 5 s old, ±35 m, phone');
    expect(fixSummary({ ...fix, source: 'cell' }, at('2026-12-01T12:10:00.000Z'))).toBe('fix 2 h 10 min old, ±12 m, cell estimate');
    expect(ageWords(3 * 86_400_000)).toBe('3 days');
    // A fix dated a little after the hub's clock (clock drift) reads 0 s, never negative.
    expect(ageWords(-2000)).toBe('0 s');
  });

  it('gives five decimals and plain links', () => {
    expect(coordinates(fix)).toBe('51.50722, -0.12750');
    expect(geoLink(fix)).toBe('geo:51.50722,-0.12750;u=12');
    expect(osmLink(fix)).toBe('https://www.openstreetmap.org/?mlat=51.50722&mlon=-0.12750#map=17/51.50722/-0.12750');
    expect(escapeHtml('© <b>OSM</b> & "co"')).toBe('© &lt;b&gt;OSM&lt;/b&gt; &amp; &quot;co&quot;');
  });
});

describe('the offline grid', () => {
  it('picks a spacing of at most 8 cells across the view', () => {
    expect(gridSpacingMetres(300)).toBe(50);
    expect(gridSpacingMetres(400)).toBe(50);
    expect(gridSpacingMetres(401)).toBe(100);
    expect(gridSpacingMetres(7)).toBe(1);
    expect(gridSpacingMetres(30_000)).toBe(5000);
  });

  it('draws lines through the fix, spacing metres apart, inside the bounds', () => {
    const bounds = { south: 51.505, west: -0.131, north: 51.509, east: -0.124 };
    const { lats, lons } = gridLines(bounds, 100, { lat: fix.lat, lon: fix.lon });
    expect(lats.some((l) => Math.abs(l - fix.lat) < 1e-9)).toBe(true);
    expect(lons.some((l) => Math.abs(l - fix.lon) < 1e-9)).toBe(true);
    for (const l of lats) expect(l >= bounds.south && l <= bounds.north).toBe(true);
    for (const l of lons) expect(l >= bounds.west && l <= bounds.east).toBe(true);
    // Neighbouring lines are 100 m apart on the ground, both ways (longitude shrinks with latitude).
    expect(distanceMetres({ lat: lats[0], lon: fix.lon }, { lat: lats[1], lon: fix.lon })).toBeCloseTo(100, 0);
    expect(distanceMetres({ lat: fix.lat, lon: lons[0] }, { lat: fix.lat, lon: lons[1] })).toBeCloseTo(100, 0);
    // 0.004° of latitude is 445 m: four or five lines fit.
    expect(lats.length).toBeGreaterThanOrEqual(4);
    expect(lats.length).toBeLessThanOrEqual(5);
  });
});

describe('[map] settings', () => {
  const parse = (map: Record<string, unknown>) => parseConfig({ map }, 'test');

  it('defaults to no tile server (the offline map) and keeps the CSP on the hub alone', () => {
    const c = parseConfig({}, 'test');
    expect(c.map).toEqual({ attribution: '', max_zoom: 19 });
    expect(tileOrigin(c.map)).toBeNull();
    expect(securityHeaders(null)['content-security-policy']).toContain("img-src 'self' data:;");
  });

  it('adds the tile server origin, and only it, to img-src', () => {
    const c = parse({ tile_url: 'http://127.0.0.1:9999/tiles/{z}/{x}/{y}.png', attribution: '© OpenStreetMap contributors', max_zoom: 18 });
    expect(tileOrigin(c.map)).toBe('http://127.0.0.1:9999');
    expect(securityHeaders(tileOrigin(c.map))['content-security-policy']).toContain("img-src 'self' data: http://127.0.0.1:9999;");
  });

  it('refuses a template it cannot serve safely, naming the key', () => {
    expect(() => parse({ tile_url: 'https://tiles.example.org/{z}/{x}.png' })).toThrow(/map\.tile_url.*\{z\}, \{x\} and \{y\}/s);
    expect(() => parse({ tile_url: 'https://{s}.tiles.example.org/{z}/{x}/{y}.png' })).toThrow(/map\.tile_url.*no \{s\}/s);
    expect(() => parse({ tile_url: 'ftp://tiles.example.org/{z}/{x}/{y}.png' })).toThrow(/map\.tile_url.*http/s);
    expect(() => parse({ tile_url: 'https://me:pw@tiles.example.org/{z}/{x}/{y}.png' })).toThrow(/map\.tile_url/);
    expect(() => parse({ max_zoom: 30 })).toThrow(/map\.max_zoom/);
    expect(() => parse({ tiles: 'x' })).toThrow(/map/);
  });
});
