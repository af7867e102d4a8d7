/**
 * Alarm kinds to Ademco Contact ID events (SIA DC-05), and the ADM-CID data block DC-09 carries:
 * `#acct|QEEE GG CCC` (qualifier, event code, group/partition, zone or user), as in the standard's
 * published example `[#12345A|1110 00 129]`.
 */
import { ALARM_KIND, ALARM_KINDS, type AlarmKind } from '../../../shared/vocabulary.js';

/**
 * Contact ID event qualifier: 1 new event or opening, 3 restore or closing, 6 a previously reported
 * condition still present (a status report). 6 is what a location follow-up carries (issue 20): it
 * restates the open alarm with a newer position instead of reporting a second panic. The DC-05 text
 * was not at hand; the three qualifiers (new event, new restore, status report) are as receiver and
 * SDK documentation list them.
 */
export type CidQualifier = 1 | 3 | 6;

/** Each alarm kind's event: the vocabulary's table (shared/vocabulary.ts ALARM_KIND[kind].contactId). */
export const CID_CODES = Object.fromEntries(ALARM_KINDS.map((kind) => [kind, ALARM_KIND[kind].contactId])) as Record<AlarmKind, { code: number; name: string }>;

/** Cancelled by the worker or the officer (a false alarm): 406 Cancel. */
export const CID_CANCEL = { code: 406, name: 'Cancel' };
/** Drill alarms never reach an ARC as real ones: 601 Manual trigger test report. */
export const CID_DRILL = { code: 601, name: 'Manual trigger test report' };

export interface CidEvent {
  qualifier: CidQualifier;
  code: number;
  /** 0-99 */
  group: number;
  /** 0-999: the worker's user number at the ARC. */
  zone: number;
}

export function cidData(account: string, ev: CidEvent): string {
  const n = (v: number, w: number, max: number): string => {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new Error(`Contact ID field out of range: ${v}`);
    return String(v).padStart(w, '0');
  };
  return `#${account}|${ev.qualifier}${n(ev.code, 3, 999)} ${n(ev.group, 2, 99)} ${n(ev.zone, 3, 999)}`;
}

const CID_RE = /^#([0-9A-Fa-f]{3,16})\|([136])(\d{3}) (\d{2}) (\d{3})$/;

export function parseCidData(data: string): (CidEvent & { account: string }) | null {
  const m = CID_RE.exec(data);
  if (!m) return null;
  return { account: m[1], qualifier: Number(m[2]) as CidQualifier, code: Number(m[3]), group: Number(m[4]), zone: Number(m[5]) };
}

/** The event an alarm sends: new when raised, restore when resolved, 406 when cancelled. */
export function cidFor(kind: AlarmKind, state: string, drill: boolean): { qualifier: CidQualifier; code: number; name: string } {
  // A location follow-up is 'position' (never a close): the open alarm's own code, restated, with
  // qualifier 6, which receivers' Contact ID tables name "previously reported condition still
  // present" (1 new event, 3 restore); the DC-05 text itself was not found (docs/notifications.md).
  if (state === 'position') return { qualifier: 6, ...(drill ? CID_DRILL : CID_CODES[kind]), name: `${(drill ? CID_DRILL : CID_CODES[kind]).name} (status: new position)` };
  if (drill) return { qualifier: state === 'resolved' || state === 'cancelled' ? 3 : 1, ...CID_DRILL };
  if (state === 'cancelled') return { qualifier: 1, ...CID_CANCEL };
  if (state === 'resolved') return { qualifier: 3, ...CID_CODES[kind] };
  return { qualifier: 1, ...CID_CODES[kind] };
}
