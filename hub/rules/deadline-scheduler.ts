/**
 * Holds every pending deadline in memory (a binary min-heap with lazy deletion) and keeps exactly one
 * clock timer armed, for the earliest. Arming, moving and cancelling a deadline is O(log n) with no
 * timer churn, so a million check-in deadlines cost one timer. The durable copy of each deadline is in
 * the database, written in the same transaction as the state it belongs to; this is only the alarm clock.
 */
import type { Clock, TimerHandle } from '../clock.js';

interface HeapEntry {
  at: number;
  key: string;
  version: number;
}

export class DeadlineScheduler {
  private heap: HeapEntry[] = [];
  private current = new Map<string, { at: number; version: number }>();
  private version = 0;
  private timer: TimerHandle | null = null;
  private timerAt = Infinity;
  private firing = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    /** Called for each due key, in due order. Errors are the caller's to log. */
    private readonly onDue: (key: string, dueAt: number) => void,
  ) {}

  get size(): number {
    return this.current.size;
  }

  dueAt(key: string): number | null {
    return this.current.get(key)?.at ?? null;
  }

  /** Arms, moves (same key) or, with null, cancels a deadline. */
  set(key: string, at: number | null): void {
    if (at === null) {
      this.current.delete(key);
      return;
    }
    const prev = this.current.get(key);
    if (prev && prev.at === at) return;
    const version = ++this.version;
    this.current.set(key, { at, version });
    this.push({ at, key, version });
    if (at < this.timerAt) this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  /** Fires everything due now (used at start-up and by the timer). */
  fireDue(): void {
    if (this.firing || this.stopped) return;
    this.firing = true;
    try {
      const now = this.clock.now();
      for (;;) {
        const top = this.peekLive();
        if (!top || top.at > now) break;
        this.pop();
        this.current.delete(top.key);
        this.onDue(top.key, top.at);
      }
    } finally {
      this.firing = false;
    }
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    const top = this.peekLive();
    const at = top ? top.at : Infinity;
    if (at === this.timerAt && this.timer) return;
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = at;
    if (top) {
      this.timer = this.clock.setTimer(() => {
        this.timer = null;
        this.timerAt = Infinity;
        this.fireDue();
      }, Math.max(0, at - this.clock.now()));
    }
  }

  /** Drops stale heap entries (moved or cancelled keys) from the top. */
  private peekLive(): HeapEntry | undefined {
    while (this.heap.length > 0) {
      const top = this.heap[0];
      const cur = this.current.get(top.key);
      if (cur && cur.version === top.version) return top;
      this.pop();
    }
    return undefined;
  }

  private push(e: HeapEntry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].at <= e.at) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
    // Lazy deletion leaves stale entries behind; rebuild when they outnumber live ones.
    if (h.length > 1024 && h.length > this.current.size * 4) this.compact();
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let mAt = last.at;
      if (l < h.length && h[l].at < mAt) {
        m = l;
        mAt = h[l].at;
      }
      if (r < h.length && h[r].at < mAt) m = r;
      if (m === i) break;
      h[i] = h[m];
      i = m;
    }
    h[i] = last;
  }

  private compact(): void {
    const live: HeapEntry[] = [];
    for (const [key, { at, version }] of this.current) live.push({ at, key, version });
    live.sort((a, b) => a.at - b.at);
    this.heap = live;
  }
}
