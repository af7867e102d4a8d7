// Workers: the board (status, last sighting, next check-in), private details under R22, the day's
// itinerary with the R8/R9 policy checks, and (admin) editing a worker's record.
import { z } from 'zod';
import type { ApiApp, ApiContext } from './api-context.js';
import { ANY_ROLE, requireRole } from './auth.js';
import { ApiError } from './users.js';
import { addVisit } from '../admin/admin-service.js';
import { PRIVATE_FIELDS, viewPrivate } from './privacy.js';
import { EMERGENCY_CONTACTS_MAX } from '../admin/emergency-contacts.js';
import { alarmView, compareAlarms, visitView, workerPublic, LINE_MANAGER_ROLES } from './views.js';
import type { WorkerRecord } from '../store/store-types.js';

const DAY = 24 * 3600_000;
const workerParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be a worker id' }) });
const instant = z.union([z.number().int().positive(), z.iso.datetime({ offset: true, local: true, error: 'must be a date and time, e.g. 2026-11-23T14:30' })]);
const toMs = (v: number | string): number => (typeof v === 'number' ? v : Date.parse(v));
/** A number the dashboard can dial (a tel: link): digits, spaces and + ( ) - only, or blank for none. */
export const phone = z
  .string()
  .trim()
  .max(32)
  .regex(/^(\+?[0-9 ()-]{3,32})?$/, { error: 'must be a phone number: digits, spaces, + ( ) -' })
  .transform((v) => v || null);

