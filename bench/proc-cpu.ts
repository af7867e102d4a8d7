/**
 * What each kind of process on this machine used of the cores over a window (issue 19: "where the
 * CPU goes" at a fleet's steady state, and whether the load generator or the cluster was the bound).
 * Reads every process's user + system time from /proc/<pid>/stat (proc(5): fields 14 and 15, in
 * clock ticks of USER_HZ, 100 on Linux) and sorts them by their command line into the parts of a
 * bench run. A process that ends inside the window is lost from it (its time is not counted), one
 * that starts inside it counts from zero. Linux only; elsewhere the snapshot is empty.
 */
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_S = 100;

export type ProcessKind = 'edge' | 'worker' | 'http' | 'hub' | 'nats' | 'postgres' | 'load' | 'mosquitto' | 'other';

/** Which part of a bench run a command line (NUL-separated, as /proc/<pid>/cmdline) is. */
export function kindOf(cmdline: string): ProcessKind {
  const args = cmdline.split('\0').filter((a) => a !== '');
  const exe = (args[0] ?? '').split('/').pop() ?? '';
  if (exe === 'nats-server') return 'nats';
  if (exe === 'mosquitto') return 'mosquitto';
  // PostgreSQL's processes name themselves ("postgres: checkpointer", ...) over their argv.
  if (exe === 'postgres' || /^postgres:/.test(args[0] ?? '')) return 'postgres';
  if (args.some((a) => a.endsWith('load-worker.ts') || a.endsWith('load-worker.js'))) return 'load';
  // `<cli> edge|worker|http --config ...` (a cluster node, hub/cluster/cluster-up.ts) or `<cli> hub
  // --config ...` (the single hub, bench/servers.ts).
  const role = args.findIndex((a, i) => i > 0 && (a === 'edge' || a === 'worker' || a === 'http' || a === 'hub') && args[i + 1] === '--config');
  if (role > 0) return args[role] as 'edge' | 'worker' | 'http' | 'hub';
  return 'other';
}

export type CpuSnapshot = Map<number, { kind: ProcessKind; seconds: number }>;

/** Every process's CPU time now, by pid. */
export function cpuSnapshot(): CpuSnapshot {
  const out: CpuSnapshot = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name (field 2) is in parentheses and may hold spaces: count from after it.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(pid), { kind: kindOf(cmdline), seconds: (Number(f[11]) + Number(f[12])) / TICKS_PER_S });
    } catch {
      // Ended between the listing and the read.
    }
  }
  return out;
}

/** Cores used by each kind of process over a window (1 = one core busy throughout). */
export type CoresByKind = Partial<Record<ProcessKind, number>>;

/** Cores used by each kind between two snapshots `wallSeconds` apart. */
export function coresByKind(before: CpuSnapshot, after: CpuSnapshot, wallSeconds: number): CoresByKind {
  const by: CoresByKind = {};
  for (const [pid, x] of after) {
    const used = x.seconds - (before.get(pid)?.seconds ?? 0);
    by[x.kind] = (by[x.kind] ?? 0) + used / wallSeconds;
  }
  for (const k of Object.keys(by) as ProcessKind[]) by[k] = Math.round(by[k]! * 100) / 100;
  return by;
}

/** Starts a window now; `end()` answers the cores each kind used since (one snapshot at each end). */
export function cpuWindow(): { end(): CoresByKind } {
  const before = cpuSnapshot();
  const from = Date.now();
  return { end: () => coresByKind(before, cpuSnapshot(), (Date.now() - from) / 1000) };
}

/** The cores of every kind together. */
export function totalCores(by: CoresByKind): number {
  return Math.round(Object.values(by).reduce((a, b) => a + b, 0) * 100) / 100;
}

/** " (cores used: load 1.43, mosquitto 0.50)" for a report row, or "" when not measured. */
export function coresNote(by: CoresByKind | undefined): string {
  return by ? ` (cores used: ${describeCores(by)})` : '';
}

/** "edge 0.61, load 0.66, ..." largest first, for a report. */
export function describeCores(by: CoresByKind): string {
  return (Object.entries(by) as [ProcessKind, number][])
    .filter(([, v]) => v >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}
