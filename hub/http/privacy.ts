/**
 * R22: a worker's private details (phone, home address, medical notes, car, emergency contacts) are
 * shown only to roles that need them, and every view, and every refused attempt, is in the audit log.
 *
 * - admin: every field, any time (they maintain the records).
 * - duty officer: every field, only while the worker has an active alarm (SOS, covert SOS, man-down,
 *   missed check-in); nothing otherwise.
 * - manager: phone and emergency contacts (to reach their worker) any time; home address, car,
 *   medical notes and the description only during an active alarm of that worker.
 */
import type { Store, StoreTx } from '../store/store.js';
import type { AlarmRecord, WorkerRecord } from '../store/store-types.js';
import type { Principal } from './auth.js';
import type { EmergencyContact } from '../admin/emergency-contacts.js';

/**
 * `emergencyContacts` is a list of records (name, relationship, phone); `emergencyContactsOldText`
 * is the free text they were kept in before schema version 10, shown until an admin clears it.
 */
export const PRIVATE_FIELDS = ['phone', 'homeAddress', 'medicalNotes', 'car', 'emergencyContacts', 'emergencyContactsOldText', 'description'] as const;
export type PrivateField = (typeof PRIVATE_FIELDS)[number];

export const FIELD_LABEL: Record<PrivateField, string> = {
  phone: 'phone',
  homeAddress: 'home address',
  medicalNotes: 'medical notes',
  car: 'car',
  emergencyContacts: 'emergency contacts',
  emergencyContactsOldText: 'emergency contacts (old text)',
  description: 'description',
};

const MANAGER_ANY_TIME: PrivateField[] = ['phone', 'emergencyContacts', 'emergencyContactsOldText'];

/** Alarms that open a worker's private details to the people handling them (device health does not). */
export async function activeAlarmOf(tx: StoreTx, workerId: string): Promise<AlarmRecord | null> {
  const open = await tx.listAlarms({ open: true, workerId, limit: 50 });
  return open.filter((a) => a.priority <= 2).sort((a, b) => a.raisedAt - b.raisedAt)[0] ?? null;
}

export interface PrivateView {
  workerId: string;
  details: Partial<Record<Exclude<PrivateField, 'emergencyContacts'>, string | null>> & { emergencyContacts?: EmergencyContact[] };
  withheld: { field: PrivateField; reason: string }[];
  alarmId: string | null;
}

export function allowedFields(role: Principal['role'], activeAlarm: boolean): PrivateField[] {
  if (role === 'admin' || activeAlarm) return [...PRIVATE_FIELDS];
  if (role === 'manager') return MANAGER_ANY_TIME;
  return [];
}

/**
 * Reads the requested private fields that this principal may see, and writes the audit entries (one
 * for what was shown, one for what was refused) in the same transaction.
 */
export async function viewPrivate(
  store: Store,
  principal: Principal,
  workerId: string,
  requested: readonly PrivateField[],
  context: string,
  now: number,
): Promise<PrivateView | null> {
  return store.transaction(async (tx) => {
    const worker: WorkerRecord | null = await tx.getWorker(workerId);
    if (!worker) return null;
    const alarm = await activeAlarmOf(tx, workerId);
    const allowed = allowedFields(principal.role, alarm !== null);
    const shown = requested.filter((f) => allowed.includes(f));
    const refused = requested.filter((f) => !allowed.includes(f));
    const reason =
      principal.role === 'duty_officer'
        ? 'a duty officer sees private details only during an active alarm of this worker'
        : 'a manager sees home address, car, medical notes and the description only during an active alarm of this worker';
    const view: PrivateView = { workerId, details: {}, withheld: refused.map((field) => ({ field, reason })), alarmId: alarm?.id ?? null };
    for (const f of shown) {
      if (f === 'emergencyContacts') view.details.emergencyContacts = await tx.listEmergencyContacts(workerId);
      else view.details[f] = f === 'emergencyContactsOldText' ? worker.emergencyContacts : worker[f];
    }
    if (shown.length > 0) {
      await tx.appendAudit({ at: now, actor: principal.actor, action: 'private.view', subject: `worker:${workerId}`, detail: { fields: shown, context, role: principal.role, alarmId: alarm?.id ?? null } });
    }
    if (refused.length > 0) {
      await tx.appendAudit({ at: now, actor: principal.actor, action: 'private.refused', subject: `worker:${workerId}`, detail: { fields: refused, context, role: principal.role, reason } });
    }
    return view;
  });
}