export function registerWorkerRoutes(app: ApiApp, { hub }: ApiContext): void {
  const now = () => hub.clock.now();
  const rules = () => ({ onBreach: hub.config.rules.visit_policy_breach, trainingValidYears: hub.config.rules.training_valid_years });

  app.get('/workers', { schema: { tags: ['workers'], summary: 'Every worker with status, last sighting and next check-in due' }, preHandler: ANY_ROLE }, async () => {
    const t = now();
    const rows = await hub.store.read(async (tx) => {
      const workers = await tx.listWorkers();
      const devices = await tx.listDevices();
      const open = await tx.listAlarms({ open: true, limit: 1000 });
      const out = [];
      for (const w of workers) {
        const st = await tx.getCheckinState(w.id);
        const visits = await tx.listVisits(w.id, t - DAY, t + DAY);
        const active = st?.activeVisitId ? visits.find((v) => v.id === st.activeVisitId && v.status === 'active') : undefined;
        const fobs = devices.filter((d) => d.workerId === w.id && d.revokedAt === null);
        const alarms = open.filter((a) => a.workerId === w.id).sort(compareAlarms);
        const status: string[] = [];
        if (alarms.some((a) => a.priority <= 2)) status.push('alarm');
        if (st?.missedAlarmId || (st?.due && st.due.at < t)) status.push('overdue');
        // A planned visit past its start plus the grace, not started (issue 15 item 6).
        if (st?.due?.reason === 'visit_not_started' && st.due.at < t) status.push('visit not started');
        if (active) status.push('on visit');
        else if (st?.onShift) status.push('between visits');
        else status.push('off shift');
        if (fobs.length > 0 && fobs.every((d) => !d.online)) status.push('fob offline');
        if (fobs.length === 0) status.push('no fob');
        if (fobs.some((d) => d.battery !== null && d.battery <= hub.config.rules.low_battery_percent)) status.push('low battery');
        out.push({
          ...workerPublic(w),
          status,
          onShift: st?.onShift ?? false,
          activeVisit: active ? visitView(active) : null,
          nextVisit: visits.filter((v) => v.status === 'planned').map(visitView)[0] ?? null,
          lastSighting: st?.lastSighting ?? null,
          nextDue: st?.due ?? null,
          devices: fobs.map((d) => ({ id: d.id, online: d.online, battery: d.battery, lastSeenAt: d.lastSeenAt })),
          alarms: alarms.map((a) => alarmView(a, w.name)),
        });
      }
      return out;
    });
    const rank = (s: string[]) => (s.includes('alarm') ? 0 : s.includes('overdue') ? 1 : s.includes('on visit') || s.includes('between visits') ? 2 : 3);
    rows.sort((a, b) => rank(a.status) - rank(b.status) || a.name.localeCompare(b.name));
    return { workers: rows, serverNow: t };
  });

  app.get('/workers/:id', { schema: { tags: ['workers'], summary: "A worker's record (without private details) and today's itinerary", params: workerParams }, preHandler: ANY_ROLE }, async (req) => {
    const t = now();
    const found = await hub.store.read(async (tx) => {
      const w = await tx.getWorker(req.params.id);
      if (!w) return null;
      return {
        w,
        visits: await tx.listVisits(w.id, t - DAY, t + DAY),
        state: await tx.getCheckinState(w.id),
        contacts: await tx.listContacts(),
        devices: await tx.listWorkerDevices(w.id),
        emergencyCount: (await tx.listEmergencyContacts(w.id)).length,
      };
    });
    if (!found) throw new ApiError(404, `no worker ${req.params.id}`, 'id');
    const { w, visits, state, contacts, devices, emergencyCount } = found;
    const held = (f: (typeof PRIVATE_FIELDS)[number]): boolean => (f === 'emergencyContacts' ? emergencyCount > 0 : f === 'emergencyContactsOldText' ? w.emergencyContacts !== null : w[f] !== null);
    const nameOf = (id: string | null) => (id ? (contacts.find((c) => c.id === id)?.name ?? id) : null);
    return {
      worker: { ...workerPublic(w), buddyName: nameOf(w.buddyId), lineManagerName: nameOf(w.lineManagerId), hasPrivate: PRIVATE_FIELDS.filter(held) },
      visits: visits.map(visitView),
      state,
      devices: devices.map((d) => ({ id: d.id, board: d.board, online: d.online, battery: d.battery, lastSeenAt: d.lastSeenAt, revokedAt: d.revokedAt })),
      serverNow: t,
    };
  });

  app.get(
    '/workers/:id/private',
    {
      schema: {
        tags: ['workers'],
        summary: "A worker's private details (R22): only what your role may see now; every view and every refusal is audited",
        params: workerParams,
        querystring: z.object({ fields: z.string().max(200).optional().describe(`comma-separated: ${PRIVATE_FIELDS.join(', ')} (default all)`) }),
      },
      preHandler: ANY_ROLE,
    },
    async (req) => {
      const asked = req.query.fields ? req.query.fields.split(',').map((f) => f.trim()).filter(Boolean) : [...PRIVATE_FIELDS];
      const bad = asked.find((f) => !(PRIVATE_FIELDS as readonly string[]).includes(f));
      if (bad) throw new ApiError(400, `unknown private field "${bad}": use ${PRIVATE_FIELDS.join(', ')}`, 'fields');
      const view = await viewPrivate(hub.store, req.principal!, req.params.id, asked as typeof PRIVATE_FIELDS[number][], 'worker_record', now());
      if (!view) throw new ApiError(404, `no worker ${req.params.id}`, 'id');
      if (Object.keys(view.details).length === 0) throw new ApiError(403, `not shown: ${view.withheld[0]!.reason}. This attempt is in the audit log.`);
      return view;
    },
  );

  const visitBody = z.object({
    ref: z.string().trim().regex(/^[A-Za-z0-9_./-]{1,32}$/, { error: 'must be the visit reference code (letters, digits, _ . / -), never an address' }),
    scheduledStart: instant.optional().describe('default: now (an unplanned visit phoned in)'),
    expectedEnd: instant.optional(),
    durationMin: z.number().int().min(1).max(24 * 60).optional().describe('instead of expectedEnd'),
    riskCategory: z.union([z.literal(1), z.literal(2)]).default(1),
    rag: z.enum(['red', 'amber', 'green']).default('green'),
    checkinIntervalMin: z.number().int().min(5).max(24 * 60).nullable().default(null),
    nextLocation: z.string().trim().max(128).nullable().default(null),
    secondWorkerId: z.string().trim().max(64).nullable().default(null).transform((v) => v || null),
    unplanned: z.boolean().default(false),
    contactName: z.string().trim().max(128).nullable().default(null).transform((v) => v || null).describe('who to call at the visit address (R13)'),
    contactPhone: phone.nullable().default(null).describe("that contact's phone number"),
    startNow: z.boolean().default(false).describe('start the visit at once (an unplanned visit the worker is about to enter)'),
  });

  app.post(
    '/workers/:id/visits',
    { schema: { tags: ['workers'], summary: 'Record a visit (planned or unplanned) after the R8/R9 policy checks', params: workerParams, body: visitBody }, preHandler: requireRole('duty_officer', 'manager', 'admin') },
    async (req, reply) => {
      const b = req.body;
      const start = b.scheduledStart !== undefined ? toMs(b.scheduledStart) : now();
      const end = b.expectedEnd !== undefined ? toMs(b.expectedEnd) : b.durationMin !== undefined ? start + b.durationMin * 60_000 : NaN;
      if (Number.isNaN(end)) throw new ApiError(400, 'give the expected end (expectedEnd) or a duration in minutes (durationMin)', 'expectedEnd');
      if (b.secondWorkerId && !(await hub.store.read((tx) => tx.getWorker(b.secondWorkerId!)))) throw new ApiError(404, `no worker ${b.secondWorkerId} to be the second worker`, 'secondWorkerId');
      const { visit, warnings } = await addVisit(
        hub.store,
        { workerId: req.params.id, ref: b.ref, scheduledStart: start, expectedEnd: end, riskCategory: b.riskCategory, rag: b.rag, checkinIntervalMin: b.checkinIntervalMin, nextLocation: b.nextLocation, secondWorkerId: b.secondWorkerId, unplanned: b.unplanned, contactName: b.contactName, contactPhone: b.contactPhone },
        rules(),
      );
      await hub.store.transaction((tx) => tx.appendAudit({ at: now(), actor: req.principal!.actor, action: 'visit.add', subject: `worker:${req.params.id}`, detail: { ref: visit.ref, unplanned: visit.unplanned, warnings: visit.policyFlags } }));
      await hub.runtime.workerAction(req.params.id, b.startNow ? { type: 'visit_start', ref: visit.ref, source: req.principal!.actor } : { type: 'itinerary_changed' });
      reply.code(201);
      return { visit: visitView((await hub.store.read((tx) => tx.getVisit(visit.id)))!), warnings };
    },
  );

  app.post(
    '/workers/:id/actions',
    {
      schema: {
        tags: ['workers'],
        summary: 'Act for the worker (who phoned in): start, end or extend a visit, check in, end the shift',
        params: workerParams,
        body: z.discriminatedUnion('type', [
          z.object({ type: z.literal('visit_start'), ref: z.string().max(32).optional() }),
          z.object({ type: z.literal('visit_end'), ref: z.string().max(32).optional() }),
          z.object({ type: z.literal('extend'), minutes: z.number().int().min(1, { error: 'extend by at least 1 minute' }).max(12 * 60) }),
          z.object({ type: z.literal('checkin') }),
          z.object({ type: z.literal('end_of_shift') }),
        ]),
      },
      preHandler: requireRole('duty_officer', 'manager', 'admin'),
    },
    async (req) => {
      if (!(await hub.store.read((tx) => tx.getWorker(req.params.id)))) throw new ApiError(404, `no worker ${req.params.id}`, 'id');
      const b = req.body;
      const source = req.principal!.actor;
      const before = await hub.store.read((tx) => tx.getCheckinState(req.params.id));
      if (b.type === 'extend' && !before?.activeVisitId) throw new ApiError(409, 'no visit is running to extend: start the visit first', 'type');
      if (b.type === 'visit_end' && !before?.activeVisitId) throw new ApiError(409, 'no visit is running to end', 'type');
      if (b.type === 'visit_start') {
        const t = now();
        const planned = (await hub.store.read((tx) => tx.listVisits(req.params.id, t - DAY, t + DAY))).filter((v) => v.status === 'planned' && (!b.ref || v.ref === b.ref));
        if (planned.length === 0) throw new ApiError(409, b.ref ? `no planned visit ${b.ref}: record it first (R7)` : 'no planned visit to start: record the visit first (R7)', 'ref');
      }
      const input =
        b.type === 'extend' ? { type: 'extend' as const, minutes: b.minutes, source } : b.type === 'visit_start' || b.type === 'visit_end' ? { type: b.type, ...(b.ref ? { ref: b.ref } : {}), source } : { type: b.type, source };
      const state = await hub.runtime.workerAction(req.params.id, input);
      await hub.store.transaction((tx) => tx.appendAudit({ at: now(), actor: source, action: `worker.${b.type}`, subject: `worker:${req.params.id}`, detail: { ...b } }));
      return { state };
    },
  );

  // Strict: a misspelt field is refused with its name instead of being dropped (issue 15 item 1).
  const workerBody = z.strictObject({
    name: z.string().trim().min(1, { error: 'give the worker a name' }).max(128),
    phone: z.string().trim().max(32).nullable().optional(),
    homeAddress: z.string().trim().max(256).nullable().optional(),
    medicalNotes: z.string().trim().max(1024).nullable().optional(),
    car: z.string().trim().max(128).nullable().optional(),
    // Records since schema v10 (issue 15 item 13); the order is the order to call them in.
    emergencyContacts: z
      .array(
        z.strictObject({
          name: z.string().trim().min(1, { error: 'give each emergency contact a name' }).max(128),
          relationship: z.string().trim().max(64).nullable().optional().transform((v) => v || null),
          phone: phone.nullable().optional().transform((v) => v || null),
        }),
        { error: 'must be a list of { name, relationship, phone } (the free-text form is gone: see emergencyContactsOldText)' },
      )
      .max(EMERGENCY_CONTACTS_MAX, { error: `at most ${EMERGENCY_CONTACTS_MAX} emergency contacts` })
      .nullable()
      .optional(),
    // The old free text is kept to be read, not written: it can only be cleared (null or "").
    emergencyContactsOldText: z.union([z.null(), z.literal('')], { error: 'the old emergency-contacts text can only be cleared (null): put contacts in emergencyContacts' }).optional(),
    buddyId: z.string().trim().max(64).nullable().optional(),
    lineManagerId: z.string().trim().max(64).nullable().optional(),
    trainingDate: z.iso.date({ error: 'must be a date YYYY-MM-DD' }).nullable().optional(),
    newStarter: z.boolean().optional(),
    description: z.string().trim().max(512).nullable().optional().describe('how the police would recognise the worker (private, R22)'),
  });

  app.put(
    '/workers/:id',
    { schema: { tags: ['admin'], summary: "Create or update a worker's record (admin); an omitted field is kept, null or \"\" clears it, an unknown field is refused", params: workerParams, body: workerBody }, preHandler: requireRole('admin') },
    async (req) => {
      const b = req.body;
      const empty = (v: string | null | undefined) => (v === '' ? null : v);
      const saved = await hub.store.transaction(async (tx) => {
        const existing = await tx.getWorker(req.params.id);
        for (const [field, id] of [['buddyId', b.buddyId], ['lineManagerId', b.lineManagerId]] as const) {
          if (id && !(await tx.getContact(id)) && !(field === 'buddyId' && (await tx.getWorker(id)))) throw new ApiError(404, `no ${field === 'buddyId' ? 'worker or contact' : 'contact'} ${id}`, field);
        }
        if (b.lineManagerId) {
          const lm = (await tx.getContact(b.lineManagerId))!;
          if (!LINE_MANAGER_ROLES.includes(lm.role)) throw new ApiError(400, `${lm.name} (${b.lineManagerId}) is a ${lm.role.replace(/_/g, ' ')}, not a line manager: choose a line manager or head of service`, 'lineManagerId');
        }
        const pick = <K extends keyof WorkerRecord>(k: K, v: WorkerRecord[K] | undefined): WorkerRecord[K] => (v !== undefined ? v : ((existing?.[k] ?? null) as WorkerRecord[K]));
        const w: WorkerRecord = {
          id: req.params.id,
          name: b.name,
          phone: pick('phone', empty(b.phone)),
          homeAddress: pick('homeAddress', empty(b.homeAddress)),
          medicalNotes: pick('medicalNotes', empty(b.medicalNotes)),
          car: pick('car', empty(b.car)),
          emergencyContacts: b.emergencyContactsOldText !== undefined ? null : (existing?.emergencyContacts ?? null),
          buddyId: pick('buddyId', empty(b.buddyId)),
          lineManagerId: pick('lineManagerId', empty(b.lineManagerId)),
          trainingDate: pick('trainingDate', b.trainingDate),
          newStarter: b.newStarter ?? existing?.newStarter ?? false,
          description: pick('description', empty(b.description)),
        };
        await tx.upsertWorker(w);
        if (b.emergencyContacts !== undefined) await tx.setEmergencyContacts(w.id, b.emergencyContacts ?? []);
        // Which fields changed, never their values (R22).
        const fields = Object.keys(b).filter((k) => b[k as keyof typeof b] !== undefined);
        await tx.appendAudit({ at: now(), actor: req.principal!.actor, action: existing ? 'worker.update' : 'worker.add', subject: `worker:${w.id}`, detail: { fields } });
        return w;
      });
      return { worker: workerPublic(saved) };
    },
  );
}
