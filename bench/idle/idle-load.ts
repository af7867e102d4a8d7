/**
 * The load side of the idle-connection bench: opens `count` MQTT connections from its own process, as
 * fobs do (firmware/src/drivers/mqtt-client.ts): CONNECT with clean session, user name, password, a
 * QoS 1 will and a keepalive, then SUBSCRIBE to the command topic at QoS 1, and then nothing. Raw
 * sockets and packets from mqtt-packet, so one process holds up to its open-file limit cheaply.
 * Answers 'ready' once every CONNACK and SUBACK has arrived (or counts the failures).
 */
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

interface Start {
  type: 'start';
  port: number;
  ids: string[];
  keepaliveS: number;
}

const sockets: Socket[] = [];

function openOne(port: number, id: string, keepaliveS: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      if (!ok) s.destroy();
      resolve(ok);
    };
    s.setTimeout(60_000, () => finish(false));
    s.once('error', () => finish(false));
    s.once('close', () => finish(false));
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') {
        if (p.returnCode !== 0) return finish(false);
        s.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `lw/${id}/cmd`, qos: 1 }] }));
      } else if (p.cmd === 'suback') {
        s.setTimeout(0);
        sockets.push(s);
        finish(true);
      }
    });
    s.on('data', (d) => parser.parse(d));
    s.once('connect', () => {
      s.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: id,
          clean: true,
          keepalive: keepaliveS,
          username: id,
          password: Buffer.from('idle-bench'),
          will: { topic: `lw/${id}/st`, payload: Buffer.from('{"k":"gone"}'), qos: 1, retain: false },
        }),
      );
    });
  });
}

process.on('message', async (m: Start | { type: 'stop' }) => {
  if (m.type === 'stop') {
    for (const s of sockets) s.destroy();
    process.exit(0);
  }
  let next = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (next < m.ids.length) if (!(await openOne(m.port, m.ids[next++], m.keepaliveS))) failed++;
  };
  await Promise.all(Array.from({ length: 100 }, lane));
  process.send!({ type: 'ready', connected: sockets.length, failed });
});
