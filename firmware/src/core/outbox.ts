/**
 * Every event the fob raises waits here, in flash, until the hub acknowledges its id. It survives
 * reconnects, reboots and watchdog resets. It is bounded: when full, the oldest non-alarm event goes
 * first; an alarm is never dropped to make room for a non-alarm event. (Heartbeats are never queued
 * at all: a lost heartbeat is replaced by the next one.)
 *
 * Ages survive a reboot: each entry keeps the uptime it was raised at, and the fob marks the uptime it
 * has reached (STORAGE.outboxMark) at every heartbeat while something waits; at boot each entry's age
 * is carried over from the last mark or the newest entry, whichever is later (the time the fob was
 * off is unknown without a clock, and is not added).
 *
 * Memory (issue 14): the events themselves live in flash, one Storage file per event
 * (`lw-e<id>`, content `<alarm 0|1>,<raised at, uptime ms>,<the event's JSON without its age and
 * closing brace>`), written once when raised and erased when acked, and read back only to send them. RAM holds only the index: the
 * ids, oldest first, and each one's retry schedule (about 4 variables an entry, against about 12 for
 * an entry kept as an object). The retry count is not written to flash (that would be a write per
 * try): after a reboot every entry starts its back-off again.
 */
import { compareEventIds } from '../../../shared/protocol-core';
import { STORAGE } from '../hal';

/** What the outbox needs of the board: Storage and the uptime (a subset of the HAL). */
export interface OutboxStore {
  uptime(): number;
  storageRead(name: string): string | undefined;
  storageWrite(name: string, data: string): void;
  storageErase(name: string): void;
  storageList(match: RegExp): string[];
}

/**
 * A worker out of signal for an afternoon (5 h): up to 2 check-ins an hour on a high-risk visit,
 * 2 visits (start and end) an hour, an extension or two, and any alarms: about 20 (docs/fob.md,
 * "Outbox and retry rules"). Heartbeats are never queued.
 */
export const OUTBOX_MAX = 20;
const BACKOFF_MIN_MS = 5000;
const BACKOFF_MAX_MS = 300000;
/** An entry's Storage file is this prefix and the event id; `ENTRY` matches them. */
const ENTRY_PREFIX = STORAGE.outbox;
const ENTRY = /^lw-e/;

export class Outbox {
  /** Ids waiting for the hub's ack, oldest first. */
  _i: string[] = [];
  /** Next try of each, uptime ms. */
  _t: number[] = [];
  /** Tries so far of each (in this boot). */
  _n: number[] = [];

  constructor(private readonly _s: OutboxStore) {
    const names = _s.storageList(ENTRY);
    const now = _s.uptime();
    const mark = parseInt(_s.storageRead(STORAGE.outboxMark) || '', 10);
    let last = isNaN(mark) ? 0 : mark;
    const found: { i: string; c: number; x: string }[] = [];
    for (let j = 0; j < names.length; j++) {
      const text = _s.storageRead(names[j]);
      const c = text ? parseInt(text.substr(2), 10) : NaN;
      // Unreadable (a write cut short by a reset): nothing to send.
      if (isNaN(c)) _s.storageErase(names[j]);
      else {
        found.push({ i: names[j].substr(ENTRY_PREFIX.length), c: c, x: text as string });
        if (c > last) last = c;
      }
    }
    found.sort(function (a, b) {
      return compareEventIds(a.i, b.i);
    });
    for (let j = 0; j < found.length; j++) {
      const e = found[j];
      // Written in an earlier life: rebase the raise time on this boot's uptime, keeping the age
      // (one write per waiting event per reboot; reboots are rare).
      _s.storageWrite(ENTRY_PREFIX + e.i, e.x.substr(0, 2) + (now - Math.max(0, last - e.c)) + e.x.substr(e.x.indexOf(',', 2)));
      this._i.push(e.i);
      this._t.push(now);
      this._n.push(0);
    }
    _s.storageErase(STORAGE.outboxMark);
  }

  /**
   * Keeps an event in flash; false when it could not be kept (full of alarms and this one is not).
   * `extra` is the event's other JSON fields as text (`"r":"1-2"`), or ''.
   */
  add(id: string, kind: string, extra: string, alarm: boolean): boolean {
    if (this._i.length >= OUTBOX_MAX) {
      let victim = -1;
      for (let j = 0; j < this._i.length; j++) {
        const text = this._s.storageRead(ENTRY_PREFIX + this._i[j]);
        if (!text || text.charAt(0) !== '1') {
          victim = j;
          break;
        }
      }
      if (victim < 0 && !alarm) return false;
      // Full of alarms and this is an alarm too: the oldest alarm has been waiting longest and is
      // the likeliest to be at the hub already; keep the newest evidence.
      this._remove(victim < 0 ? 0 : victim);
    }
    const now = this._s.uptime();
    this._s.storageWrite(ENTRY_PREFIX + id, (alarm ? '1,' : '0,') + now + ',{"i":"' + id + '","k":"' + kind + '"' + (extra ? ',' + extra : ''));
    this._i.push(id);
    this._t.push(now);
    this._n.push(0);
    return true;
  }

  ack(id: string): boolean {
    const j = this._i.indexOf(id);
    if (j < 0) return false;
    this._remove(j);
    return true;
  }

  /** Ids due to be (re)sent now; marks them tried and schedules the next try with jitter. */
  due(now: number, random: () => number): string[] {
    const out: string[] = [];
    for (let j = 0; j < this._i.length; j++) {
      if (this._t[j] > now) continue;
      const n = ++this._n[j];
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, Math.min(10, n - 1)));
      this._t[j] = now + Math.round(base * (0.8 + 0.4 * random()));
      out.push(this._i[j]);
    }
    return out;
  }

  /** The event as the hub receives it, with its age (s) at `now`; '' when its file is gone. */
  wire(id: string, now: number): string {
    const text = this._s.storageRead(ENTRY_PREFIX + id);
    if (!text) return '';
    const json = text.indexOf(',', 2);
    return text.substr(json + 1) + ',"ag":' + Math.max(0, Math.round((now - parseInt(text.substr(2), 10)) / 1000)) + '}';
  }

  /** Everything due at once (the link came back). */
  _retryAll(now: number): void {
    for (let j = 0; j < this._t.length; j++) this._t[j] = now;
  }

  _nextDue(): number {
    let next = -1;
    for (let j = 0; j < this._t.length; j++) if (next < 0 || this._t[j] < next) next = this._t[j];
    return next;
  }

  /** Writes the uptime reached, so ages carry over a reboot (only while something waits). */
  _mark(): void {
    if (this._i.length > 0) this._s.storageWrite(STORAGE.outboxMark, String(this._s.uptime()));
  }

  _remove(j: number): void {
    this._s.storageErase(ENTRY_PREFIX + this._i[j]);
    this._i.splice(j, 1);
    this._t.splice(j, 1);
    this._n.splice(j, 1);
    // Nothing waits: a mark left behind would date the events of a later boot.
    if (this._i.length === 0) this._s.storageErase(STORAGE.outboxMark);
  }
}
