/**
 * Every event the fob raises waits here, in flash, until the hub acknowledges its id. It survives
 * reconnects, reboots and watchdog resets. It is bounded: when full, the oldest non-alarm event goes
 * first; an alarm is never dropped to make room for a non-alarm event. (Heartbeats are never queued
 * at all: a lost heartbeat is replaced by the next one.)
 *
 * Ages survive a reboot: the file keeps the uptime it was written at, so after a reboot each entry's
 * age is carried over (the time the fob was off is unknown without a clock, and is not added).
 */
export interface OutboxEntry {
  /** event id */
  i: string;
  /** event kind */
  k: string;
  /** extra fields of the event, as JSON text (or '') */
  x: string;
  /** uptime when raised, ms; rebased at boot */
  c: number;
  /** tries so far */
  n: number;
  /** next try, uptime ms */
  t: number;
  /** 1 for alarm events */
  a: number;
}

export const OUTBOX_MAX = 20;
const BACKOFF_MIN_MS = 5000;
const BACKOFF_MAX_MS = 300000;

export class Outbox {
  entries: OutboxEntry[] = [];
  _dropped = 0;

  constructor(
    private readonly _load: () => string | undefined,
    private readonly _save: (data: string) => void,
    private readonly _uptime: () => number,
  ) {
    const text = _load();
    if (!text) return;
    try {
      const saved = JSON.parse(text);
      if (saved && Array.isArray(saved.e)) {
        // Written in an earlier life: carry ages over and make everything due at once.
        const now = _uptime();
        for (let j = 0; j < saved.e.length; j++) {
          const e = saved.e[j];
          e.c = now - Math.max(0, saved.u - e.c);
          e.t = now;
        }
        this.entries = saved.e;
      }
    } catch (err) {
      this.entries = [];
    }
  }

  /** Adds an event; false when it could not be kept (full of alarms and this one is not). */
  add(e: OutboxEntry): boolean {
    if (this.entries.length >= OUTBOX_MAX) {
      let victim = -1;
      for (let j = 0; j < this.entries.length; j++) {
        if (!this.entries[j].a) {
          victim = j;
          break;
        }
      }
      if (victim < 0 && !e.a) {
        this._dropped++;
        return false;
      }
      // Full of alarms and this is an alarm too: the oldest alarm has been waiting longest and is
      // the likeliest to be at the hub already; keep the newest evidence.
      this.entries.splice(victim < 0 ? 0 : victim, 1);
      this._dropped++;
    }
    this.entries.push(e);
    this._persist();
    return true;
  }

  ack(id: string): boolean {
    for (let j = 0; j < this.entries.length; j++) {
      if (this.entries[j].i === id) {
        this.entries.splice(j, 1);
        this._persist();
        return true;
      }
    }
    return false;
  }

  /** Entries due to be (re)sent now; marks them tried and schedules the next try with jitter. */
  due(now: number, random: () => number): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (let j = 0; j < this.entries.length; j++) {
      const e = this.entries[j];
      if (e.t > now) continue;
      e.n++;
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, Math.min(10, e.n - 1)));
      e.t = now + Math.round(base * (0.8 + 0.4 * random()));
      out.push(e);
    }
    if (out.length > 0) this._persist();
    return out;
  }

  /** Everything due at once (the link came back). */
  _retryAll(now: number): void {
    for (let j = 0; j < this.entries.length; j++) this.entries[j].t = now;
  }

  _nextDue(): number {
    let next = -1;
    for (let j = 0; j < this.entries.length; j++) if (next < 0 || this.entries[j].t < next) next = this.entries[j].t;
    return next;
  }

  _persist(): void {
    this._save(JSON.stringify({ u: this._uptime(), e: this.entries }));
  }
}
