/**
 * A hub for time-warped scenarios: the real Hub, in this process, in drill mode (every alarm marked
 * as a drill) with a ManualClock the simulator drives. An injected clock exists only here and in
 * tests: `lonewatch hub` always runs on the system clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hub } from '../hub/hub.js';
import { ManualClock } from '../hub/clock.js';
import { parseConfig } from '../hub/config/load-config.js';
import { silentLogger, type Logger } from '../hub/logger.js';
import { settleHub } from './hub-drive.js';

export const DRILL_CONTACTS = [
  { id: 'duty', name: 'Duty Officer', role: 'duty_officer' },
  { id: 'manager', name: 'Line Manager', role: 'line_manager' },
  { id: 'head', name: 'Head of Service', role: 'head_of_service' },
  { id: 'director', name: 'Director', role: 'director' },
];

export interface SimHub {
  hub: Hub;
  clock: ManualClock;
  /** Runs everything due now to completion (the hub's side of a time step). */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSimHub(start: number, rules: Record<string, unknown>, log: Logger = silentLogger): Promise<SimHub> {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-sim-'));
  const clock = new ManualClock(start);
  const config = parseConfig(
    {
      hub: { data_dir: dir, drill: true },
      mqtt: { host: '127.0.0.1', port: 0, heartbeat_flush_ms: 10 },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent', pretty: 'never' },
      rules,
      contacts: DRILL_CONTACTS,
    },
    'scenario',
  );
  const hub = await Hub.start({ config, clock, log });
  const settle = (): Promise<void> => settleHub(hub, 4);
  return {
    hub,
    clock,
    settle,
    async stop() {
      await hub.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
