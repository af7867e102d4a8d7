/**
 * A hub in a child process, for tests that kill it with SIGKILL. Its clock is a ManualClock driven
 * over IPC by the test: { advance: ms } -> { now }. Started with `fork` and tsx:
 *   argv: <dataDir> <clockStartMs>
 */
import { Hub } from '../../hub/hub.js';
import { ManualClock } from '../../hub/clock.js';
import { silentLogger } from '../../hub/logger.js';
import { testConfig } from './hub-harness.js';

const [dataDir, start] = process.argv.slice(2);
const clock = new ManualClock(Number(start));
const hub = await Hub.start({ config: testConfig(dataDir), clock, log: silentLogger });

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await hub.ingest.flush();
    await hub.runtime.idle();
    await new Promise((r) => setImmediate(r));
    clock.advance(0);
    await hub.runtime.idle();
  }
}

process.on('message', (msg: { advance?: number; settle?: boolean }) => {
  void (async () => {
    const target = clock.now() + (msg.advance ?? 0);
    await settle();
    for (let next = clock.nextDueAt(); next !== null && next <= target; next = clock.nextDueAt()) {
      clock.advanceTo(next);
      await settle();
    }
    clock.advanceTo(target);
    await settle();
    process.send!({ now: clock.now() });
  })();
});
await settle();
process.send!({ ready: true, mqttPort: hub.mqttPort, now: clock.now() });
