/**
 * The cost of an idle fob connection on an edge (issue 19: at most 8 KB each). The edge's broker runs
 * in its own process with --expose-gc (idle-broker.ts); load processes (idle-load.ts, each well
 * within the 20,000 open-files limit) open `fobs` connections that log in, subscribe to their
 * command topic at QoS 1 and then stay idle. After each step the server process reaches a steady
 * state (gc() twice, a second's pause, gc() again: idle-broker.ts) and reports its memory; the figure
 * per connection is the growth from a warmed-up server (WARM_UP connections) divided by the
 * connections opened after it.
 *
 * RSS is the process's resident memory, the figure an operator sizes a machine by; the kernel's
 * socket buffers are not in it. It is split here into what V8 reserved for its heap (heapTotal; of
 * that, new space apart, because it is where garbage lands and keeps its grown size after a burst),
 * what V8 knows of outside its heap (external: Buffers), and the rest, which is Node's and libuv's
 * native state per socket and the allocator's slack. The same measurement on a bare
 * `net.createServer` holding as many idle sockets (and one whose sockets were read once) is the floor:
 * what Node itself costs per TCP socket in this process, before any MQTT.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import type { IdleBrokerMemory, IdleServerMode } from './idle-broker.js';

/** Growth per connection, in KB, of each figure the server reported (see the module comment). */
export interface PerConnection {
  rssKb: number;
  heapUsedKb: number;
  /** What V8 reserved for its heap (all spaces' pages, live objects and free room). */
  heapTotalKb: number;
  /** New space's reserved size alone (part of heapTotal). */
  newSpaceKb: number;
  /** RSS less the growth of new space: what stays when new space is back at its old size. */
  rssLessNewSpaceKb: number;
  externalKb: number;
  arrayBuffersKb: number;
  /** RSS - heapTotal - external: native memory V8 does not know of (sockets' handles, libuv, malloc slack). */
  outsideV8Kb: number;
  /** Reserved size per heap space, where it grew by more than 0.01 KB a connection. */
  spacesKb: Record<string, number>;
}

export interface ServerFigures {
  mode: IdleServerMode;
  connected: number;
  failed: number;
  /** Connections opened after the warm-up: the per-connection figures are their cost. */
  measuredConnections: number;
  perConnection: PerConnection;
  baseRssMb: number;
  rssMb: number;
}

export interface IdleResult {
  fobs: number;
  connected: number;
  failed: number;
  measuredConnections: number;
  rssPerConnKb: number;
  heapPerConnKb: number;
  externalPerConnKb: number;
  baseRssMb: number;
  rssMb: number;
  /** The broker's figures in full (rssPerConnKb and the rest above are copied from it). */
  broker: PerConnection;
  /** The bare Node floor, same fobs (absent when the run skipped it). */
  floor?: { bare: ServerFigures; bareRead: ServerFigures };
  /** 1-minute load average at the start and at the end of the run (2 cores, shared). */
  loadAverage: [number, number];
  /** V8 flags the server processes ran with, beyond --expose-gc. */
  v8Flags: string[];
  /** Live heap by constructor, growth over the empty broker per connection (with --breakdown). */
  breakdown?: { name: string; perConnBytes: number; perConnCount: number }[];
  /** Set when a figure above is not to be read as it stands. */
  note?: string;
}

const PER_LOAD_PROCESS = 10_000;
const WARM_UP = 200;

