/**
 * Whether a fix that arrived while an alarm is open is worth a follow-up message to the alarm
 * receiving centre or the webhook (issue 20: "positions updated after the first notice go to the ARC
 * as the standard allows"; "webhooks and alerts carry it"). Pure: the dispatcher gives it the last
 * position that channel was given and when; one rule for both, so the two never disagree on what
 * counts as "moved".
 *
 * SIA DC-09 lets a transmitter send another message for the same account, with its own sequence
 * number and its own extended data ([X..][Y..][H..], dc09-location.ts); the standard's text on
 * location updates was searched for and not found (docs/notifications.md, "What was found of the
 * standards"), so the thresholds below are this hub's choice, not a quotation.
 */

/** Moved at least this far from the last position the ARC has: worth telling (a GNSS fix is good to ~10 m; 25 m is another door or building). */
export const FOLLOW_UP_MOVED_M = 25;
/** Or the ARC's position is at least this much older than the new fix: a restatement that the worker is still there (R5: the police need a current location). */
export const FOLLOW_UP_AGE_MS = 300_000;
/** At most one follow-up per alarm in this long: the ARC link carries one message at a time (DC-09), and an operator reads each one. */
export const FOLLOW_UP_EVERY_MS = 30_000;

export interface GivenPosition {
  lat: number;
  lon: number;
  /** ms, UTC */
  fixAt: number;
}

export interface FollowUpFacts {
  /** The last position the ARC was sent for this alarm (the first notice's or a follow-up's); null: it had none. */
  given: GivenPosition | null;
  /** When that message was made (ms). */
  givenAt: number;
  fix: GivenPosition;
  now: number;
  /** Who the channel reaches, for the reason words: "the ARC" (default), "the webhook". */
  to?: string;
}

export type FollowUpDecision = { send: true; why: string; movedM: number | null } | { send: false; why: string };

const EARTH_M = 6_371_000;

/** Great-circle distance in metres (haversine; ample for tens of metres to kilometres). */
export function distanceM(a: Pick<GivenPosition, 'lat' | 'lon'>, b: Pick<GivenPosition, 'lat' | 'lon'>): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function followUpDecision(f: FollowUpFacts): FollowUpDecision {
  const to = f.to ?? 'the ARC';
  if (f.given && f.fix.fixAt <= f.given.fixAt) return { send: false, why: `not newer than the position ${to} has` };
  if (f.now - f.givenAt < FOLLOW_UP_EVERY_MS) return { send: false, why: `${to} was sent a message for this alarm less than ${FOLLOW_UP_EVERY_MS / 1000} s ago` };
  if (!f.given) return { send: true, why: `${to} had no position for this alarm`, movedM: null };
  const moved = distanceM(f.given, f.fix);
  if (moved >= FOLLOW_UP_MOVED_M) return { send: true, why: `moved ${Math.round(moved)} m`, movedM: Math.round(moved) };
  if (f.fix.fixAt - f.given.fixAt >= FOLLOW_UP_AGE_MS) return { send: true, why: `the position ${to} has was ${Math.round((f.fix.fixAt - f.given.fixAt) / 1000)} s older`, movedM: Math.round(moved) };
  return { send: false, why: `moved ${Math.round(moved)} m, under ${FOLLOW_UP_MOVED_M} m` };
}
