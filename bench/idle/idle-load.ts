/**
 * The load side of the idle-connection bench: opens `count` MQTT connections from its own process, as
 * fobs do (firmware/src/drivers/mqtt-client.ts): CONNECT with clean session, user name, password, a
 * QoS 1 will and a keepalive, then SUBSCRIBE to the command topic at QoS 1, and then nothing. Raw
 * sockets and packets from mqtt-packet, so one process holds up to its open-file limit cheaply.
 * Answers 'ready' once every CONNACK and SUBACK has arrived (or counts the failures).
 *
 * Against the bare servers of the floor measurement (idle-broker.ts `bare`, `bare-read`) there is no
 * MQTT to answer: with `raw` set a connection is ready once it is open and, with `send`, once the
 * same CONNECT and SUBSCRIBE bytes have been written to it.
 */
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

interface Start {
  type: 'start';
  port: number;
  ids: string[];
  keepaliveS: number;
  /** No MQTT: only open the connection (and write the fob's bytes when `send`). */
  raw?: { send: boolean };
}

const sockets: Socket[] = [];

function connectPacket(id: string, keepaliveS: number): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: id,
    clean: true,
    keepalive: keepaliveS,
    username: id,
    password: Buffer.from('idle-bench'),
    will: { topic: `lw/${id}/st`, payload: Buffer.from('{"k":"gone"}'), qos: 1, retain: false },
  });
}

const subscribePacket = (id: string): Buffer => mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `lw/${id}/cmd`, qos: 1 }] });

function openRaw(port: number, id: string, keepaliveS: number, send: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('error', () => resolve(false));
    s.once('connect', () => {
      sockets.push(s);
      if (!send) return resolve(true);
      s.write(Buffer.concat([connectPacket(id, keepaliveS), subscribePacket(id)]), () => resolve(true));
    });
  });
}

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
        s.write(subscribePacket(id));
      } else if (p.cmd === 'suback') {
        s.setTimeout(0);
        sockets.push(s);
        finish(true);
      }
    });
    s.on('data', (d) => parser.parse(d));
    s.once('connect', () => {
      s.write(connectPacket(id, keepaliveS));
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
    while (next < m.ids.length) {
      const id = m.ids[next++];
      const ok = m.raw ? await openRaw(m.port, id, m.keepaliveS, m.raw.send) : await openOne(m.port, id, m.keepaliveS);
      if (!ok) failed++;
    }
  };
  await Promise.all(Array.from({ length: 100 }, lane));
  process.send!({ type: 'ready', connected: sockets.length, failed });
});
