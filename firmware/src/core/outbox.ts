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
 * ids, oldest first, and each one's next try (about 4 variables an entry, measured: against about 12
 * for an entry kept as an object). Nothing is written per try: the back-off follows the event's age.
 * Flash wear: one write per event when it is raised and one erase when it is acked (Espruino's
 * Storage erases in place, zeroing the name in the file's header: src/jsflash.c,
 * jsfEraseFileInternal); a mark per heartbeat while events wait; one rewrite per waiting event at a
 * reboot.
 */
import { compareEventIds, isAlarmKind } from '../../../shared/protocol-core.js';
import { STORAGE } from '../hal.js';
import { OUTBOX_MAX } from './outbox-size.js';

export { OUTBOX_MAX };

/** What the outbox needs of the board: Storage and the uptime (a subset of the HAL). */
export interface OutboxStore {
  uptime(): number;
  storageRead(name: string): string | undefined;
  storageWrite(name: string, data: string): void;
  storageErase(name: string): void;
  storageList(match: RegExp): string[];
  _random(): number;
}

const BACKOFF_MIN_MS = 5000;
const BACKOFF_MAX_MS = 300000;
/** An entry's Storage file is this prefix and the event id; `ENTRY` matches them. */
const ENTRY_PREFIX = STORAGE.outbox;
const ENTRY = /^lw-e/;

/** The outbox as the core and the tests use it. */
export interface Outbox {
  /** Ids waiting for the hub's ack, oldest first (the array itself is kept: never replaced). */
  readonly _i: string[];
  /**
   * Keeps an event in flash; false when it could not be kept (full of alarms and this one is not).
   * `extra` is the event's other JSON fields as text (`"r":"1-2"`), or ''/none.
   */
  add(id: string, kind: string, extra?: string): boolean;
  /** Drops an acked event; false when the id is not waiting (a duplicate ack). */
  ack(id: string): boolean;
  /**
   * The events due to be (re)sent now, as the hub receives them (with their age, s), oldest first;
   * each is given its next try. The wait grows with the time the event has been trying: 5 s plus the
   * time since it was raised, or since everything was last made due at once (boot, the link back)
   * if that is later; at most 5 minutes, +-20% jitter. So it is retried after 5 s, then 10, 20, 40 ...
   * (doubling), and after a long wait every 5 minutes. Derived from times, not from a count of
   * tries, so RAM holds no counter per event (issue 14).
   */
  due(): string[];
  /** Everything due at once (the link came back). */
  _retryAll(): void;
  /** The earliest next try, uptime ms, or -1 when nothing waits. */
  _nextDue(): number;
  /** Writes the uptime reached, so ages carry over a reboot (only while something waits). */
  _mark(): void;
}

/**
 * Opens the outbox on the board's Storage: the entries an earlier life left are read back, oldest
 * first. A closure, not a class (issue 14: its state is locals, one letter each in the bundle).
 */
export function openOutbox(store: OutboxStore): Outbox {
  /** Ids waiting for the hub's ack, oldest first. */
  const ids: string[] = [];
  /** Next try of each, uptime ms. */
  const tries: number[] = [];
  const names = store.storageList(ENTRY);
  const now = store.uptime();
  /** When everything was last made due at once (boot, the link back), uptime ms: back-off restarts. */
  let since = now;
  const mark = parseInt(store.storageRead(STORAGE.outboxMark) || '', 10);
  let last = isNaN(mark) ? 0 : mark;
  const found: { i: string; c: number; x: string }[] = [];
  for (let j = 0; j < names.length; j++) {
    const text = store.storageRead(names[j]);
    const c = text ? parseInt(text.substr(2), 10) : NaN;
    // Unreadable (a write cut short by a reset): nothing to send.
    if (isNaN(c)) store.storageErase(names[j]);
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
    store.storageWrite(ENTRY_PREFIX + e.i, e.x.substr(0, 2) + (now - Math.max(0, last - e.c)) + e.x.substr(e.x.indexOf(',', 2)));
    ids.push(e.i);
    tries.push(now);
  }
  store.storageErase(STORAGE.outboxMark);

  const remove = function (j: number): void {
    store.storageErase(ENTRY_PREFIX + ids[j]);
    ids.splice(j, 1);
    tries.splice(j, 1);
    // Nothing waits: a mark left behind would date the events of a later boot.
    if (ids.length === 0) store.storageErase(STORAGE.outboxMark);
  };

  return {
    _i: ids,
    add: function (id, kind, extra) {
      const alarm = isAlarmKind(kind);
      if (ids.length >= OUTBOX_MAX) {
        let victim = -1;
        for (let j = 0; j < ids.length; j++) {
          const text = store.storageRead(ENTRY_PREFIX + ids[j]);
          if (!text || text.charAt(0) !== '1') {
            victim = j;
            break;
          }
        }
        if (victim < 0 && !alarm) return false;
        // Full of alarms and this is an alarm too: the oldest alarm has been waiting longest and is
        // the likeliest to be at the hub already; keep the newest evidence.
        remove(victim < 0 ? 0 : victim);
      }
      const t = store.uptime();
      store.storageWrite(ENTRY_PREFIX + id, (alarm ? '1,' : '0,') + t + ',{"i":"' + id + '","k":"' + kind + '"' + (extra ? ',' + extra : ''));
      ids.push(id);
      tries.push(t);
      return true;
    },
    ack: function (id) {
      const j = ids.indexOf(id);
      if (j < 0) return false;
      remove(j);
      return true;
    },
    due: function () {
      const t = store.uptime();
      const out: string[] = [];
      for (let j = 0; j < ids.length; j++) {
        if (tries[j] > t) continue;
        const text = store.storageRead(ENTRY_PREFIX + ids[j]);
        // Its file is gone (erased at the console): nothing to send, and nothing left to keep.
        if (!text) {
          remove(j--);
          continue;
        }
        const raised = parseInt(text.substr(2), 10);
        const age = Math.max(0, t - raised);
        const trying = t - Math.max(raised, since);
        tries[j] = t + Math.round(Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS + Math.max(0, trying)) * (0.8 + 0.4 * store._random()));
        out.push(text.substr(text.indexOf(',', 2) + 1) + ',"ag":' + Math.round(age / 1000) + '}');
      }
      return out;
    },
    _retryAll: function () {
      const t = store.uptime();
      since = t;
      for (let j = 0; j < tries.length; j++) tries[j] = t;
    },
    _nextDue: function () {
      let next = -1;
      for (let j = 0; j < tries.length; j++) if (next < 0 || tries[j] < next) next = tries[j];
      return next;
    },
    _mark: function () {
      if (ids.length > 0) store.storageWrite(STORAGE.outboxMark, String(store.uptime()));
    },
  };
}
