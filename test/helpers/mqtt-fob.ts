/**
 * A bare MQTT client that behaves like a fob on the wire (client id = username = device id), for
 * tests of the hub. The firmware's own tests run the real fob code; this one lets hub tests say
 * exactly what goes over the wire.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { commandTopic, eventTopic, heartbeatTopic, statusTopic, type FobEvent } from '../../shared/protocol-core.js';
import type { CommandMessage } from '../../shared/protocol-schemas.js';

export interface TestFob {
  client: MqttClient;
  deviceId: string;
  commands: CommandMessage[];
  /** Publishes an event at QoS 1 and resolves at the PUBACK. */
  send(ev: FobEvent): Promise<void>;
  heartbeat(b?: number, m?: 0 | 1): Promise<void>;
  /** Resolves with the first command matching pred (already received or future). */
  waitFor(pred: (c: CommandMessage) => boolean, timeoutMs?: number): Promise<CommandMessage>;
  close(): Promise<void>;
}

/** TLS options for mqtts:// and wss:// (PEM text): the CA to trust, and a client certificate. */
export interface FobTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export async function connectFob(url: string, deviceId: string, secret: string, opts: { subscribe?: boolean; tls?: FobTls } = {}): Promise<TestFob> {
  const client = await mqtt.connectAsync(url, {
    ...(opts.tls ? { ...opts.tls, rejectUnauthorized: true } : {}),
    clientId: deviceId,
    username: deviceId,
    password: secret,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    will: { topic: statusTopic(deviceId), payload: Buffer.from('0'), qos: 1, retain: false },
  });
  const commands: CommandMessage[] = [];
  const waiters: { pred: (c: CommandMessage) => boolean; resolve: (c: CommandMessage) => void }[] = [];
  client.on('message', (_topic, payload) => {
    const cmd = JSON.parse(payload.toString()) as CommandMessage;
    commands.push(cmd);
    for (const w of [...waiters]) {
      if (w.pred(cmd)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(cmd);
      }
    }
  });
  if (opts.subscribe !== false) await client.subscribeAsync(commandTopic(deviceId), { qos: 1 });
  return {
    client,
    deviceId,
    commands,
    async send(ev) {
      await client.publishAsync(eventTopic(deviceId), JSON.stringify(ev), { qos: 1 });
    },
    async heartbeat(b = 90, m = 1) {
      // QoS 1 so the test knows the hub has it (fobs send heartbeats at QoS 0).
      await client.publishAsync(heartbeatTopic(deviceId), JSON.stringify({ n: 1, b, m, u: 10 }), { qos: 1 });
    },
    waitFor(pred, timeoutMs = 5000) {
      const found = commands.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching command within ${timeoutMs} ms; got ${JSON.stringify(commands)}`)), timeoutMs);
        waiters.push({ pred, resolve: (c) => (clearTimeout(timer), resolve(c)) });
      });
    },
    async close() {
      await client.endAsync(true);
    },
  };
}
