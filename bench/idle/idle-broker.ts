/**
 * The broker side of the idle-connection bench (bench/idle/idle-bench.ts): the edge's MqttBroker
 * (hub/broker/mqtt-broker.ts, the same module `lonewatch edge` and the single hub run) on loopback, in
 * a process of its own started with --expose-gc, with hooks that accept every fob (no store, no NATS:
 * what is measured is the broker's cost per connection, not the credential check's). On 'measure' it
 * collects garbage twice and answers process.memoryUsage(), so the figures are live memory only.
 */
import { MqttBroker } from '../../hub/broker/mqtt-broker.js';
import { silentLogger } from '../../hub/logger.js';
import { heapByConstructor } from './heap-breakdown.js';

export interface IdleBrokerMemory {
  type: 'memory';
  clients: number;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const broker = await MqttBroker.create(
  {
    authenticate: async (clientId) => ({ kind: 'device', deviceId: clientId }),
    onDevicePublish: async () => undefined,
    onConnected: () => undefined,
    onDisconnected: () => undefined,
    isRevoked: () => false,
  },
  silentLogger,
);
const port = await broker.listenTcp(0, '127.0.0.1');
process.send!({ type: 'listening', port });

process.on('message', (m: { type: string }) => {
  if (m.type === 'measure') {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('idle-broker needs --expose-gc');
    gc();
    gc();
    const u = process.memoryUsage();
    process.send!({ type: 'memory', clients: broker.connectedClients, rss: u.rss, heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers } satisfies IdleBrokerMemory);
  } else if (m.type === 'breakdown') {
    // Live heap by constructor (self sizes), from a heap snapshot: where the memory of a connection goes.
    process.send!({ type: 'breakdown', top: heapByConstructor() });
  } else if (m.type === 'stop') {
    void broker.close().then(() => process.exit(0));
  }
});
