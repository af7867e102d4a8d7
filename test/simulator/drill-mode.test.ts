import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { summarise } from '../../hub/presentation/alarm-presentation.js';
import { lonewatchOk } from '../helpers/cli-in-process.js';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  await t.stop();
});

describe('lonewatch sim --drill', () => {
  it('runs a scenario against the live hub in real time; its alarms are marked as drills', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lonewatch-drill-')), 'drill.toml');
    writeFileSync(
      file,
      [
        'name = "covert alarm drill"',
        // Real time, on a machine that may be busy with other test files: the fob's boot and connect
        // before the press at +1s, and the alarm after it, are given seconds to spare (what is tested
        // is that the drill runs on the live hub and its alarms are drills, not how fast).
        'duration = "15s"',
        '[[workers]]',
        'id = "sam"',
        'name = "Sam Carter"',
        'fob = "puck"',
        'device = "fob-sam"',
        '[[script]]',
        'at = "+1s"',
        'worker = "sam"',
        'action = "press"',
        'gesture = "covert_sos"',
        '[[expect]]',
        'alarm = "covert_sos"',
        'worker = "sam"',
        'within = "12s"',
      ].join('\n'),
    );
    // The real command, in this process (test/helpers/cli-in-process.ts; test/cli.test.ts spawns the CLI).
    const { stdout } = await lonewatchOk(['sim', '--drill', file], {
      env: { ...process.env, LONEWATCH_DATA_DIR: t.dataDir, LONEWATCH_MQTT_PORT: String(t.mqttPort), LONEWATCH_HTTP_PORT: String(t.hub.httpPort) },
    });
    expect(stdout).toContain('met     covert_sos within 12s');
    const alarms = await t.alarms();
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ kind: 'covert_sos', deviceId: 'drill-fob-sam', workerId: 'drill-sam', drill: true });
    expect(summarise(alarms[0], 'DRILL Sam Carter')).toMatch(/^DRILL: COVERT SOS/);
    // An ordinary fob's alarm on the same hub is not a drill.
    const { secret } = await t.addDevice('fob-real', { workerId: 'w-real' });
    const { connectFob } = await import('../helpers/mqtt-fob.js');
    const f = await connectFob(t.mqttUrl, 'fob-real', secret);
    await f.send({ i: '1-1', k: 'sos', ag: 0 });
    expect((await t.alarms()).find((a) => a.deviceId === 'fob-real')?.drill).toBe(false);
    await f.close();
  }, 90_000);
});
