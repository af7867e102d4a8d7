// bench/proc-cpu.ts: which part of a bench run a process is (by its command line, as
// /proc/<pid>/cmdline gives it, NUL-separated), and the cores each part used between two snapshots.
import { describe, expect, it } from 'vitest';
import { coresByKind, cpuSnapshot, describeCores, kindOf, totalCores, type CpuSnapshot } from '../../bench/proc-cpu.js';

const cmd = (...args: string[]): string => args.join('\0') + '\0';

describe('bench process kinds', () => {
  it('names the cluster nodes, the single hub, the servers and the load processes by their command lines', () => {
    expect(kindOf(cmd('/usr/bin/node', '/w/bin/lonewatch.js', 'edge', '--config', '/tmp/c/lonewatch.toml', '--node-id', 'edge-1'))).toBe('edge');
    expect(kindOf(cmd('/usr/bin/node', '--cpu-prof', '/w/bin/lonewatch.js', 'worker', '--config', '/tmp/c.toml'))).toBe('worker');
    expect(kindOf(cmd('/usr/bin/node', '/w/bin/lonewatch.js', 'http', '--config', '/tmp/c.toml'))).toBe('http');
    expect(kindOf(cmd('/usr/bin/node', '--max-old-space-size=8192', '/w/bin/lonewatch.js', 'hub', '--config', '/tmp/h.toml'))).toBe('hub');
    expect(kindOf(cmd('/usr/sbin/nats-server', '-c', '/tmp/n1.conf'))).toBe('nats');
    expect(kindOf(cmd('/usr/lib/postgresql/15/bin/postgres', '-D', '/tmp/pg'))).toBe('postgres');
    // PostgreSQL's backends rewrite their argv into one title.
    expect(kindOf(cmd('postgres: lonewatch lonewatch 127.0.0.1(50000) idle'))).toBe('postgres');
    expect(kindOf(cmd('/usr/sbin/mosquitto', '-c', '/tmp/m.conf'))).toBe('mosquitto');
    expect(kindOf(cmd('/usr/bin/node', '--import', 'file:///w/node_modules/tsx/dist/esm/index.mjs', '/w/bench/load/load-worker.ts'))).toBe('load');
    // A word that is a role but not a node's: the test runner, an editor.
    expect(kindOf(cmd('/usr/bin/node', 'vitest', 'run', 'test/hub'))).toBe('other');
    expect(kindOf(cmd('/usr/bin/node', 'grep', 'edge', 'notes.txt'))).toBe('other');
    expect(kindOf('')).toBe('other');
  });

  it('sums the cores each kind used over the window; a process that started inside it counts from zero', () => {
    const before: CpuSnapshot = new Map([
      [10, { kind: 'edge', seconds: 100 }],
      [11, { kind: 'edge', seconds: 50 }],
      [20, { kind: 'nats', seconds: 7 }],
      [30, { kind: 'load', seconds: 1 }],
    ]);
    const after: CpuSnapshot = new Map([
      [10, { kind: 'edge', seconds: 103 }],
      [11, { kind: 'edge', seconds: 51 }],
      [20, { kind: 'nats', seconds: 9 }],
      [40, { kind: 'worker', seconds: 2 }],
    ]);
    const by = coresByKind(before, after, 10);
    expect(by).toEqual({ edge: 0.4, nats: 0.2, worker: 0.2 });
    expect(totalCores(by)).toBe(0.8);
    // For a report: largest first, what rounds to nothing left out.
    expect(describeCores({ ...by, other: 0.004, load: 1.49 })).toBe('load 1.49, edge 0.40, nats 0.20, worker 0.20');
  });

  it('reads this machine: this test process is in the snapshot with the CPU it has used', () => {
    const snap = cpuSnapshot();
    const me = snap.get(process.pid);
    expect(me).toBeDefined();
    const used = process.cpuUsage();
    // Ticks of 10 ms; the snapshot was taken just before cpuUsage().
    expect(me!.seconds).toBeLessThanOrEqual((used.user + used.system) / 1e6 + 0.02);
    expect(me!.seconds).toBeGreaterThan(0);
  });
});
