/**
 * The engineer's bench for the flashing tests: a real hub, a real pseudo-terminal pair, and the
 * virtual board a test plugs onto its far end; fresh for every test, torn down after it.
 */
import { afterEach, beforeEach } from 'vitest';
import { startTestHub, type TestHub } from '../hub-harness.js';
import { startPty, type Pty, type VirtualBoardProcess } from './harness.js';

export interface FlashBench {
  hub: TestHub;
  pty: Pty;
  /** The board on the pty, once the test has started one. */
  vb: VirtualBoardProcess | null;
  /** Environment for the spawned CLI: the hub's data directory. */
  env(): Record<string, string>;
}

export function useFlashBench(): FlashBench {
  const bench = {
    vb: null,
    env: () => ({ LONEWATCH_DATA_DIR: bench.hub.dataDir }),
  } as unknown as FlashBench;
  beforeEach(async () => {
    bench.hub = await startTestHub();
    bench.pty = await startPty();
    bench.vb = null;
  });
  afterEach(async () => {
    await bench.vb?.stop();
    await bench.pty.stop();
    await bench.hub.stop();
  });
  return bench;
}
