import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { lonewatch } from '../helpers/cli-in-process.js';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  await t.stop();
});

describe('lonewatch sim --devices', () => {
  it('connects the fleet, measures SOS press -> ack, reports JSON and stops by itself', async () => {
    // The real command, in this process (test/helpers/cli-in-process.ts; test/cli.test.ts spawns the
    // CLI); its load generators are child processes of their own, as in production.
    const { code, stdout, stderr } = await lonewatch(['sim', '--devices', '60', '--duration', '3', '--heartbeat', '10', '--sos-rate', '5', '--json'], {
      env: { ...process.env, LONEWATCH_DATA_DIR: t.dataDir, LONEWATCH_MQTT_PORT: String(t.mqttPort), LONEWATCH_HTTP_PORT: String(t.hub.httpPort) },
    });
    expect(code, stderr).toBe(0);
    const r = JSON.parse(stdout);
    expect(r).toMatchObject({ devices: 60, connected: 60, connectFailures: 0 });
    expect(r.sosSent).toBeGreaterThan(5);
    expect(r.sosAcked).toBe(r.sosSent);
    expect(r.pressToAck.p99).toBeGreaterThan(0);
    expect(r.hubMemoryMb).toBeGreaterThan(10);
    // The hub really has the alarms the simulated fobs raised.
    const alarms = await t.alarms();
    // Each SOS is a covert gesture on a fob running the firmware.
    expect(alarms.filter((a) => a.kind === 'covert_sos').length).toBe(r.sosSent);
  }, 90_000);
});
