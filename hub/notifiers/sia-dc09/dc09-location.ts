/**
 * The worker's position in a DC-09 message (issue 20), in the extended data blocks that follow the
 * message data (hub/notifiers/sia-dc09/dc09-frame.ts frames them, encrypted with the rest):
 * `[X<longitude>]`, `[Y<latitude>]` and `[H<time>]`.
 *
 * What was found of the standard (docs/notifications.md, "Position", lists the searches):
 * - The ANSI/SIA DC-09-2013 text itself was reachable only as page openings and its table of
 *   contents: annex C there lists account identification as §5.5.1.6 and message data as §5.5.1.7,
 *   and the receiver's timestamp window is §5.5.1.9 (dc09-notifier.ts); the extended data fields
 *   come after the message data. The section that defines X, Y and H was not in any excerpt.
 * - A receiver's table of the DC-09 extended data identifiers (pysiaalarm, data/xdata.json):
 *   X "Longitude: location of event, longitude", Y "Latitude", Z "Altitude", each at most
 *   **12 ASCII characters**; H "Time of occurrence: time that event occurred (may be different
 *   than message time stamp)", at most **21 characters**. Those lengths are the rule below.
 * Neither says how the degrees are written (decimal or degrees-minutes, sign or N/S/E/W letter): the
 * hub writes signed decimal degrees, WGS84, with the 5 decimals the fob sends (about 1 m), and H in
 * the message timestamp's own form (HH:MM:SS,MM-DD-YYYY, UTC) without the leading `_`: for a message
 * with a position, the time of the fix (for a location follow-up, the fix is the event). A documented
 * choice, to agree with the ARC when the account is set up. Pure.
 */
import { formatTimestamp } from './dc09-frame.js';

export interface Dc09Location {
  lat: number;
  lon: number;
  /** Milliseconds (UTC). */
  fixAt: number;
}

/** pysiaalarm's DC-09 extended data table: X and Y hold at most 12 ASCII characters, H 21. */
export const DC09_XY_MAX_CHARS = 12;
export const DC09_H_MAX_CHARS = 21;

/** Degrees to at most 5 decimals, without trailing zeros: 51.50722, -0.1275. */
function degrees(n: number): string {
  return String(Math.round(n * 1e5) / 1e5);
}

/**
 * The three blocks, or none when the position cannot be written within the limits (not a number,
 * off the globe, a bad time): an alarm is never held back, nor sent a malformed block, for its
 * position; the caller logs that it went without one.
 */
export function locationBlocks(p: Dc09Location): string[] {
  if (!Number.isFinite(p.lat) || !Number.isFinite(p.lon) || Math.abs(p.lat) > 90 || Math.abs(p.lon) > 180 || !Number.isFinite(p.fixAt)) return [];
  const x = degrees(p.lon);
  const y = degrees(p.lat);
  const h = formatTimestamp(p.fixAt).slice(1);
  if (x.length > DC09_XY_MAX_CHARS || y.length > DC09_XY_MAX_CHARS || h.length > DC09_H_MAX_CHARS) return [];
  return [`X${x}`, `Y${y}`, `H${h}`];
}
