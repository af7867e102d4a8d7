/**
 * kill -9 under SOS load, again and again: fobs press SOS as fast as the hub acknowledges, the hub
 * is killed with SIGKILL after a random number of PUBACKs (mid-stream, with publishes in flight),
 * started again on the same database, and the fobs re-send what was not PUBACKed, as a fob's outbox
 * does, and now and then one that was (a retry whose PUBACK was lost). At the end every event that
 * got a PUBACK must be in the database with exactly one alarm (docs/hub.md "Nothing is lost": the
 * alarm is committed before the PUBACK; `(device_id, event_id)` makes a retry change nothing).
 */
import Database from 'better-sqlite3';
import { connectPacket, publishPacket } from './mqtt-packets.js';
import { MqttWire, PACKET } from './mqtt-wire.js';
import { eventTopic, makeEventId } from '../../shared/protocol-core.js';
import type { FuzzHub } from './fuzz-hub.js';
import type { Prng } from './prng.js';

export interface KillRestartResult {
  rounds: number;
  /** Events that got a PUBACK. */
  acked: number;
  /** Publishes sent and not yet PUBACKed when the hub was killed, summed over the kills (re-sent after the restart). */
  inFlightAtKill: number;
  /** Presses waiting in the fobs' outboxes (in flight or not sent yet) at each kill, summed over the kills. */
  waitingAtKills: number;
  /** Re-sends of events already PUBACKed (must not make a second alarm). */
  duplicatesSent: number;
  /** PUBACKed events missing from fob_events or without an alarm. */
  lost: string[];
  /** (device, event) pairs with more than one alarm. */
  duplicateAlarms: string[];
  /** Seconds each restart took until the MQTT and HTTP ports answered. */
  restartSeconds: number[];
  /** The hub exited by itself (not by our kill) at some point. */
  crashes: string[];
}

interface FobState {
  deviceId: string;
  seq: number;
  /** Pressed, not yet PUBACKed. */
  outbox: string[];
  /** The publish on the wire now, if any. */
  sending: string | null;
  acked: Set<string>;
}

export async function runKillRestart(hub: FuzzHub, deviceIds: string[], rounds: number, rng: Prng, progress: (s: string) => void): Promise<KillRestartResult> {
  const fobs: FobState[] = deviceIds.map((deviceId) => ({ deviceId, seq: 0, outbox: [], sending: null, acked: new Set() }));
  const result: KillRestartResult = { rounds, acked: 0, inFlightAtKill: 0, waitingAtKills: 0, duplicatesSent: 0, lost: [], duplicateAlarms: [], restartSeconds: [], crashes: [] };
  for (let round = 0; round <= rounds; round++) {
    const last = round === rounds;
    if (round > 0) {
      const t0 = performance.now();
      await hub.restart();
      result.restartSeconds.push(Math.round((performance.now() - t0) / 100) / 10);
    }
    // The last round kills nothing: it empties every outbox, so each event gets its PUBACK at last.
    const killAfter = last ? Infinity : rng.int(1, 40);
    let ackedThisRound = 0;
    let killing: Promise<void> | null = null;
    const kill = (): Promise<void> => {
      // Counted at the moment of the SIGKILL: what is on the wire, and what waits in the outboxes.
      result.inFlightAtKill += fobs.filter((f) => f.sending !== null).length;
      result.waitingAtKills += fobs.reduce((n, f) => n + f.outbox.length, 0);
      return hub.kill9();
    };
    const onAck = (): void => {
      ackedThisRound++;
      if (ackedThisRound >= killAfter && !killing) killing = kill();
    };
    const perFob = last ? 0 : rng.int(3, 12);
    await Promise.all(
      fobs.map(async (fob) => {
        const wire = await MqttWire.open(hub.mqttPort).catch(() => null);
        if (!wire) return;
        wire.write(connectPacket({ clientId: fob.deviceId, username: fob.deviceId, password: hub.secret }));
        const connack = await wire.waitFor((p) => p.type === PACKET.CONNACK, 10_000);
        if (!connack || connack.body[1] !== 0) return void (await wire.destroy());
        // The outbox first (un-PUBACKed events, in order), a duplicate now and then, then new presses.
        const queue = [...fob.outbox];
        if (fob.acked.size && rng.chance(0.3)) {
          queue.push(rng.pick([...fob.acked]));
          result.duplicatesSent++;
        }
        for (let i = 0; i < perFob; i++) {
          const id = makeEventId(1, ++fob.seq);
          fob.outbox.push(id);
          queue.push(id);
        }
        let packetId = 0;
        for (const id of queue) {
          if (wire.closed || killing) break;
          const pid = 1 + (packetId++ % 65535);
          fob.sending = id;
          wire.write(publishPacket(eventTopic(fob.deviceId), Buffer.from(JSON.stringify({ i: id, k: 'sos', ag: 0 })), 1, pid));
          const ack = await wire.waitFor((p) => p.type === PACKET.PUBACK && p.body.readUInt16BE(0) === pid, 30_000);
          fob.sending = null;
          if (!ack) break;
          fob.acked.add(id);
          fob.outbox = fob.outbox.filter((x) => x !== id);
          onAck();
        }
        await wire.destroy();
      }),
    );
    if (hub.crashed) result.crashes.push(`round ${round}: the hub exited by itself (${JSON.stringify(hub.crashed)})\n${hub.logTail(10)}`);
    if (!last) {
      // Every fob may have finished its presses before the target was reached: kill now.
      await (killing ?? kill());
      if (round % 10 === 9) progress(`kill -9 loop: ${round + 1}/${rounds} rounds, ${fobs.reduce((n, f) => n + f.acked.size, 0)} SOS PUBACKed`);
    }
  }
  await hub.stop();
  const db = new Database(hub.dbPath, { readonly: true });
  try {
    const hasEvent = db.prepare('SELECT 1 FROM fob_events WHERE device_id = ? AND event_id = ?');
    const alarmCount = db.prepare('SELECT COUNT(*) AS n FROM alarms WHERE device_id = ? AND source_event_id = ?');
    for (const fob of fobs) {
      for (const id of fob.acked) {
        result.acked++;
        if (!hasEvent.get(fob.deviceId, id)) result.lost.push(`${fob.deviceId} ${id}: PUBACKed, not in fob_events`);
        const n = (alarmCount.get(fob.deviceId, id) as { n: number }).n;
        if (n === 0) result.lost.push(`${fob.deviceId} ${id}: PUBACKed, no alarm`);
        if (n > 1) result.duplicateAlarms.push(`${fob.deviceId} ${id}: ${n} alarms`);
      }
      if (fob.outbox.length) result.lost.push(`${fob.deviceId}: ${fob.outbox.length} events never PUBACKed even after the last restart (${fob.outbox.slice(0, 3).join(', ')})`);
    }
    const dups = db.prepare('SELECT device_id AS d, source_event_id AS e, COUNT(*) AS n FROM alarms WHERE source_event_id IS NOT NULL GROUP BY device_id, source_event_id HAVING COUNT(*) > 1').all() as { d: string; e: string; n: number }[];
    for (const d of dups) if (!result.duplicateAlarms.some((x) => x.startsWith(`${d.d} ${d.e}:`))) result.duplicateAlarms.push(`${d.d} ${d.e}: ${d.n} alarms`);
  } finally {
    db.close();
  }
  return result;
}
