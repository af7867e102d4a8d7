/**
 * Log lines about rejected input, limited per source. Every rejected message used to write a line,
 * so one fob (or one address) sending garbage could write megabytes a second to the disk the
 * database lives on (issue 17, item 5). Now each source gets `perWindow` lines per window; the rest
 * are counted and reported in one line when the window closes: "1,234 more like this from fob-001
 * in the last 10 s". Nothing is hidden, only summarised.
 *
 * The window runs on an injected clock (tests move a ManualClock instead of sleeping).
 */
import type { Clock, TimerHandle } from './clock.js';
import type { Logger } from './logger.js';

export interface RateLimitOptions {
  /** Lines written per source per window before the rest are only counted. */
  perWindow?: number;
  windowMs?: number;
  /** Most sources tracked at once; further sources share one bucket (so the table stays bounded). */
  maxSources?: number;
}

interface Bucket {
  windowStart: number;
  written: number;
  suppressed: number;
  level: 'warn' | 'info';
  fields: Record<string, unknown>;
  timer: TimerHandle | null;
}

export const OTHER_SOURCES = 'other sources';

export class RateLimitedLog {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perWindow: number;
  private readonly windowMs: number;
  private readonly maxSources: number;
  private lastSweep = -Infinity;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    opts: RateLimitOptions = {},
  ) {
    this.perWindow = opts.perWindow ?? 5;
    this.windowMs = opts.windowMs ?? 10_000;
    // 1,000 sources of 5 lines per 10 s is at most ~500 lines a second, whoever sends.
    this.maxSources = opts.maxSources ?? 1000;
  }

  warn(source: string, fields: Record<string, unknown>, msg: string): void {
    this.write('warn', source, fields, msg);
  }

  info(source: string, fields: Record<string, unknown>, msg: string): void {
    this.write('info', source, fields, msg);
  }

  /** Sources with a window open (for tests and /metrics). */
  get trackedSources(): number {
    return this.buckets.size;
  }

  /** Writes the pending summaries now (at stop) and forgets every window. */
  flush(): void {
    for (const [source, b] of this.buckets) this.close(source, b);
  }

  private write(level: 'warn' | 'info', source: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.clock.now();
    if (!this.buckets.has(source) && this.buckets.size >= this.maxSources) this.sweep(now);
    const key = this.buckets.has(source) || this.buckets.size < this.maxSources ? source : OTHER_SOURCES;
    let b = this.buckets.get(key);
    if (b && now - b.windowStart >= this.windowMs) {
      this.close(key, b);
      b = undefined;
    }
    if (!b) {
      b = { windowStart: now, written: 0, suppressed: 0, level, fields: {}, timer: null };
      this.buckets.set(key, b);
    }
    if (b.written < this.perWindow) {
      b.written++;
      this.log[level](fields, msg);
      return;
    }
    b.suppressed++;
    b.level = level === 'warn' ? 'warn' : b.level;
    // The summary keeps the source's identifying fields (deviceId, address), not the last message's.
    if (b.suppressed === 1) {
      b.fields = pickIdentity(fields);
      b.timer = this.clock.setTimer(() => {
        b.timer = null;
        if (this.buckets.get(key) === b) this.close(key, b);
      }, this.windowMs - (now - b.windowStart));
    }
  }

  /** Closes every window that has ended (the table is full); at most once per window. */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.windowMs) return;
    this.lastSweep = now;
    for (const [key, b] of this.buckets) if (now - b.windowStart >= this.windowMs) this.close(key, b);
  }

  private close(key: string, b: Bucket): void {
    b.timer?.cancel();
    b.timer = null;
    this.buckets.delete(key);
    if (b.suppressed === 0) return;
    const seconds = Math.round(this.windowMs / 1000);
    this.log[b.level]({ ...b.fields, suppressed: b.suppressed }, `${b.suppressed.toLocaleString('en-GB')} more like this from ${key} in the last ${seconds} s`);
  }
}

function pickIdentity(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['deviceId', 'clientId', 'address', 'username']) if (fields[k] !== undefined) out[k] = fields[k];
  return out;
}
