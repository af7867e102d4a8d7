/**
 * Flood the hub at full speed: many fobs publishing QoS 1 heartbeats and SOS events without waiting,
 * one client that never reads. The hub must stay up, and every alarm event it PUBACKed must be in
 * the database. (Throughput figures belong to `npm run bench`; this checks behaviour only.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { eventTopic, heartbeatTopic, makeEventId } from '../../shared/protocol-core.js';

const FOBS = 100;
const HEARTBEATS = 160;
const SOS_PER_FOB = 4;

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ config: { mqtt: { heartbeat_buffer_max: 500 } } });
});
afterAll(async () => {
  await t.stop();
});

describe('flood', () => {
  it('R19: stays up under a full-speed flood and loses no acknowledged alarm event', async () => {
    const creds: { deviceId: string; secret: string }[] = [];
    for (let i = 0; i < FOBS; i++) creds.push(await t.addDevice(`flood-${i}`, { workerId: `fw-${i}` }));
    const clients: MqttClient[] = await Promise.all(
      creds.map((c) => mqtt.connectAsync(t.mqttUrl, { clientId: c.deviceId, username: c.deviceId, password: c.secret, reconnectPeriod: 0 })),
    );
    // A client that subscribes to its commands and then never reads its socket again.
    await clients[0].subscribeAsync('lw/flood-0/cmd', { qos: 1 });
    (clients[0].stream as unknown as { pause(): void }).pause();

    const acked: { deviceId: string; eventId: string }[] = [];
    const sends: Promise<unknown>[] = [];
    const stalledSends: Promise<unknown>[] = [];
    clients.forEach((client, i) => {
      const out = i === 0 ? stalledSends : sends;
      const deviceId = creds[i].deviceId;
      for (let n = 0; n < HEARTBEATS; n++) {
        out.push(client.publishAsync(heartbeatTopic(deviceId), JSON.stringify({ n, b: 80, m: 1, u: n }), { qos: 1 }));
        if (n % (HEARTBEATS / SOS_PER_FOB) === 0) {
          const eventId = makeEventId(1, n);
          out.push(
            client.publishAsync(eventTopic(deviceId), JSON.stringify({ i: eventId, k: 'sos', ag: 0 }), { qos: 1 }).then(() => acked.push({ deviceId, eventId })),
          );
        }
      }
    });
    // The stalled client's own publishes end when its connection does.
    for (const p of stalledSends) p.catch(() => undefined);
    // Everyone but the stalled client gets every PUBACK: its silence holds nobody up.
    const results = await Promise.allSettled(sends);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(acked.filter((a) => a.deviceId !== 'flood-0')).toHaveLength((FOBS - 1) * SOS_PER_FOB);
    await t.settle();

    // Every PUBACKed alarm event is durable: in the event table and raised as an alarm.
    const alarms = await t.alarms();
    const alarmKeys = new Set(alarms.map((a) => `${a.deviceId}/${a.sourceEventId}`));
    for (const a of acked) expect(alarmKeys.has(`${a.deviceId}/${a.eventId}`), `${a.deviceId}/${a.eventId}`).toBe(true);

    // The hub is still up and serving.
    const health = await fetch(`${t.httpUrl}/healthz`).then((r) => r.json());
    expect(health).toMatchObject({ ok: true });
    expect(t.hub.ingest.counters.heartbeats).toBeGreaterThan((FOBS - 1) * HEARTBEATS * 0.9);
    await Promise.allSettled(clients.map((c) => c.endAsync(true)));
    await Promise.allSettled(stalledSends);
  }, 120_000);
});
