/**
 * One load-generator process: opens MQTT connections as fobs and drives them as told. The same
 * generator drives the Lonewatch hub and the reference broker, so their figures compare.
 */
import { request, type ClientRequest } from 'node:http';
import mqtt, { type MqttClient } from 'mqtt';
import { CONNECT_ATTEMPTS, type LoadCommand, type LoadEvent, type LoadStart } from './load-protocol.js';
import { firmwareReconnectMs, LoadFob } from './load-fob.js';
import type { TimelineStepType } from '../../shared/vocabulary.js';

const send = (e: LoadEvent): void => {
  process.send!(e);
};

/** `fob`: the events it waits an application ack for (with `subscribe`: the hub's acks), kept and resent as the firmware does. */
let clients: { client: MqttClient; id: string; fob: LoadFob | null }[] = [];
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
/** Connection attempts that failed and were tried again (counted in neither figure above). */
let connectRetries = 0;
const timers: NodeJS.Timeout[] = [];
const watchers: MqttClient[] = [];
const pendingSos = new Map<string, number>();
/** press time by `${deviceId}/${eventId}` until its first PUBACK (fobs with an outbox) */
const pendingPuback = new Map<string, number>();
let seq = 0;
/** SOS presses go out while true; 'pause' ends a window so its late acks can arrive without new presses. */
let pressing = true;
// The dashboard client (GET /api/events). An `alarm` event carries only {alarmId, type}, so while
// measuring it records just when each alarm id is first announced (one regex and one map lookup per
// frame); which press that alarm came from is looked up afterwards, at 'report', the way the
// dashboard learns what an alarm is: GET /api/alarms/:id (its device and, in the timeline's
// 'raised' entry, the fob's event id). No extra request reaches the hub while the figure is taken.
let dashboard: LoadStart['dashboard'];
let sseRequest: ClientRequest | null = null;
/** press time by `${deviceId}/${eventId}`, since the last 'measure' */
let presses = new Map<string, number>();
/** performance.now() when an alarm id's first `alarm` event reached this client, since the last 'measure' */
let sseFirstSeen = new Map<string, number>();

