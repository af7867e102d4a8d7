/**
 * The server side of the idle-connection bench (bench/idle/idle-bench.ts), in a process of its own
 * started with --expose-gc. argv[2] says what it holds:
 *
 * - `broker`: the edge's MqttBroker (hub/broker/mqtt-broker.ts, the same module `lonewatch edge` and
 *   the single hub run) on loopback, with hooks that accept every fob (no store, no NATS: what is
 *   measured is the broker's cost per connection, not the credential check's);
 * - `bare`: a plain `net.createServer` that keeps each socket and does nothing with it (the floor:
 *   what Node itself costs per idle TCP socket in this process);
 * - `bare-read`: the same, but every socket's bytes (the fob's CONNECT and SUBSCRIBE) are read once
 *   and dropped, to see what having read costs (Node's read path, the allocator's slack).
 *
 * On 'measure' it reaches a steady state before reading memory: gc() twice, a pause of a second with
 * nothing to do (V8 and the allocator hand back what the last burst of connections left), gc() once
 * more; then it answers process.memoryUsage() and the size of each V8 heap space
 * (v8.getHeapSpaceStatistics: new space is where short-lived garbage lands; its size is kept after a
 * burst and counts in RSS, so the bench reports it apart).
 */
import { createServer, type Socket } from 'node:net';
import { getHeapSpaceStatistics } from 'node:v8';
import { MqttBroker } from '../../hub/broker/mqtt-broker.js';
import { silentLogger } from '../../hub/logger.js';
import { heapByConstructor } from './heap-breakdown.js';
import { ACCEPT_EVERY_FOB } from '../../test/helpers/accept-every-fob.js';

export type IdleServerMode = 'broker' | 'bare' | 'bare-read';

export interface HeapSpace {
  /** V8's name: new_space, old_space, code_space, map_space, large_object_space, ... */
  name: string;
  /** Bytes V8 has reserved for the space (what its pages take). */
  size: number;
  /** Bytes of live objects in it. */
  used: number;
}

export interface IdleBrokerMemory {
  type: 'memory';
  clients: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  spaces: HeapSpace[];
}

const mode = (process.argv[2] ?? 'broker') as IdleServerMode;
if (!['broker', 'bare', 'bare-read'].includes(mode)) throw new Error(`idle-broker: unknown mode '${mode}' (broker, bare or bare-read)`);

let count: () => number;
if (mode === 'broker') {
  const broker = await MqttBroker.create(
    ACCEPT_EVERY_FOB,
    silentLogger,
  );
  count = () => broker.connectedClients;
  process.send!({ type: 'listening', port: await broker.listenTcp(0, '127.0.0.1') });
} else {
  const held = new Set<Socket>();
  // One listener function for every socket: a closure per socket would be ours, not Node's.
  const drop = (): void => undefined;
  const server = createServer((socket) => {
    held.add(socket);
    if (mode === 'bare-read') socket.on('data', drop);
  });
  count = () => held.size;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  process.send!({ type: 'listening', port: typeof addr === 'object' && addr ? addr.port : 0 });
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

process.on('message', async (m: { type: string }) => {
  if (m.type === 'measure') {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('idle-broker needs --expose-gc');
    gc();
    gc();
    await pause(1000);
    gc();
    const u = process.memoryUsage();
    const spaces = getHeapSpaceStatistics().map((s) => ({ name: s.space_name, size: s.space_size, used: s.space_used_size }));
    process.send!({ type: 'memory', clients: count(), rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal, external: u.external, arrayBuffers: u.arrayBuffers, spaces } satisfies IdleBrokerMemory);
  } else if (m.type === 'breakdown') {
    // Live heap by constructor (self sizes), from a heap snapshot: where the memory of a connection goes.
    process.send!({ type: 'breakdown', top: heapByConstructor() });
  } else if (m.type === 'count') {
    process.send!({ type: 'count', clients: count() });
  }
});
