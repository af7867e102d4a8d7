/**
 * A load-generator process whose fobs run the FIRMWARE: each is the emitted Puck.js bundle on a
 * simulated board (compiled once, one vm context per fob, about 0.2 MB each), relayed to the hub
 * over its own MQTT connection as the worker's phone would. Board clocks follow the real clock.
 * An SOS is a real covert gesture on the button; its latency runs from the first press to the hub's
 * ack arriving back at the fob. Speaks the bench's load protocol (bench/load/load-protocol.ts).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedPuck } from '../../firmware/sim/puck-sim.js';
import { commandTopic, deviceTopic, TOPIC } from '../../shared/protocol-core.js';
import { FOB_STORAGE } from '../../shared/vocabulary.js';
import type { LoadCommand, LoadEvent, LoadStart } from '../../bench/load/load-protocol.js';

interface Fob {
  id: string;
  puck: SimulatedPuck;
  client: MqttClient;
}

const send = (e: LoadEvent): void => {
  process.send!(e);
};

let fobs: Fob[] = [];
let connectFailures = 0;
let acked = 0;
let published = 0;
let sosSent = 0;
let pubackMs: number[] = [];
let ackMs: number[] = [];
let measureStart = Date.now();
const timers: NodeJS.Timeout[] = [];
/** Presses go out while true; 'pause' ends the window so the acks of its last presses can still arrive (load-protocol.ts). */
// Presses start with the first 'measure', not at 'ready': the pool sends 'measure' after every
// process is ready, and a press made in between was acked into the window without being counted in
// its sosSent (load-mode failed "17 acked of 15 sent", 2026-12-02), and its alarm was one more than
// the run reported.
let pressing = false;
/** event id (per device) -> press time */
const pending = new Map<string, number>();
/**
 * Press times of covert SOS gestures whose event has not been sent yet, per device, oldest first. A
 * fob sends its outbox in order, one event at a time until the hub acks it, so an SOS pressed while an
 * earlier event (a check-in, another SOS) waits for its ack goes out only after that ack: its id is
 * taken when it is first sent, and its press -> ack time includes the wait (what the worker lives).
 */
const unsent = new Map<string, number[]>();
/** Covert SOS ids already matched to a press (a retry resends the same id). */
const matched = new Set<string>();

async function start(cmd: LoadStart): Promise<void> {
  // Cached (issue 18): each worker process built the same bundle again.
  const built = await cachedFirmwareBuild('puck');
  const script = SimulatedBoard.compile(built.code, 'puck.js');
  let next = 0;
  const open = async (): Promise<void> => {
    while (next < cmd.devices.length) {
      const d = cmd.devices[next++];
      try {
        // Jittered ramp: fobs do not all arrive in the same millisecond.
        await new Promise((r) => setTimeout(r, Math.random() * 20));
        const client = await mqtt.connectAsync(cmd.url, { clientId: d.id, username: d.id, password: d.password, reconnectPeriod: 0, connectTimeout: 30_000, keepalive: 300 });
        client.on('error', () => undefined);
        const puck = new SimulatedPuck(script, { [FOB_STORAGE.identity]: JSON.stringify({ id: d.id, pw: d.password, h: '', p: 0 }) });
        const fob: Fob = { id: d.id, puck, client };
        await client.subscribeAsync(commandTopic(d.id), { qos: 1 });
        client.on('message', (_t, payload) => {
          const text = payload.toString();
          const m = /"k":"ack","i":"([^"]+)"/.exec(text);
          const t0 = m ? pending.get(`${d.id}/${m[1]}`) : undefined;
          if (m && t0 !== undefined) {
            pending.delete(`${d.id}/${m[1]}`);
            ackMs.push(performance.now() - t0);
          }
          puck.command(text);
        });
        puck.onMessage = (msg) => {
          if (msg.leaf !== TOPIC.event && msg.leaf !== TOPIC.heartbeat) return;
          published++;
          const qos = msg.leaf === TOPIC.event ? 1 : 0;
          const started = performance.now();
          const sos = msg.leaf === TOPIC.event && msg.json.includes('"k":"cov"') ? /"i":"([^"]+)"/.exec(msg.json) : null;
          if (sos && !matched.has(`${d.id}/${sos[1]}`)) {
            matched.add(`${d.id}/${sos[1]}`);
            const t0 = unsent.get(d.id)?.shift();
            if (t0 !== undefined) pending.set(`${d.id}/${sos[1]}`, t0);
          }
          client.publish(deviceTopic(d.id, msg.leaf), msg.json, { qos }, (err) => {
            if (err || qos === 0) return;
            acked++;
            const t0 = sos ? pending.get(`${d.id}/${sos[1]}`) : undefined;
            if (t0 !== undefined) pubackMs.push(performance.now() - t0);
            else if (sos) pubackMs.push(performance.now() - started);
          });
        };
        puck.boot();
        puck.link(true);
        // The hub's cfg command sets the interval for real; this sets it before the hello's answer.
        puck.command(JSON.stringify({ k: 'cfg', hb: Math.max(10, Math.round(cmd.hbIntervalMs / 1000)) }));
        fobs.push(fob);
        if (fobs.length % 500 === 0) send({ type: 'progress', connected: fobs.length });
      } catch {
        connectFailures++;
      }
    }
  };
  await Promise.all(Array.from({ length: cmd.rampConcurrency }, open));
  send({ type: 'ready', connected: fobs.length, connectFailures });
  measureStart = Date.now();

  // Board clocks follow the real clock.
  let last = performance.now();
  timers.push(
    setInterval(() => {
      const now = performance.now();
      const dt = Math.round(now - last);
      last = now;
      for (const f of fobs) f.puck.advance(dt);
    }, 1000),
  );
  const press = (pattern: string, isSos: boolean): void => {
    if (fobs.length === 0 || !pressing) return;
    const f = fobs[Math.floor(Math.random() * fobs.length)];
    const t0 = performance.now();
    if (isSos) {
      // The press time waits for the event's first send (above): now, inside gesture(), if the
      // outbox was empty; after the acks of what is ahead of it otherwise.
      const q = unsent.get(f.id) ?? [];
      unsent.set(f.id, q);
      q.push(t0);
      f.puck.gesture(pattern);
      sosSent++;
    } else f.puck.gesture(pattern);
  };
  if (cmd.sosPerSecond > 0) timers.push(setInterval(() => press('SSSS', true), 1000 / cmd.sosPerSecond));
  if (cmd.checkinsPerSecond) timers.push(setInterval(() => press('SS', false), 1000 / cmd.checkinsPerSecond));
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
      published = 0;
      sosSent = 0;
      pubackMs = [];
      ackMs = [];
      measureStart = Date.now();
      pressing = true;
      break;
    case 'pause':
      pressing = false;
      break;
    case 'report':
      send({ type: 'report', connected: fobs.length, connectFailures, acked, pubackMs, ackMs, liveMs: [], sosSent, published, elapsedMs: Date.now() - measureStart });
      break;
    case 'stop':
      for (const t of timers) clearInterval(t);
      Promise.allSettled(fobs.map((f) => f.client.endAsync(true))).then(() => process.exit(0));
      fobs = [];
      break;
  }
});
