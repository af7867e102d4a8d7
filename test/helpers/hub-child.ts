/**
 * A hub in a child process, for tests that kill it with SIGKILL. Its clock is a ManualClock driven
 * over IPC by the test: { advance: ms } -> { now }. Started with `fork` and tsx:
 *   argv: <dataDir> <clockStartMs> [<extra config as JSON, merged as in testConfig>]
 */
import { Hub } from '../../hub/hub.js';
import { ManualClock } from '../../hub/clock.js';
import { silentLogger } from '../../hub/logger.js';
import { testConfig } from './hub-harness.js';
import { advanceHub, settleHub } from '../../simulator/hub-drive.js';

const [dataDir, start, extra] = process.argv.slice(2);
const clock = new ManualClock(Number(start));
const hub = await Hub.start({ config: testConfig(dataDir, extra ? (JSON.parse(extra) as Record<string, unknown>) : {}), clock, log: silentLogger });

process.on('message', (msg: { advance?: number }) => {
  void (async () => {
    await advanceHub(hub, msg.advance ?? 0);
    process.send!({ now: clock.now() });
  })();
});
await settleHub(hub);
process.send!({ ready: true, mqttPort: hub.mqttPort, now: clock.now() });
