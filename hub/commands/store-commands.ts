/**
 * The command service over a Store (hub/commands/commands.ts): the admin functions
 * (hub/admin/admin-service.ts, which validate and write each change with its change-feed entry in
 * one transaction), then, when a hub runs this, the hub's hooks so the change takes effect at once.
 * The CLI with no hub answering runs it without hooks.
 */
import type { Store } from '../store/store.js';
import type { AlarmRecord } from '../store/store-types.js';
import type { EscalationInput } from '../rules/escalation-engine.js';
import type { VisitPolicyRules } from '../rules/visit-policy.js';
import { AdminError, addDevice, assignDevice, revokeDevice, saveWorker, type WorkerInput } from '../admin/admin-service.js';
import { importVisitRows } from '../admin/visits-import.js';
import type { CsvRow } from '../admin/visits-csv.js';
import type { AdminCommands, Applied, DeviceSummary, WorkerSummary } from './commands.js';
import type { ChangeFeedReader } from '../store/change-feed-reader.js';
import { verifySecret } from '../device-secrets.js';

/** What the running hub does after a change, so that it takes effect at once. */
export interface HubHooks {
  /** A device was revoked or reassigned: drop a revoked fob's connection, forget a reassigned one's worker. */
  deviceChanged(deviceId: string): Promise<void>;
  /** A worker's itinerary changed: step the check-in rules (a visit due now is chased). */
  itineraryChanged(workerId: string): Promise<void>;
  alarmAction(alarmId: string, input: EscalationInput): Promise<AlarmRecord>;
  addNote(alarmId: string, by: string, type: string, detail: Record<string, unknown>): Promise<void>;
}

/** The hub's own service: the admin commands and the alarm actions the API's routes use. */
export interface CommandService extends AdminCommands {
  /** Officer or API action on an alarm; throws AlarmActionError when refused. */
  alarmAction(alarmId: string, input: EscalationInput): Promise<AlarmRecord>;
  addNote(alarmId: string, by: string, type: string, detail: Record<string, unknown>): Promise<void>;
}

export interface StoreCommandsOptions {
  store: Store;
  now: () => number;
  visitRules: VisitPolicyRules;
  /** The running hub's; absent in the CLI working on the database alone. */
  hooks?: HubHooks;
  /** The change feed of this store, started (waitForHello reads it). */
  feed: ChangeFeedReader;
}

export class StoreCommands implements CommandService {
  constructor(private readonly o: StoreCommandsOptions) {}

  private get applied(): Applied {
    return { byHub: this.o.hooks !== undefined };
  }

  async addDevice(input: { deviceId: string; workerId: string | null; board: string | null }, actor: string) {
    const created = await addDevice(this.o.store, input.deviceId, { workerId: input.workerId, board: input.board, now: this.o.now(), actor });
    return { ...created, ...this.applied };
  }

  async listDevices(): Promise<DeviceSummary[]> {
    const devices = await this.o.store.read((tx) => tx.listDevices());
    return devices.map(({ secretHash: _s, ...d }) => d);
  }

  async revokeDevice(deviceId: string, actor: string): Promise<Applied> {
    await revokeDevice(this.o.store, deviceId, this.o.now(), actor);
    await this.o.hooks?.deviceChanged(deviceId);
    return this.applied;
  }

  async assignDevice(deviceId: string, workerId: string | null, _actor: string): Promise<Applied> {
    await assignDevice(this.o.store, deviceId, workerId, this.o.now());
    await this.o.hooks?.deviceChanged(deviceId);
    return this.applied;
  }

  async saveWorker(input: WorkerInput, actor: string): Promise<Applied> {
    await saveWorker(this.o.store, input, this.o.now(), actor);
    return this.applied;
  }

  async listWorkers(): Promise<WorkerSummary[]> {
    const workers = await this.o.store.read((tx) => tx.listWorkers());
    return workers.map((w) => ({ id: w.id, name: w.name, buddyId: w.buddyId, lineManagerId: w.lineManagerId, trainingDate: w.trainingDate, newStarter: w.newStarter }));
  }

  async importVisits(rows: CsvRow[], file: string, _actor: string) {
    const result = await importVisitRows(this.o.store, rows, this.o.visitRules, file, this.o.now());
    for (const workerId of result.workerIds) await this.o.hooks?.itineraryChanged(workerId);
    return { ...result, ...this.applied };
  }

  async listVisits(workerId: string | null, from: number, to: number) {
    return this.o.store.read(async (tx) => {
      const ids = workerId ? [workerId] : (await tx.listWorkers()).map((w) => w.id);
      const out = [];
      for (const w of ids) out.push(...(await tx.listVisits(w, from, to)));
      return out;
    });
  }

  async getDevice(deviceId: string): Promise<DeviceSummary | null> {
    const d = await this.o.store.read((tx) => tx.getDevice(deviceId));
    if (!d) return null;
    const { secretHash: _s, ...summary } = d;
    return summary;
  }

  async checkDeviceSecret(deviceId: string, secret: string): Promise<boolean> {
    const d = await this.o.store.read((tx) => tx.getDevice(deviceId));
    if (!d) throw new AdminError(`no device ${deviceId}`, 404, 'deviceId');
    return verifySecret(secret, d.secretHash);
  }

  feedPosition(): Promise<number> {
    return this.o.store.lastChangeSeq();
  }

  waitForHello(deviceId: string, afterSeq: number, ms: number): Promise<{ firmware: string; board: string | null } | null> {
    // Real time: a person at the bench waits these seconds, whatever clock the hub's rules run on.
    return new Promise((resolve) => {
      let done = false;
      const finish = (v: { firmware: string; board: string | null } | null): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(v);
      };
      const timer = setTimeout(() => finish(null), ms);
      const sub = this.o.feed.subscribe(
        (c) => {
          if (c.topic === 'device' && c.detail.deviceId === deviceId && c.detail.change === 'hello') {
            finish({ firmware: String(c.detail.firmware), board: typeof c.detail.board === 'string' ? c.detail.board : null });
          }
        },
        { after: afterSeq },
      );
    });
  }

  alarmAction(alarmId: string, input: EscalationInput): Promise<AlarmRecord> {
    if (!this.o.hooks) throw new AdminError('alarm actions need the running hub (its escalation ladder acts on them): start it with `lonewatch hub`', 409);
    return this.o.hooks.alarmAction(alarmId, input);
  }

  async addNote(alarmId: string, by: string, type: string, detail: Record<string, unknown>): Promise<void> {
    if (!this.o.hooks) throw new AdminError('notes on an alarm need the running hub: start it with `lonewatch hub`', 409);
    await this.o.hooks.addNote(alarmId, by, type, detail);
  }
}
