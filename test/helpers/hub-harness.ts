/**
 * Starts a real hub for a test: real aedes on an ephemeral loopback port, a real SQLite file in a
 * temporary folder, and (optionally) a ManualClock the test drives instead of sleeping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hub } from '../../hub/hub.js';
import { ManualClock, type Clock } from '../../hub/clock.js';
import { parseConfig } from '../../hub/config/load-config.js';
import { silentLogger, createLogger, type Logger } from '../../hub/logger.js';
import { addDevice, addVisit, type VisitInput } from '../../hub/admin/admin-service.js';
import type { EmergencyContact } from '../../hub/admin/emergency-contacts.js';
import type { AlarmRecord, StoredTimelineEntry } from '../../hub/store/store-types.js';
import type { HubOptions } from '../../hub/hub.js';
import { advanceHub, settleHub } from '../../simulator/hub-drive.js';

export interface TestHubOptions {
  manualClock?: boolean;
  clock?: Clock;
  /** Raw config (as from TOML) merged under the test defaults. */
  config?: Record<string, unknown>;
  dataDir?: string;
  dispatch?: HubOptions['dispatch'];
  registerHttp?: HubOptions['registerHttp'];
  /** A logger of the test's own (to assert log lines); else silent or LONEWATCH_TEST_LOG. */
  log?: Logger;
}

export interface TestHub {
  hub: Hub;
  clock: Clock;
  manualClock: ManualClock | null;
  dataDir: string;
  mqttPort: number;
  mqttUrl: string;
  /** mqtts://127.0.0.1:<port> when [tls] is configured, else ''. */
  mqttsUrl: string;
  /** https:// when the hub serves HTTPS itself. */
  httpUrl: string;
  addDevice(deviceId: string, opts?: { workerId?: string }): Promise<{ deviceId: string; secret: string }>;
  addWorker(id: string, extra?: Record<string, unknown>): Promise<void>;
  addVisit(input: Partial<VisitInput> & { workerId: string; ref: string }): Promise<string>;
  alarms(): Promise<AlarmRecord[]>;
  timeline(alarmId: string): Promise<StoredTimelineEntry[]>;
  eventCount(deviceId: string): Promise<number>;
  /** Advances the manual clock and waits until the rules have processed everything that fell due. */
  advance(ms: number): Promise<void>;
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export const TEST_CONTACTS = [
  { id: 'do-1', name: 'Dana Duty', role: 'duty_officer', email: 'duty@example.org' },
  { id: 'lm-1', name: 'Lee Manager', role: 'line_manager', email: 'lee@example.org' },
  { id: 'hos-1', name: 'Hana Head', role: 'head_of_service', email: 'hana@example.org' },
  { id: 'dir-1', name: 'Dev Director', role: 'director', email: 'dev@example.org' },
];

export function testConfig(dataDir: string, extra: Record<string, unknown> = {}) {
  const base: Record<string, unknown> = {
    hub: { data_dir: dataDir, public_url: 'http://127.0.0.1:8080' },
    mqtt: { host: '127.0.0.1', port: 0, heartbeat_flush_ms: 20 },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: process.env.LONEWATCH_TEST_LOG ?? 'silent', pretty: 'never' },
    contacts: TEST_CONTACTS,
  };
  for (const [k, v] of Object.entries(extra)) {
    base[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof base[k] === 'object' ? { ...(base[k] as object), ...v } : v;
  }
  return parseConfig(base, 'test', process.env);
}

export async function startTestHub(opts: TestHubOptions = {}): Promise<TestHub> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'lonewatch-test-'));
  const manualClock = opts.clock instanceof ManualClock ? opts.clock : opts.manualClock ? new ManualClock() : null;
  const clock = opts.clock ?? manualClock ?? undefined;
  const config = testConfig(dataDir, opts.config);
  const log = opts.log ?? (process.env.LONEWATCH_TEST_LOG ? createLogger({ level: process.env.LONEWATCH_TEST_LOG, pretty: 'never' }) : silentLogger);
  const hub = await Hub.start({
    config,
    log,
    ...(clock ? { clock } : {}),
    ...(opts.dispatch ? { dispatch: opts.dispatch } : {}),
    ...(opts.registerHttp ? { registerHttp: opts.registerHttp } : {}),
  });
  const settle = () => settleHub(hub);
  const testHub: TestHub = {
    hub,
    clock: hub.clock,
    manualClock,
    dataDir,
    mqttPort: hub.mqttPort,
    mqttUrl: `mqtt://127.0.0.1:${hub.mqttPort}`,
    mqttsUrl: hub.mqttsPort ? `mqtts://127.0.0.1:${hub.mqttsPort}` : '',
    httpUrl: `${config.tls?.https ? 'https' : 'http'}://127.0.0.1:${hub.httpPort}`,
    async addDevice(deviceId, o = {}) {
      if (o.workerId && !(await hub.store.read((tx) => tx.getWorker(o.workerId!)))) await testHub.addWorker(o.workerId);
      return addDevice(hub.store, deviceId, { workerId: o.workerId ?? null, now: hub.clock.now() });
    },
    async addWorker(id, extra = {}) {
      // Emergency contacts are records (schema v10); a string in `extra.emergencyContacts` is the
      // old free text, as a database from before v10 would hold it.
      const { emergencyContacts, ...rest } = extra as { emergencyContacts?: unknown };
      const records = Array.isArray(emergencyContacts) ? (emergencyContacts as EmergencyContact[]) : typeof emergencyContacts === 'string' || emergencyContacts === null ? [] : [{ name: 'Alex Carter', relationship: 'partner', phone: '07700 900456' }];
      await hub.store.transaction(async (tx) => {
        await tx.upsertWorker({
          id,
          name: `Worker ${id}`,
          phone: '07700 900123',
          homeAddress: '1 Private Road',
          medicalNotes: 'asthma',
          car: 'blue Fiat 500 AB12 CDE',
          emergencyContacts: typeof emergencyContacts === 'string' ? emergencyContacts : null,
          buddyId: null,
          lineManagerId: 'lm-1',
          trainingDate: '2026-01-15',
          newStarter: false,
          description: 'about 1.70 m, slim, short dark hair, green raincoat',
          ...rest,
        });
        await tx.setEmergencyContacts(id, records);
      });
    },
    async addVisit(input) {
      const now = hub.clock.now();
      const res = await addVisit(
        hub.store,
        {
          scheduledStart: now,
          expectedEnd: now + 3600_000,
          riskCategory: 1,
          rag: 'green',
          checkinIntervalMin: null,
          nextLocation: null,
          secondWorkerId: null,
          unplanned: false,
          ...input,
        },
        { onBreach: 'refuse', trainingValidYears: 3 },
      );
      return res.visit.id;
    },
    alarms: () => hub.store.read((tx) => tx.listAlarms({})),
    timeline: (alarmId) => hub.store.read((tx) => tx.getTimeline(alarmId)),
    eventCount: (deviceId) => hub.store.read((tx) => tx.countFobEvents(deviceId)),
    async advance(ms) {
      if (!manualClock) throw new Error('advance needs a manual clock');
      await advanceHub(hub, ms);
    },
    settle,
    async stop() {
      await hub.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return testHub;
}
