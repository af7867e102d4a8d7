/** Named counters, grouped (what was tried, what came back), for the fuzz report. */
export class Tally {
  readonly groups: Record<string, Record<string, number>> = {};

  add(group: string, key: string, n = 1): void {
    const g = (this.groups[group] ??= {});
    g[key] = (g[key] ?? 0) + n;
  }

  total(group: string): number {
    return Object.values(this.groups[group] ?? {}).reduce((a, b) => a + b, 0);
  }

  get(group: string, key: string): number {
    return this.groups[group]?.[key] ?? 0;
  }
}
