/**
 * A position in the forms people and receivers use (issue 20): a `geo:` URI (RFC 5870, with its
 * `u=` uncertainty parameter in metres, §3.4.3) that a phone opens in its own map app, an
 * OpenStreetMap link that any browser opens, the age in words, and the wire form of the alert's
 * `position` (docs/protocol.md, Alerts). Pure.
 */
import type { PositionRecord } from '../store/store-types.js';
import type { AlertMessage } from '../../shared/protocol-schemas.js';

/** The alert's `position` (shared/protocol-schemas.ts, alertSchema). */
export type AlertPosition = NonNullable<AlertMessage['position']>;

/** RFC 5870 §3: `geo:<lat>,<lon>;u=<uncertainty in metres>`. */
export function geoUri(p: Pick<PositionRecord, 'lat' | 'lon' | 'accuracyM'>): string {
  return `geo:${p.lat},${p.lon};u=${p.accuracyM}`;
}

/** OpenStreetMap with a marker at the fix, zoomed to street level. */
export function osmUrl(p: Pick<PositionRecord, 'lat' | 'lon'>): string {
  return `https://www.openstreetmap.org/?mlat=${p.lat}&mlon=${p.lon}#map=18/${p.lat}/${p.lon}`;
}

/** Whole seconds between the fix and `now` (never negative: a fix is not from the future). */
export function ageSeconds(p: Pick<PositionRecord, 'fixAt'>, now: number): number {
  return Math.max(0, Math.floor((now - p.fixAt) / 1000));
}

/** "40 s", "12 min", "3 h 5 min": how old the fix is, for a person reading it now. */
export function ageWords(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  const min = Math.round(seconds / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
}

const SOURCE_WORDS: Record<PositionRecord['source'], string> = { gnss: "the fob's GPS", phone: "the worker's phone", cell: 'a mobile-network estimate' };

/** One line for an e-mail: where, how sure, how old at `now`, from what, and the map link. */
export function positionLine(p: AlertPosition, now: number): string {
  const age = ageWords(ageSeconds({ fixAt: Date.parse(p.fixAt) }, now));
  return `${p.lat}, ${p.lon} (within ${p.accuracyM} m, fix ${age} old at ${new Date(now).toISOString().slice(11, 19)} UTC, from ${SOURCE_WORDS[p.source]}): ${osmUrl(p)}`;
}

export function alertPosition(p: PositionRecord): AlertPosition {
  return { lat: p.lat, lon: p.lon, accuracyM: p.accuracyM, fixAt: new Date(p.fixAt).toISOString(), source: p.source };
}
