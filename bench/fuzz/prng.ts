/**
 * A seeded pseudo-random generator (mulberry32), so a fuzz run is reproducible: the run prints its
 * seed, and `--seed N` replays the same inputs in the same order (issue 17). Not for secrets.
 */
export class Prng {
  private s: number;

  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }

  /** A child generator for one stream (one connection), so streams do not depend on each other's order. */
  fork(): Prng {
    return new Prng(Math.floor(this.next() * 4294967296));
  }
}

/** A seed from the clock when none is given; printed so the run can be replayed. */
export function randomSeed(): number {
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}
