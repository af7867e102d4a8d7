/**
 * The upload's progress bar: redrawn in place on a terminal; on a pipe or a log file, one line per
 * chunk (so CI logs and tests see every step).
 */
export class ProgressBar {
  private lastLine = '';

  constructor(
    private readonly out: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean },
    private readonly width = 30,
  ) {}

  update(p: { done: number; total: number; chunk: number; chunks: number; resumed: number }): void {
    const frac = p.total === 0 ? 1 : p.done / p.total;
    const filled = Math.round(frac * this.width);
    const bar = '#'.repeat(filled) + '-'.repeat(this.width - filled);
    const pct = String(Math.floor(frac * 100)).padStart(3);
    const line = `  [${bar}] ${pct}%  ${p.done}/${p.total} bytes  chunk ${p.chunk}/${p.chunks}${p.resumed ? `  (${p.resumed} resumed)` : ''}`;
    if (line === this.lastLine) return;
    this.lastLine = line;
    if (this.out.isTTY) this.out.write(`\r${line}`);
    else this.out.write(`${line}\n`);
  }

  /** Ends the bar's line on a terminal. */
  end(): void {
    if (this.out.isTTY && this.lastLine) this.out.write('\n');
    this.lastLine = '';
  }
}
