/**
 * The command service (issue 18): device registration, revocation and assignment, workers,
 * itineraries and alarm actions, as one interface that the HTTP API's routes, the `lonewatch` CLI
 * and the flash tool go through.
 *
 * - In the hub: `StoreCommands` with the hub's hooks, so a change takes effect at once (a revoked
 *   fob is dropped, a changed itinerary re-steps the worker's check-in rules).
 * - In the CLI while a hub runs: `ControlClient` (hub/commands/control-client.ts) sends each
 *   command to that hub over its control socket (`<data_dir>/hub.sock`,
 *   hub/commands/control-server.ts), where the hub's own `StoreCommands` runs it.
 * - In the CLI with no hub answering: `StoreCommands` on the database file, without hooks; the
 *   change goes on the change feed in its transaction, which a hub started later (or one whose
 *   control socket could not open) reads.
 *
 * The arguments of every command that crosses the socket are checked with the zod schemas below on
 * the hub's side: a bad request gets a clear error and changes nothing.
 */
import { z } from 'zod';
import type { DeviceRecord, VisitRecord, WorkerRecord } from '../store/store-types.js';
import type { NewDevice, WorkerInput } from '../admin/admin-service.js';
import type { VisitImport } from '../admin/visits-import.js';
import type { CsvRow } from '../admin/visits-csv.js';

export type DeviceSummary = Omit<DeviceRecord, 'secretHash'>;
export type WorkerSummary = Pick<WorkerRecord, 'id' | 'name' | 'buddyId' | 'lineManagerId' | 'trainingDate' | 'newStarter'>;

/** What a command reports it did beyond the store: said to the person who ran it. */
export interface Applied {
  /** True when a running hub carried the command out (and acted on it at once). */
  byHub: boolean;
}

/** The commands the CLI may send: they work with a running hub or on the database alone. */
export interface AdminCommands {
  addDevice(input: { deviceId: string; workerId: string | null; board: string | null }, actor: string): Promise<NewDevice & Applied>;
  listDevices(): Promise<DeviceSummary[]>;
  revokeDevice(deviceId: string, actor: string): Promise<Applied>;
  assignDevice(deviceId: string, workerId: string | null, actor: string): Promise<Applied>;
  saveWorker(input: WorkerInput, actor: string): Promise<Applied>;
  listWorkers(): Promise<WorkerSummary[]>;
  /** All or nothing (hub/admin/visits-import.ts); with a hub, each worker's check-in rules are stepped. */
  importVisits(rows: CsvRow[], file: string, actor: string): Promise<VisitImport & Applied>;
  listVisits(workerId: string | null, from: number, to: number): Promise<VisitRecord[]>;
  /** One device (never its secret's hash), or null. */
  getDevice(deviceId: string): Promise<DeviceSummary | null>;
  /** Whether `secret` is the device's (checked against the stored hash, which never leaves the hub). */
  checkDeviceSecret(deviceId: string, secret: string): Promise<boolean>;
  /** The change feed's last seq: what `waitForHello` waits after. */
  feedPosition(): Promise<number>;
  /**
   * The device's first hello after the feed position `afterSeq` (the flash tool's "the fob reached the
   * hub"), or null after `ms`. Read from the change feed, where the ingest appends each hello.
   */
  waitForHello(deviceId: string, afterSeq: number, ms: number): Promise<{ firmware: string; board: string | null } | null>;
}

/** The longest waitForHello may wait, in ms. */
export const HELLO_WAIT_MAX_MS = 600_000;

export type AdminCommandName = keyof AdminCommands;

const id = z.string().min(1).max(64);
const actor = z.string().min(1).max(128);
const visitInput = z.strictObject({
  workerId: id,
  ref: z.string().min(1).max(64),
  scheduledStart: z.number().int(),
  expectedEnd: z.number().int(),
  riskCategory: z.union([z.literal(1), z.literal(2)]),
  rag: z.enum(['red', 'amber', 'green']),
  checkinIntervalMin: z.number().nullable(),
  nextLocation: z.string().max(256).nullable(),
  secondWorkerId: id.nullable(),
  unplanned: z.boolean(),
  contactName: z.string().max(128).nullable().optional(),
  contactPhone: z.string().max(32).nullable().optional(),
});

/** The arguments of each command, as they cross the control socket (a JSON array). */
export const ADMIN_COMMAND_ARGS = {
  addDevice: z.tuple([z.strictObject({ deviceId: id, workerId: id.nullable(), board: z.string().max(16).nullable() }), actor]),
  listDevices: z.tuple([]),
  revokeDevice: z.tuple([id, actor]),
  assignDevice: z.tuple([id, id.nullable(), actor]),
  saveWorker: z.tuple([
    z.strictObject({
      id,
      name: z.string().min(1).max(128),
      phone: z.string().max(32).optional(),
      buddyId: id.optional(),
      lineManagerId: id.optional(),
      trainingDate: z.string().max(10).optional(),
      newStarter: z.boolean().optional(),
    }),
    actor,
  ]),
  listWorkers: z.tuple([]),
  importVisits: z.tuple([z.array(z.strictObject({ line: z.number().int(), visit: visitInput })).max(10_000), z.string().max(1024), actor]),
  listVisits: z.tuple([id.nullable(), z.number().int(), z.number().int()]),
  getDevice: z.tuple([id]),
  checkDeviceSecret: z.tuple([id, z.string().min(1).max(256)]),
  feedPosition: z.tuple([]),
  waitForHello: z.tuple([id, z.number().int().min(0), z.number().int().min(0).max(HELLO_WAIT_MAX_MS)]),
} satisfies Record<AdminCommandName, z.ZodType>;

/** The error a command refused with, as it crosses the socket (an AdminError on either side). */
export interface CommandErrorBody {
  message: string;
  status: number;
  field?: string;
}