/** Lets the last writes and timers settle before a figure is taken. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 2000));

function forkTs(file: string, args: string[] = [], execArgv: string[] = []): ChildProcess {
  return fork(new URL(file, import.meta.url).pathname, args, { execArgv: ['--import', import.meta.resolve('tsx'), ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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

async function ask<T>(server: ChildProcess, type: string, answer: string): Promise<T> {
  const m = next<T>(server, answer);
  server.send({ type });
  return m;
}

type HeapRow = { name: string; count: number; bytes: number };

function diffHeaps(before: HeapRow[], after: HeapRow[], clients: number): NonNullable<IdleResult['breakdown']> {
  const b = new Map(before.map((r) => [r.name, r]));
  return after
    .map((r) => ({ name: r.name, perConnBytes: Math.round((r.bytes - (b.get(r.name)?.bytes ?? 0)) / Math.max(1, clients)), perConnCount: Math.round(((r.count - (b.get(r.name)?.count ?? 0)) / Math.max(1, clients)) * 10) / 10 }))
    .filter((r) => r.perConnBytes > 16)
    .sort((x, y) => y.perConnBytes - x.perConnBytes);
}

function perConnection(base: IdleBrokerMemory, full: IdleBrokerMemory, added: number): PerConnection {
  const kb = (d: number): number => Math.round((d / Math.max(1, added) / 1024) * 100) / 100;
  const space = (m: IdleBrokerMemory, name: string): number => m.spaces.find((s) => s.name === name)?.size ?? 0;
  const newSpace = space(full, 'new_space') - space(base, 'new_space');
  const spacesKb: Record<string, number> = {};
  for (const s of full.spaces) {
    const g = kb(s.size - space(base, s.name));
    if (Math.abs(g) > 0.01) spacesKb[s.name] = g;
  }
  return {
    rssKb: kb(full.rss - base.rss),
    heapUsedKb: kb(full.heapUsed - base.heapUsed),
    heapTotalKb: kb(full.heapTotal - base.heapTotal),
    newSpaceKb: kb(newSpace),
    rssLessNewSpaceKb: kb(full.rss - base.rss - newSpace),
    externalKb: kb(full.external - base.external),
    arrayBuffersKb: kb(full.arrayBuffers - base.arrayBuffers),
    outsideV8Kb: kb(full.rss - full.heapTotal - full.external - (base.rss - base.heapTotal - base.external)),
    spacesKb,
  };
}

interface RunOptions {
  breakdown?: boolean;
  v8Flags?: string[];
}

/** One server process of the given mode, `fobs` idle connections to it, its figures per connection. */
async function runServer(mode: IdleServerMode, fobs: number, progress: (s: string) => void, opts: RunOptions = {}): Promise<ServerFigures & { breakdown?: IdleResult['breakdown'] }> {
  const server = forkTs('./idle-broker.ts', [mode], ['--expose-gc', ...(opts.v8Flags ?? [])]);
  const loads: ChildProcess[] = [];
  try {
    const { port } = await next<{ port: number }>(server, 'listening');
    let connected = 0;
    let failed = 0;
    let first = 0;
    const raw = mode === 'broker' ? undefined : { send: mode === 'bare-read' };
    const open = async (count: number): Promise<void> => {
      for (let from = first; from < first + count; from += PER_LOAD_PROCESS) {
        const ids = Array.from({ length: Math.min(PER_LOAD_PROCESS, first + count - from) }, (_, i) => `idle${from + i}`);
        const load = forkTs('./idle-load.ts');
        loads.push(load);
        const ready = next<{ connected: number; failed: number }>(load, 'ready');
        load.send({ type: 'start', port, ids, keepaliveS: 600, ...(raw ? { raw } : {}) });
        const r = await ready;
        connected += r.connected;
        failed += r.failed;
        progress(`idle connections (${mode}): ${connected}/${fobs} open`);
      }
      first += count;
      // A bare server has no CONNACK to wait for: wait until it holds every socket the loads opened.
      for (let i = 0; i < 100 && (await ask<{ clients: number }>(server, 'count', 'count')).clients < connected; i++) await settle();
    };
    // Warm-up: the first connections also pay for what is made once per process (mqtt-packet's
    // number cache, compiled code, aedes's first topic-tree nodes); the figure is the cost of each
    // further connection, measured from here.
    await open(WARM_UP);
    await settle();
    const base = await ask<IdleBrokerMemory>(server, 'measure', 'memory');
    const baseHeap = opts.breakdown ? (await ask<{ top: HeapRow[] }>(server, 'breakdown', 'breakdown')).top : [];
    await open(fobs - WARM_UP);
    await settle();
    const full = await ask<IdleBrokerMemory>(server, 'measure', 'memory');
    const added = full.clients - base.clients;
    const breakdown = opts.breakdown ? diffHeaps(baseHeap, (await ask<{ top: HeapRow[] }>(server, 'breakdown', 'breakdown')).top, added) : undefined;
    return {
      mode,
      connected: full.clients,
      failed,
      measuredConnections: added,
      perConnection: perConnection(base, full, added),
      baseRssMb: Math.round(base.rss / 1e6),
      rssMb: Math.round(full.rss / 1e6),
      ...(breakdown ? { breakdown } : {}),
    };
  } finally {
    for (const l of loads) l.kill('SIGKILL');
    server.kill('SIGKILL');
  }
}

export async function benchIdleConnections(fobs: number, progress: (s: string) => void, opts: RunOptions & { floor?: boolean } = {}): Promise<IdleResult> {
  const loadStart = loadavg()[0];
  const b = await runServer('broker', fobs, progress, opts);
  const floor = opts.floor === false ? undefined : { bare: await runServer('bare', fobs, progress, opts), bareRead: await runServer('bare-read', fobs, progress, opts) };
  const round = (x: number): number => Math.round(x * 10) / 10;
  return {
    fobs,
    connected: b.connected,
    failed: b.failed,
    measuredConnections: b.measuredConnections,
    rssPerConnKb: b.perConnection.rssKb,
    heapPerConnKb: b.perConnection.heapUsedKb,
    externalPerConnKb: b.perConnection.externalKb,
    baseRssMb: b.baseRssMb,
    rssMb: b.rssMb,
    broker: b.perConnection,
    ...(floor ? { floor } : {}),
    loadAverage: [round(loadStart), round(loadavg()[0])],
    v8Flags: opts.v8Flags ?? [],
    ...(b.breakdown ? { breakdown: b.breakdown, note: 'with --breakdown the heap snapshot taken after the warm-up stays in RSS: read the RSS figures from a run without it' } : {}),
  };
}

// Run on its own: `node --import tsx bench/idle/idle-bench.ts [fobs] [--breakdown] [--no-floor]
// [--v8 flag,flag]` prints the figures as JSON (--v8 --max-semi-space-size=1 to see new space's part).
if (import.meta.url === `file://${process.argv[1]}`) {
  const fobs = Number(process.argv[2] ?? 5000);
  const v8 = process.argv.indexOf('--v8');
  const v8Flags = v8 > 0 ? (process.argv[v8 + 1] ?? '').split(',').filter(Boolean) : [];
  const result = await benchIdleConnections(fobs, (s) => process.stderr.write(s + '\n'), { breakdown: process.argv.includes('--breakdown'), floor: !process.argv.includes('--no-floor'), v8Flags });
  console.log(JSON.stringify(result, null, 2));
}
