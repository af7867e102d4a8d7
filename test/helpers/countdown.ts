/** A fault armed to happen once, after `n` more of its events pass (n = 0: at the next one). */
export class Countdown {
  constructor(private left: number) {}
  /** One more event: true for the one the fault takes, and only that one. */
  fires(): boolean {
    if (this.left < 0) return false;
    return this.left-- === 0;
  }
}
