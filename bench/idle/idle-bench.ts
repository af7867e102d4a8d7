/**
 * The cost of an idle fob connection on an edge (issue 19: at most 8 KB each). The edge's broker runs
 * in its own process with --expose-gc (idle-broker.ts); load processes (idle-load.ts, each well
 * within the 20,000 open-files limit) open `fobs` connections that log in, subscribe to their
 * command topic at QoS 1 and then stay idle. After each step the broker collects garbage twice and
 * reports its memory; the figure per connection is the growth from a warmed-up broker (WARM_UP connections)
 * divided by the connections opened after it (RSS includes the kernel-side socket buffers only as far as the process maps
 * them: it is the process's resident memory, the figure an operator sizes a machine by).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { IdleBrokerMemory } from './idle-broker.js';

export interface IdleResult {
  fobs: number;
  connected: number;
  failed: number;
  /** Connections opened after the warm-up: the per-connection figures are their cost. */
  measuredConnections: number;
  rssPerConnKb: number;
  heapPerConnKb: number;
  externalPerConnKb: number;
  baseRssMb: number;
  rssMb: number;
  /** Live heap by constructor, growth over the empty broker per connection (with --breakdown). */
  breakdown?: { name: string; perConnBytes: number; perConnCount: number }[];
}

const PER_LOAD_PROCESS = 10_000;
const WARM_UP = 200;

/** Lets the last writes and timers settle before a figure is taken. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 2000));

function forkTs(file: string, execArgv: string[] = []): ChildProcess {
  return fork(new URL(file, import.meta.url).pathname, [], { execArgv: ['--import', import.meta.resolve('tsx'), ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (m: { type: string }): void => {
      if (m.type !== type) return;
      child.off('message', on);
      child.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null): void => reject(new Error(`a bench process exited (${code}) while waiting for '${type}'`));
    child.on('message', on);
    child.once('exit', onExit);
  });
}

async function measure(broker: ChildProcess): Promise<IdleBrokerMemory> {
  const m = next<IdleBrokerMemory>(broker, 'memory');
  broker.send({ type: 'measure' });
  return m;
}

type HeapRow = { name: string; count: number; bytes: number };

async function heap(broker: ChildProcess): Promise<HeapRow[]> {
  const m = next<{ top: HeapRow[] }>(broker, 'breakdown');
  broker.send({ type: 'breakdown' });
  return (await m).top;
}

function diffHeaps(before: HeapRow[], after: HeapRow[], clients: number): NonNullable<IdleResult['breakdown']> {
  const b = new Map(before.map((r) => [r.name, r]));
  return after
    .map((r) => ({ name: r.name, perConnBytes: Math.round((r.bytes - (b.get(r.name)?.bytes ?? 0)) / Math.max(1, clients)), perConnCount: Math.round(((r.count - (b.get(r.name)?.count ?? 0)) / Math.max(1, clients)) * 10) / 10 }))
    .filter((r) => r.perConnBytes > 16)
    .sort((x, y) => y.perConnBytes - x.perConnBytes);
}

export async function benchIdleConnections(fobs: number, progress: (s: string) => void, opts: { breakdown?: boolean } = {}): Promise<IdleResult> {
  const broker = forkTs('./idle-broker.ts', ['--expose-gc']);
  const loads: ChildProcess[] = [];
  try {
    const { port } = await next<{ port: number }>(broker, 'listening');
    let connected = 0;
    let failed = 0;
    let first = 0;
    const open = async (count: number): Promise<void> => {
      for (let from = first; from < first + count; from += PER_LOAD_PROCESS) {
        const ids = Array.from({ length: Math.min(PER_LOAD_PROCESS, first + count - from) }, (_, i) => `idle${from + i}`);
        const load = forkTs('./idle-load.ts');
        loads.push(load);
        const ready = next<{ connected: number; failed: number }>(load, 'ready');
        load.send({ type: 'start', port, ids, keepaliveS: 600 });
        const r = await ready;
        connected += r.connected;
        failed += r.failed;
        progress(`idle connections: ${connected}/${fobs} open`);
      }
      first += count;
    };
    // Warm-up: the first connections also pay for what is made once per process (mqtt-packet's
    // number cache, compiled code, aedes's first topic-tree nodes); the figure is the cost of each
    // further connection, measured from here.
    await open(WARM_UP);
    await settle();
    const base = await measure(broker);
    const baseHeap = opts.breakdown ? await heap(broker) : [];
    await open(fobs - WARM_UP);
    await settle();
    const full = await measure(broker);
    const added = full.clients - base.clients;
    const breakdown = opts.breakdown ? diffHeaps(baseHeap, await heap(broker), added) : undefined;
    const per = (a: number, b: number): number => Math.round(((a - b) / Math.max(1, added) / 1024) * 100) / 100;
    return {
      fobs,
      connected: full.clients,
      failed,
      measuredConnections: added,
      rssPerConnKb: per(full.rss, base.rss),
      heapPerConnKb: per(full.heapUsed, base.heapUsed),
      externalPerConnKb: per(full.external, base.external),
      baseRssMb: Math.round(base.rss / 1e6),
      rssMb: Math.round(full.rss / 1e6),
      ...(breakdown ? { breakdown } : {}),
    };
  } finally {
    for (const l of loads) l.kill('SIGKILL');
    broker.kill('SIGKILL');
  }
}

// Run on its own: `node --import tsx bench/idle/idle-bench.ts [fobs]` prints the figures as JSON.
if (import.meta.url === `file://${process.argv[1]}`) {
  const fobs = Number(process.argv[2] ?? 5000);
  const breakdown = process.argv.includes('--breakdown');
  console.log(JSON.stringify(await benchIdleConnections(fobs, (s) => process.stderr.write(s + '\n'), { breakdown }), null, 2));
}
