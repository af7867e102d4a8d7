import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';

const run = promisify(execFile);
const bin = new URL('../../bin/lonewatch.js', import.meta.url).pathname;
let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  await t.stop();
});

describe('lonewatch sim --devices', () => {
  it('connects the fleet, measures SOS press -> ack, reports JSON and stops by itself', async () => {
    const { stdout } = await run(process.execPath, [bin, 'sim', '--devices', '60', '--duration', '3', '--heartbeat', '10', '--sos-rate', '5', '--json'], {
      env: { ...process.env, LONEWATCH_DATA_DIR: t.dataDir, LONEWATCH_MQTT_PORT: String(t.mqttPort), LONEWATCH_HTTP_PORT: String(t.hub.httpPort) },
      timeout: 60_000,
    });
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