/** Rejects if `client` closes first: a subscribe on a connection that was cut would otherwise wait for ever. */
function unlessClosed<T>(client: MqttClient, p: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onClose = (): void => reject(new Error('the connection closed'));
    client.once('close', onClose);
    p.then(
      (v) => {
        client.off('close', onClose);
        resolve(v);
      },
      (err: unknown) => {
        client.off('close', onClose);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * One fob's connection (and its command subscription). mqtt.js's connectAsync, left to allow
 * retries, settles only on CONNACK, an error or end: a socket the broker closes before its CONNACK
 * (no error on this side) left it waiting for ever with `reconnectPeriod: 0`, and with it one of
 * the ramp's slots (two fleet runs hung at 19,000 of 19,400 and 9,500 of 10,000). Not allowing
 * retries makes that close a rejection; with a failover list mqtt.js still moves along `servers`.
 */
async function connectFob(cmd: LoadStart, d: LoadStart['devices'][number]): Promise<{ client: MqttClient; id: string; fob: LoadFob | null }> {
  const servers = cmd.failover?.map((u) => {
    const { hostname, port } = new URL(u);
    return { host: hostname, port: Number(port) };
  });
  const client = await mqtt.connectAsync(
    cmd.url,
    {
      clientId: d.id,
      username: d.id,
      password: d.password,
      // With a failover list, reconnect to the next edge (mqtt.js moves along `servers`) after the
      // firmware's wait after a drop (bench/load/load-fob.ts), not at once: a real fob is not that quick.
      ...(servers ? { servers, reconnectPeriod: firmwareReconnectMs() } : { reconnectPeriod: 0 }),
      connectTimeout: 30_000,
      keepalive: 300,
      protocolVersion: 4,
    },
    !!servers,
  );
  client.on('error', () => undefined);
  let fob: LoadFob | null = null;
  if (cmd.subscribe) {
    try {
      await unlessClosed(client, client.subscribeAsync(`lw/${d.id}/cmd`, { qos: 1 }));
    } catch (err) {
      client.end(true);
      throw err;
    }
    // Press -> first PUBACK, and press -> the application ack, whichever send of it was acked.
    fob = new LoadFob(
      d.id,
      client,
      (eventId) => {
        const t0 = pendingPuback.get(`${d.id}/${eventId}`);
        if (t0 === undefined) return;
        pendingPuback.delete(`${d.id}/${eventId}`);
        pubackMs.push(performance.now() - t0);
      },
      (eventId) => {
        const key = `${d.id}/${eventId}`;
        const t0 = pendingSos.get(key);
        if (t0 !== undefined) {
          pendingSos.delete(key);
          ackMs.push(performance.now() - t0);
        }
      },
    );
  }
  return { client, id: d.id, fob };
}

async function start(cmd: LoadStart): Promise<void> {
  let next = 0;
  const connectOne = async (): Promise<void> => {
    while (next < cmd.devices.length) {
      const d = cmd.devices[next++];
      // A fob whose connection is refused or cut before it is in (the hub's limit on connections
      // not yet accepted per address, hub/broker: every bench fob comes from 127.0.0.1) tries again
      // after the firmware's wait, as the firmware does; given up after CONNECT_ATTEMPTS, and counted.
      for (let attempt = 1; ; attempt++) {
        try {
          clients.push(await connectFob(cmd, d));
          if (clients.length % 500 === 0) send({ type: 'progress', connected: clients.length });
          break;
        } catch {
          if (attempt >= CONNECT_ATTEMPTS) {
            connectFailures++;
            break;
          }
          connectRetries++;
          await new Promise((r) => setTimeout(r, firmwareReconnectMs()));
        }
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
  if (cmd.dashboard) {
    dashboard = cmd.dashboard;
    await openDashboardStream(cmd.dashboard);
  }
  send({ type: 'ready', connected: clients.length, connectFailures, connectRetries });
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
        if (!pressing) return;
        const { client, id, fob } = clients[Math.floor(Math.random() * clients.length)];
        const eventId = `${(process.pid % 1296).toString(36)}-${(seq++).toString(36)}`;
        const t0 = performance.now();
        pendingSos.set(`${id}/${eventId}`, t0);
        pendingLive.set(id, t0);
        if (dashboard) presses.set(`${id}/${eventId}`, t0);
        sosSent++;
        published++;
        if (fob) {
          pendingPuback.set(`${id}/${eventId}`, t0);
          fob.raise(eventId);
        } else
          client.publish(`lw/${id}/ev`, `{"i":"${eventId}","k":"sos","ag":0}`, { qos: 1 }, (err) => {
            if (!err) pubackMs.push(performance.now() - t0);
          });
      }, every),
    );
  }
}

/** Opens the dashboard's live stream with the bench's API token; resolves on the hub's `hello`. */
function openDashboardStream(d: NonNullable<LoadStart['dashboard']>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(`${d.httpUrl}/api/events`, { headers: { authorization: `Bearer ${d.token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET /api/events answered HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        const t = performance.now();
        buf += chunk;
        for (let end = buf.indexOf('\n\n'); end !== -1; end = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (frame.includes('event: hello')) resolve();
          else if (frame.includes('event: alarm')) {
            const m = /"alarmId":"([^"]+)"/.exec(frame);
            if (m && !sseFirstSeen.has(m[1])) sseFirstSeen.set(m[1], t);
          }
        }
      });
      res.on('end', () => reject(new Error('the hub ended the dashboard stream')));
    });
    req.on('error', reject);
    req.end();
    sseRequest = req;
  });
}

/** GET /api/alarms/:id as the dashboard client: the device and fob event id the alarm was raised from. */
async function alarmSource(d: NonNullable<LoadStart['dashboard']>, alarmId: string): Promise<string | null> {
  const res = await fetch(`${d.httpUrl}/api/alarms/${encodeURIComponent(alarmId)}`, { headers: { authorization: `Bearer ${d.token}` } });
  if (!res.ok) return null;
  const body = (await res.json()) as { alarm: { deviceId: string | null }; timeline: { type: TimelineStepType; detail?: { eventId?: string | null } }[] };
  const eventId = body.timeline.find((e) => e.type === 'raised')?.detail?.eventId;
  return body.alarm.deviceId && eventId ? `${body.alarm.deviceId}/${eventId}` : null;
}

/** Matches the alarms announced on the stream to this run's presses (after the measuring window). */
async function sseLatencies(seen: Map<string, number>, pressed: Map<string, number>): Promise<{ sseMs: number[]; sseUnmatched: number }> {
  const sseMs: number[] = [];
  let sseUnmatched = 0;
  const d = dashboard;
  if (!d) return { sseMs, sseUnmatched };
  const queue = [...seen];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [alarmId, at] = next;
        const key = await alarmSource(d, alarmId).catch(() => null);
        const t0 = key ? pressed.get(key) : undefined;
        if (t0 === undefined) sseUnmatched++;
        else sseMs.push(at - t0);
      }
    }),
  );
  return { sseMs, sseUnmatched };
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
      presses = new Map();
      sseFirstSeen = new Map();
      sosSent = 0;
      published = 0;
      measureStart = Date.now();
      // Presses from before the window are not the window's: their late acks must not count in it.
      pendingSos.clear();
      pendingPuback.clear();
      pressing = true;
      break;
    case 'pause':
      pressing = false;
      break;
    case 'report': {
      // Everything is taken now; the SSE match (HTTP lookups) happens after the window.
      const taken = { connected: clients.length, connectFailures, acked, pubackMs: [...pubackMs], ackMs: [...ackMs], liveMs: [...liveMs], sosSent, published, elapsedMs: Date.now() - measureStart };
      const seen = sseFirstSeen;
      const pressed = presses;
      sseFirstSeen = new Map();
      presses = new Map();
      sseLatencies(seen, pressed).then(
        (sse) => send({ type: 'report', ...taken, ...sse }),
        (err) => {
          console.error(err);
          send({ type: 'report', ...taken, sseMs: [], sseUnmatched: seen.size });
        },
      );
      break;
    }
    case 'stop':
      running = false;
      for (const t of timers) clearTimeout(t);
      for (const c of clients) c.fob?.stop();
      sseRequest?.destroy();
      Promise.allSettled([...clients.map((c) => c.client.endAsync(true)), ...watchers.map((w) => w.endAsync(true))]).then(() => process.exit(0));
      clients = [];
      break;
  }
});
