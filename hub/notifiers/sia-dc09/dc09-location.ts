/**
 * The worker's position in a DC-09 message (issue 20), in the extended data blocks that follow the
 * data block (SIA DC-09-2013, §5.5.1.6 "Extended data"; hub/notifiers/sia-dc09/dc09-frame.ts frames
 * them, encrypted with the rest): `[X<longitude>]`, `[Y<latitude>]` and `[H<time of the fix>]`.
 *
 * The standard names the blocks by their first letter; the hub writes the numbers as signed decimal
 * degrees, WGS84, with the 5 decimals the fob sends (about 1 m), and the time of the fix in the
 * message's own timestamp form (HH:MM:SS,MM-DD-YYYY, UTC) without the leading `_`. The exact digits
 * an ARC's receiver expects inside X, Y and H are for the ARC to confirm when the account is set up
 * (docs/notifications.md says so): the reference text of the standard was not at hand when this was
 * written, so the format is a documented choice, not a quotation. Pure.
 */
import { formatTimestamp } from './dc09-frame.js';

export interface Dc09Location {
  lat: number;
  lon: number;
  /** Milliseconds (UTC). */
  fixAt: number;
}

/** Degrees to at most 5 decimals, without trailing zeros: 51.50722, -0.1275. */
function degrees(n: number): string {
  return String(Math.round(n * 1e5) / 1e5);
}

export function locationBlocks(p: Dc09Location): string[] {
  return [`X${degrees(p.lon)}`, `Y${degrees(p.lat)}`, `H${formatTimestamp(p.fixAt).slice(1)}`];
}
