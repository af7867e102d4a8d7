/**
 * The DC-09 location blocks (issue 20): X longitude, Y latitude as signed decimal degrees, H the fix
 * time in the timestamp's form, within the extended data lengths a receiver's DC-09 table gives (X/Y
 * 12 ASCII characters, H 21); a position that cannot be written makes no blocks (the event goes
 * without it), never a malformed one.
 */
import { describe, expect, it } from 'vitest';
import { DC09_H_MAX_CHARS, DC09_XY_MAX_CHARS, locationBlocks } from '../../hub/notifiers/sia-dc09/dc09-location.js';

const fixAt = Date.parse('2026-11-23T09:59:40Z');

describe('locationBlocks', () => {
  it('writes X, Y and H: signed degrees to 5 decimals, the fix time as HH:MM:SS,MM-DD-YYYY UTC', () => {
    expect(locationBlocks({ lat: 53.4808, lon: -2.24263, fixAt })).toEqual(['X-2.24263', 'Y53.4808', 'H09:59:40,11-23-2026']);
    expect(locationBlocks({ lat: -33.868817, lon: 151.209296, fixAt })).toEqual(['X151.2093', 'Y-33.86882', 'H09:59:40,11-23-2026']);
  });

  it('the longest coordinates fit the 12 characters, the time the 21', () => {
    const [x, y, h] = locationBlocks({ lat: -89.123456, lon: -179.123456, fixAt });
    expect(x).toBe('X-179.12346');
    expect(y).toBe('Y-89.12346');
    expect(x!.length - 1).toBeLessThanOrEqual(DC09_XY_MAX_CHARS);
    expect(y!.length - 1).toBeLessThanOrEqual(DC09_XY_MAX_CHARS);
    expect(h!.length - 1).toBeLessThanOrEqual(DC09_H_MAX_CHARS);
  });

  it('off the globe, not a number, or no time: no blocks at all', () => {
    expect(locationBlocks({ lat: 91, lon: 0, fixAt })).toEqual([]);
    expect(locationBlocks({ lat: 0, lon: -180.5, fixAt })).toEqual([]);
    expect(locationBlocks({ lat: Number.NaN, lon: 0, fixAt })).toEqual([]);
    expect(locationBlocks({ lat: 0, lon: 0, fixAt: Number.NaN })).toEqual([]);
  });
});
