/**
 * hub/broker/lean-connection.ts on the real broker and a real MQTT client over loopback TCP: once a
 * fob is connected, the parser no longer holds its CONNECT (password, will) and reads through bl's
 * plain BufferList, not a stream per packet, and the connection still works both ways: packets split
 * across TCP writes are parsed, a QoS 1 publish is PUBACKed only after the hub's hook, and a QoS 1
 * command reaches the fob.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { MqttBroker } from '../../hub/broker/mqtt-broker.js';
import { silentLogger } from '../../hub/logger.js';

let broker: MqttBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

async function start(published: string[]): Promise<number> {
  broker = await MqttBroker.create(
    {
      authenticate: async (clientId, _u, password) => (password?.toString() === 'right-secret' ? { kind: 'device', deviceId: clientId } : { refused: 'wrong secret' }),
      onDevicePublish: async (deviceId, leaf, payload) => void published.push(`${deviceId}/${leaf}:${payload.toString()}`),
      onConnected: () => undefined,
      onDisconnected: () => undefined,
      isRevoked: () => false,
    },
    silentLogger,
  );
  return broker.listenTcp(0, '127.0.0.1');
}

type Parsed = { settings: Record<string, unknown>; _list: unknown };
const parserOf = (id: string): Parsed => (broker!.aedes as unknown as { clients: Record<string, { _parser: Parsed }> }).clients[id]._parser;

describe('lean connections', () => {
  it('drops the CONNECT from the parser and parses on a plain list, and the fob still publishes and gets commands', async () => {
    const published: string[] = [];
    const port = await start(published);
    const fob = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'fob-1', username: 'fob-1', password: 'right-secret', protocolVersion: 4, reconnectPeriod: 0, will: { topic: 'lw/fob-1/st', payload: Buffer.from('gone'), qos: 1, retain: false } });
    try {
      await fob.subscribeAsync('lw/fob-1/cmd', { qos: 1 });
      const parser = parserOf('fob-1');
      expect(parser.settings).toEqual({ protocolVersion: 4 });
      expect(parser._list).not.toBeInstanceOf(EventEmitter);
      await fob.publishAsync('lw/fob-1/ev', '{"i":"1-1","k":"sos","ag":0}', { qos: 1 });
      expect(published).toEqual(['fob-1/ev:{"i":"1-1","k":"sos","ag":0}']);
      const got = new Promise<string>((resolve) => fob.once('message', (_t, p) => resolve(p.toString())));
      broker!.publish('lw/fob-1/cmd', '{"k":"ack","i":"1-1"}');
      expect(await got).toBe('{"k":"ack","i":"1-1"}');
    } finally {
      await fob.endAsync(true);
    }
  });

  it('parses a PUBLISH split byte by byte across TCP writes after the CONNECT', async () => {
    const published: string[] = [];
    const port = await start(published);
    const s = connect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const acks: string[] = [];
    parser.on('packet', (p) => acks.push(p.cmd));
    s.on('data', (d) => parser.parse(d));
    await new Promise((r) => s.once('connect', r));
    s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'fob-2', clean: true, keepalive: 60, username: 'fob-2', password: Buffer.from('right-secret') }));
    await expect.poll(() => acks).toEqual(['connack']);
    const pub = mqttPacket.generate({ cmd: 'publish', topic: 'lw/fob-2/ev', payload: Buffer.from('{"i":"2-1","k":"chk","ag":0}'), qos: 1, messageId: 7, retain: false, dup: false });
    for (const byte of pub) {
      s.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    await expect.poll(() => acks).toEqual(['connack', 'puback']);
    expect(published).toEqual(['fob-2/ev:{"i":"2-1","k":"chk","ag":0}']);
    s.destroy();
  });
});
