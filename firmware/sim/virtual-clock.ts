/** The simulated board's time: timers fire only when the test or simulator advances the clock. */
interface Timer {
  id: number;
  at: number;
  every: number;
  fn: () => void;
}

export class VirtualClock {
  private t = 0;
  private nextId = 1;
  private timers: Timer[] = [];

  /** Milliseconds since this board was powered. */
  now(): number {
    return this.t;
  }

  set(fn: () => void, ms: number, every = 0): number {
    const id = this.nextId++;
    this.timers.push({ id, at: this.t + Math.max(0, ms), every, fn });
    return id;
  }

  clear(id: number): void {
    this.timers = this.timers.filter((x) => x.id !== id);
  }

  clearAll(): void {
    this.timers = [];
  }

  pending(): number {
    return this.timers.length;
  }

  /** Moves time forward, firing due timers in order (a timer may set or clear others). */
  advance(ms: number, onError: (err: unknown) => void): void {
    const target = this.t + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const x of this.timers) if (x.at <= target && (!next || x.at < next.at || (x.at === next.at && x.id < next.id))) next = x;
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      if (next.every > 0) next.at += next.every;
      else this.timers = this.timers.filter((x) => x !== next);
      try {
        next.fn();
      } catch (err) {
        onError(err);
      }
    }
    this.t = target;
  }
}
