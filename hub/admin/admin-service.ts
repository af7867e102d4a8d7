/**
 * Administration shared by the CLI and (later) the dashboard: devices, workers, contacts, visits.
 * Every function validates its input and returns a clear error rather than half-doing anything.
 */
import { randomUUID } from 'node:crypto';
import type { Store, StoreTx } from '../store/store.js';
import type { ContactRecord, DeviceRecord, VisitRecord, WorkerRecord } from '../store/store-types.js';
import { generateDeviceSecret, hashSecret } from '../device-secrets.js';
import { isValidDeviceId, BOARDS } from '../../shared/protocol-core.js';
import { checkVisitPolicy, type VisitPolicyRules } from '../rules/visit-policy.js';
import { drillPairingProblem } from '../rules/drill.js';
import { parseOldText } from './emergency-contacts.js';
import type { HubConfig } from '../config/config-schema.js';

export class AdminError extends Error {
  constructor(
    message: string,
    readonly status = 400,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export interface NewDevice {
  deviceId: string;
  secret: string;
}

export async function addDevice(store: Store, deviceId: string, opts: { workerId?: string | null; board?: string | null; now: number; actor?: string }): Promise<NewDevice> {
  if (!isValidDeviceId(deviceId)) throw new AdminError(`device id "${deviceId}" must be 1-32 letters, digits, '-' or '_'`, 400, 'deviceId');
  if (opts.board && !(BOARDS as readonly string[]).includes(opts.board)) throw new AdminError(`board must be one of ${BOARDS.join(', ')}`, 400, 'board');
  const secret = generateDeviceSecret();
  const secretHash = await hashSecret(secret);
  await store.transaction(async (tx) => {
    if (await tx.getDevice(deviceId)) throw new AdminError(`device ${deviceId} is already registered`, 409, 'deviceId');
    if (opts.workerId && !(await tx.getWorker(opts.workerId))) throw new AdminError(`no worker ${opts.workerId}`, 404, 'workerId');
    const drill = drillPairingProblem(deviceId, opts.workerId ?? null);
    if (drill) throw new AdminError(drill, 400, 'workerId');
    const device: DeviceRecord = {
      id: deviceId,
      workerId: opts.workerId ?? null,
      board: opts.board ?? null,
      secretHash,
      createdAt: opts.now,
      revokedAt: null,
      lastSeenAt: null,
      battery: null,
      online: false,
      firmware: null,
    };
    await tx.insertDevice(device);
    await tx.appendAudit({ at: opts.now, actor: opts.actor ?? 'admin', action: 'device.add', subject: deviceId, detail: { workerId: opts.workerId ?? null } });
    await tx.appendChange({ at: opts.now, topic: 'device', alarmId: null, detail: { deviceId, change: 'added' } });
  });
  return { deviceId, secret };
}

export async function revokeDevice(store: Store, deviceId: string, now: number, actor = 'admin'): Promise<void> {
  await store.transaction(async (tx) => {
    const d = await tx.getDevice(deviceId);
    if (!d) throw new AdminError(`no device ${deviceId}`, 404, 'deviceId');
    if (d.revokedAt !== null) throw new AdminError(`device ${deviceId} is already revoked`, 409, 'deviceId');
    await tx.updateDevice(deviceId, { revokedAt: now });
    await tx.appendAudit({ at: now, actor, action: 'device.revoke', subject: deviceId, detail: {} });
    // On the change feed in the same transaction: a hub that did not make this change (another node,
    // or the CLI writing the database itself) hears of it from the feed (hub/ingest/device-watch.ts).
    await tx.appendChange({ at: now, topic: 'device', alarmId: null, detail: { deviceId, change: 'revoked' } });
  });
}

export async function assignDevice(store: Store, deviceId: string, workerId: string | null, now = Date.now()): Promise<void> {
  await store.transaction(async (tx) => {
    if (!(await tx.getDevice(deviceId))) throw new AdminError(`no device ${deviceId}`, 404, 'deviceId');
    if (workerId && !(await tx.getWorker(workerId))) throw new AdminError(`no worker ${workerId}`, 404, 'workerId');
    const drill = drillPairingProblem(deviceId, workerId);
    if (drill) throw new AdminError(drill, 400, 'workerId');
    await tx.updateDevice(deviceId, { workerId });
    await tx.appendChange({ at: now, topic: 'device', alarmId: null, detail: { deviceId, change: 'assigned' } });
  });
}

/** A worker as `lonewatch workers add` gives it: a field left undefined keeps what is stored. */
export interface WorkerInput {
  id: string;
  name: string;
  phone?: string;
  buddyId?: string;
  lineManagerId?: string;
  /** YYYY-MM-DD */
  trainingDate?: string;
  newStarter?: boolean;
}

/** Adds a worker, or updates the given fields of one, keeping the rest (private details included). */
export async function saveWorker(store: Store, input: WorkerInput, now: number, actor = 'admin'): Promise<void> {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(input.id)) throw new AdminError('a worker id is 1-64 letters, digits, _ . -', 400, 'id');
  if (!input.name.trim()) throw new AdminError('a worker needs a name', 400, 'name');
  if (input.trainingDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(input.trainingDate)) throw new AdminError('the training date must be YYYY-MM-DD', 400, 'trainingDate');
  await store.transaction(async (tx) => {
    const existing = await tx.getWorker(input.id);
    await tx.upsertWorker({
      id: input.id,
      name: input.name,
      phone: input.phone ?? existing?.phone ?? null,
      homeAddress: existing?.homeAddress ?? null,
      medicalNotes: existing?.medicalNotes ?? null,
      car: existing?.car ?? null,
      emergencyContacts: existing?.emergencyContacts ?? null,
      buddyId: input.buddyId ?? existing?.buddyId ?? null,
      lineManagerId: input.lineManagerId ?? existing?.lineManagerId ?? null,
      trainingDate: input.trainingDate ?? existing?.trainingDate ?? null,
      newStarter: input.newStarter ?? existing?.newStarter ?? false,
      description: existing?.description ?? null,
    });
    await tx.appendAudit({ at: now, actor, action: existing ? 'worker.update' : 'worker.add', subject: input.id, detail: {} });
    await tx.appendChange({ at: now, topic: 'worker', alarmId: null, detail: { workerId: input.id, change: existing ? 'updated' : 'added' } });
  });
}

export function workerFromConfig(w: HubConfig['workers'][number]): WorkerRecord {
  return {
    id: w.id,
    name: w.name,
    phone: w.phone ?? null,
    homeAddress: w.home_address ?? null,
    medicalNotes: w.medical_notes ?? null,
    car: w.car ?? null,
    // lonewatch.toml's text is read into records (seedWorkerFromConfig); nothing is left as old text.
    emergencyContacts: null,
    buddyId: w.buddy ?? null,
    lineManagerId: w.line_manager ?? null,
    trainingDate: w.training_date ?? null,
    newStarter: w.new_starter,
    description: w.description ?? null,
  };
}

/** A worker of lonewatch.toml, with its emergency contacts text read into records (schema v10). */
export async function seedWorkerFromConfig(tx: StoreTx, w: HubConfig['workers'][number]): Promise<void> {
  await tx.upsertWorker(workerFromConfig(w));
  await tx.setEmergencyContacts(w.id, parseOldText(w.emergency_contacts ?? null));
}

export function contactFromConfig(c: HubConfig['contacts'][number]): ContactRecord {
  return { id: c.id, name: c.name, role: c.role, email: c.email ?? null, phone: c.phone ?? null };
}

export interface VisitInput {
  workerId: string;
  ref: string;
  scheduledStart: number;
  expectedEnd: number;
  riskCategory: 1 | 2;
  rag: 'red' | 'amber' | 'green';
  checkinIntervalMin: number | null;
  nextLocation: string | null;
  secondWorkerId: string | null;
  unplanned: boolean;
  /** Who to call at the visit address (R13's ladder), name and phone; either may be null. */
  contactName?: string | null;
  contactPhone?: string | null;
}

export interface VisitAdded {
  visit: VisitRecord;
  warnings: string[];
}

/** Records a visit after the R8/R9 checks; refused visits throw AdminError listing every breach. */
export async function addVisit(store: Store, input: VisitInput, rules: VisitPolicyRules): Promise<VisitAdded> {
  if (!/^[A-Za-z0-9_./-]{1,32}$/.test(input.ref)) throw new AdminError('visit reference must be a code (letters, digits, _ . / -), not an address', 400, 'ref');
  if (!(input.expectedEnd > input.scheduledStart)) throw new AdminError('expected end must be after the scheduled start', 400, 'expectedEnd');
  return store.transaction((tx) => addVisitTx(tx, input, rules));
}

/** The same, inside the caller's transaction: an import of many visits commits all or none. */
export async function addVisitTx(tx: StoreTx, input: VisitInput, rules: VisitPolicyRules): Promise<VisitAdded> {
  if (!/^[A-Za-z0-9_./-]{1,32}$/.test(input.ref)) throw new AdminError('visit reference must be a code (letters, digits, _ . / -), not an address', 400, 'ref');
  if (!(input.expectedEnd > input.scheduledStart)) throw new AdminError('expected end must be after the scheduled start', 400, 'expectedEnd');
  {
    const worker = await tx.getWorker(input.workerId);
    if (!worker) throw new AdminError(`no worker ${input.workerId}`, 404, 'workerId');
    const result = checkVisitPolicy(input, worker, rules);
    if (result.errors.length > 0) {
      throw new AdminError(`visit ${input.ref} refused: ${result.errors.map((e) => e.message).join('; ')}`, 422, result.errors[0].field);
    }
    const visit: VisitRecord = {
      id: randomUUID(),
      ...input,
      contactName: input.contactName ?? null,
      contactPhone: input.contactPhone ?? null,
      status: 'planned',
      startedAt: null,
      endedAt: null,
      policyFlags: result.warnings.map((w) => w.code),
    };
    await tx.insertVisit(visit);
    return { visit, warnings: result.warnings.map((w) => w.message) };
  }
}
