/** Durations and offsets in scenario files: "90s", "5m", "3h", "1h30m"; offsets may start with "+". */
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): number | null {
  const t = text.trim().replace(/^\+/, '');
  if (!/^(\d+(ms|s|m|h))+$/.test(t)) return null;
  let total = 0;
  for (const m of t.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT[m[2]];
  return total;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
