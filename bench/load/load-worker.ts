/**
 * One load-generator process: opens MQTT connections as fobs and drives them as told. The same
 * generator drives the Lonewatch hub and the reference broker, so their figures compare.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { LoadCommand, LoadEvent, LoadStart } from './load-protocol.js';

const send = (e: LoadEvent): void => {
  process.send!(e);
};

let clients: { client: MqttClient; id: string }[] = [];
let running = false;
let acked = 0;
let pubackMs: number[] = [];
let ackMs: number[] = [];
let liveMs: number[] = [];
const pendingLive = new Map<string, number>();
let sosSent = 0;
let published = 0;
let measureStart = Date.now();
let connectFailures = 0;
const timers: NodeJS.Timeout[] = [];
const watchers: MqttClient[] = [];
const pendingSos = new Map<string, number>();
let seq = 0;

async function start(cmd: LoadStart): Promise<void> {
  let next = 0;
  const connectOne = async (): Promise<void> => {
    while (next < cmd.devices.length) {
      const d = cmd.devices[next++];
      try {
        const client = await mqtt.connectAsync(cmd.url, {
          clientId: d.id,
          username: d.id,
          password: d.password,
          reconnectPeriod: 0,
          connectTimeout: 30_000,
          keepalive: 300,
          protocolVersion: 4,
        });
        client.on('error', () => undefined);
        if (cmd.subscribe) {
          await client.subscribeAsync(`lw/${d.id}/cmd`, { qos: 1 });
          client.on('message', (_topic, payload) => {
            const text = payload.toString();
            if (!text.includes('"ack"')) return;
            const m = /"i":"([^"]+)"/.exec(text);
            const key = m ? `${d.id}/${m[1]}` : '';
            const t0 = pendingSos.get(key);
            if (t0 !== undefined) {
              pendingSos.delete(key);
              ackMs.push(performance.now() - t0);
            }
          });
        }
        clients.push({ client, id: d.id });
        if (clients.length % 500 === 0) send({ type: 'progress', connected: clients.length });
      } catch {
        connectFailures++;
      }
    }
  };
  await Promise.all(Array.from({ length: cmd.rampConcurrency }, connectOne));
  if (cmd.alerts) {
    const watcher = await mqtt.connectAsync(cmd.url, { clientId: `${cmd.alerts.username}-${process.pid}`, username: cmd.alerts.username, password: cmd.alerts.password, reconnectPeriod: 0 });
    await watcher.subscribeAsync('lw/alerts/#', { qos: 1 });
    watcher.on('message', (_t, payload) => {
      const m = /"deviceId":"([^"]+)"/.exec(payload.toString());
      const t0 = m ? pendingLive.get(m[1]) : undefined;
      if (m && t0 !== undefined) {
        pendingLive.delete(m[1]);
        liveMs.push(performance.now() - t0);
      }
    });
    watchers.push(watcher);
  }
  send({ type: 'ready', connected: clients.length, connectFailures });
  running = true;
  measureStart = Date.now();

  if (cmd.mode === 'flood') {
    for (const { client, id } of clients) {
      const topic = `lw/${id}/hb`;
      let n = 0;
      const loop = (): void => {
        if (!running) return;
        client.publish(topic, `{"n":${n++ % 1e6},"b":80,"m":1,"u":${n}}`, { qos: 1 }, (err) => {
          if (!err) acked++;
          if (running && !err) setImmediate(loop);
        });
      };
      loop();
    }
    return;
  }
  // steady: heartbeats spread evenly over the interval, QoS 0 as fobs send them
  clients.forEach(({ client, id }, i) => {
    const phase = (i / clients.length) * cmd.hbIntervalMs;
    const topic = `lw/${id}/hb`;
    let n = 0;
    timers.push(
      setTimeout(() => {
        const beat = (): void => {
          if (running) {
            published++;
            client.publish(topic, `{"n":${n++},"b":80,"m":1,"u":${n * 30}}`, { qos: 0 });
          }
        };
        beat();
        timers.push(setInterval(beat, cmd.hbIntervalMs));
      }, phase),
    );
  });
  startCheckins(cmd);
  if (cmd.sosPerSecond > 0 && clients.length > 0) {
    const every = 1000 / cmd.sosPerSecond;
    timers.push(
      setInterval(() => {
        const { client, id } = clients[Math.floor(Math.random() * clients.length)];
        const eventId = `${(process.pid % 1296).toString(36)}-${(seq++).toString(36)}`;
        const t0 = performance.now();
        pendingSos.set(`${id}/${eventId}`, t0);
        pendingLive.set(id, t0);
        sosSent++;
        published++;
        client.publish(`lw/${id}/ev`, `{"i":"${eventId}","k":"sos","ag":0}`, { qos: 1 }, (err) => {
          if (!err) pubackMs.push(performance.now() - t0);
        });
      }, every),
    );
  }
}

function startCheckins(cmd: LoadStart): void {
  if (!cmd.checkinsPerSecond || clients.length === 0) return;
  timers.push(
    setInterval(() => {
      const { client, id } = clients[Math.floor(Math.random() * clients.length)];
      published++;
      client.publish(`lw/${id}/ev`, `{"i":"${(process.pid % 1296).toString(36)}-${(seq++).toString(36)}","k":"chk","ag":0}`, { qos: 1 });
    }, 1000 / cmd.checkinsPerSecond),
  );
}

process.on('message', (cmd: LoadCommand) => {
  switch (cmd.type) {
    case 'start':
      start(cmd).catch((err) => {
        console.error(err);
        process.exit(1);
      });
      break;
    case 'measure':
      acked = 0;
      pubackMs = [];
      ackMs = [];
      liveMs = [];
      sosSent = 0;
      published = 0;
      measureStart = Date.now();
      break;
    case 'report':
      send({ type: 'report', connected: clients.length, connectFailures, acked, pubackMs, ackMs, liveMs, sosSent, published, elapsedMs: Date.now() - measureStart });
      break;
    case 'stop':
      running = false;
      for (const t of timers) clearTimeout(t);
      Promise.allSettled([...clients.map((c) => c.client.endAsync(true)), ...watchers.map((w) => w.endAsync(true))]).then(() => process.exit(0));
      clients = [];
      break;
  }
});
