// Issue 17 bug: a fob's CONNECT must not wait behind queued store writes. A write transaction is held
// open (as a long catch-up batch or a burst of heartbeat writes would hold it) and a real MQTT fob
// connects: its CONNACK must arrive while the transaction is still open, because the device lookup
// reads the last committed state on a second WAL connection instead of queueing behind the writer.
import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { ManualClock } from '../../hub/clock.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { revokeDevice } from '../../hub/admin/admin-service.js';

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);

let t: TestHub | null = null;
let client: mqtt.MqttClient | null = null;
afterEach(async () => {
  await client?.endAsync(true);
  await t?.stop();
  t = null;
  client = null;
});

describe('device authentication beside the write queue', () => {
  it('answers a fob CONNECT while a write transaction is held', async () => {
    t = await startTestHub({ clock: new ManualClock(T0) });
    const { secret } = await t.addDevice('fob-1', { workerId: 'w1' });

    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let heldOpen = true;
    // The writer's lock is taken and kept until released: everything through the lock queues behind it.
    const writing = t.hub.store.transaction(async () => {
      await held;
      heldOpen = false;
    });
    // A bound so that, without the fix, the test fails (the writer wins) instead of hanging.
    const fallback = setTimeout(release, 4000);
    try {
      const outcome = await Promise.race([
        mqtt
          .connectAsync(t.mqttUrl, { clientId: 'fob-1', username: 'fob-1', password: secret, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 8000 })
          .then((c) => {
            client = c;
            return { connected: true, writerStillOpen: heldOpen };
          }),
        writing.then(() => ({ connected: false, writerStillOpen: false })),
      ]);
      expect(outcome).toEqual({ connected: true, writerStillOpen: true });
    } finally {
      clearTimeout(fallback);
      release();
      await writing;
    }
    expect(heldOpen).toBe(false);
  }, 120_000);

  it('sees a committed revocation: the revoked fob is refused while a write transaction is held', async () => {
    t = await startTestHub({ clock: new ManualClock(T0) });
    const { secret } = await t.addDevice('fob-2', { workerId: 'w1' });
    await revokeDevice(t.hub.store, 'fob-2', T0);
    let release!: () => void;
    let heldOpen = true;
    const writing = t.hub.store.transaction(async () => {
      await new Promise<void>((r) => (release = r));
      heldOpen = false;
    });
    const fallback = setTimeout(() => release(), 4000);
    try {
      const refused = await mqtt
        .connectAsync(t.mqttUrl, { clientId: 'fob-2', username: 'fob-2', password: secret, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 8000 })
        .then(
          (c) => {
            client = c;
            return null;
          },
          (err: Error) => ({ message: err.message, writerStillOpen: heldOpen }),
        );
      // Refused (CONNACK "not authorized"), and before the writer let go.
      expect(refused).toEqual({ message: expect.stringMatching(/Not authorized|Bad username or password/i), writerStillOpen: true });
    } finally {
      clearTimeout(fallback);
      release();
      await writing;
    }
  }, 120_000);
});
