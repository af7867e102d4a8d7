// Alarms: the live board, one alarm with its timeline and the covert script, officer actions, the
// police hand-over, live events, and the incident records (search, CSV).
import { z } from 'zod';
import type { ApiApp, ApiContext } from './api-context.js';
import { ANY_ROLE } from './auth.js';
import { ApiError } from './users.js';
import { isOpen } from '../rules/escalation-engine.js';
import { ALARM_KINDS } from '../../shared/protocol-schemas.js';
import { ALARM_KIND } from '../../shared/vocabulary.js';
import { PRIVATE_FIELDS, viewPrivate } from './privacy.js';
import { alarmView, csvCell, currentVisit, localStamp, responseWords, SCRIPT_ANSWERS, SCRIPT_IDS, SCRIPT_QUESTIONS, scriptState, visitView, workerNames } from './views.js';
import { ALARM_OUTCOMES, type AlarmRecord, type WorkerRecord } from '../store/store-types.js';
import { describeDeliveries, summariseDeliveries } from '../notifiers/delivery-summary.js';
import type { Store, StoreTx } from '../store/store.js';
import { handoverPositions } from './routes-positions.js';

const idParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be an alarm id' }) });
const CALLBACK_MS = 5 * 60_000;

/** Incidents written per slice of a CSV export before the event loop gets a turn. */
const EXPORT_SLICE = 100;

const recordsQuery = z.object({
  q: z.string().max(200).optional().describe('free text: worker, device, visit reference, reason, notes'),
  kind: z.enum(ALARM_KINDS).optional(),
  state: z.enum(['open', 'closed']).optional(),
  from: z.iso.date({ error: 'must be a date YYYY-MM-DD' }).optional(),
  to: z.iso.date({ error: 'must be a date YYYY-MM-DD' }).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});

export function registerAlarmRoutes(app: ApiApp, { hub, live }: ApiContext): void {
  const now = () => hub.clock.now();
  /**
   * Starts the 5-minute call-back: on the record, and (written with the note, hub/rules/callback-due.ts)
   * due work that records it due when the time comes (item 3).
   */
  const scheduleCallback = async (alarmId: string, who: string): Promise<number> => {
    const dueAt = now() + CALLBACK_MS;
    await hub.commands.addNote(alarmId, who, 'callback_scheduled', { dueAt });
    return dueAt;
  };

  app.get('/events', { schema: { tags: ['alarms'], summary: 'Server-sent events: `alarm` {alarmId, type} on every change to an alarm' }, preHandler: ANY_ROLE }, async (_req, reply) => {
    live.open(reply);
  });

  app.get(
    '/alarms',
    {
      schema: {
        tags: ['alarms'],
        summary: 'Alarms, open ones first and loudest first (SOS, covert SOS, man-down, missed check-in, device health), up to limit; openTotal counts every open alarm',
        querystring: z.object({ open: z.enum(['true', 'false']).optional(), limit: z.coerce.number().int().min(1).max(1000).default(200) }),
      },
      preHandler: ANY_ROLE,
    },
    async (req) => {
      const { alarms, openTotal, names, told, callbacks, silentSince } = await hub.store.read(async (tx) => {
        // The board's order in the store itself, so a limit keeps the loudest open alarms (not the
        // newest), and the count of every open alarm beside them: a board that lists 200 of 230 says
        // so instead of showing 200 as all there are (hub/store/alarm-list-sql.ts).
        const list = await tx.listAlarms({ ...(req.query.open ? { open: req.query.open === 'true' } : {}), limit: req.query.limit, order: 'loudest' });
        const openTotal = await tx.countAlarms({ open: true });
        // Who was told, by what, and how it went: on the card of each open alarm (issue 16).
        const deliveries = new Map<string, ReturnType<typeof summariseDeliveries>>();
        // A call-back the officer promised (covert script, policy 004) is a duty on the board, not
        // only a timer inside the covert view (issue 15 item 3): its due time comes from the
        // timeline's callback_scheduled entry, so every console shows the same one.
        const due = new Map<string, number>();
        const silentSince = new Map<string, number>();
        for (const a of list.filter(isOpen)) {
          const since = await silentSinceOf(tx, a);
          if (since !== null) silentSince.set(a.id, since);
          const timeline = await tx.getTimeline(a.id);
          deliveries.set(a.id, summariseDeliveries(timeline));
          const at = scriptState(timeline).callbackDueAt;
          if (at !== null) due.set(a.id, at);
        }
        return { alarms: list, openTotal, names: await workerNames(tx), told: deliveries, callbacks: due, silentSince };
      });
      return {
        // In the store's order already (order: 'loudest', the order of compareAlarms).
        alarms: alarms.map((a) => ({
          ...alarmView(a, a.workerId ? (names.get(a.workerId) ?? null) : null),
          deliveries: told.get(a.id) ?? null,
          callbackDueAt: callbacks.get(a.id) ?? null,
          silentSince: silentSince.get(a.id) ?? null,
        })),
        /** Every open alarm in the store, listed or not (the list stops at `limit`). */
        openTotal,
        serverNow: now(),
      };
    },
  );

  app.get('/alarms/:id', { schema: { tags: ['alarms'], summary: 'One alarm: its timeline, the visit, the last sighting and the covert script', params: idParams }, preHandler: ANY_ROLE }, async (req) => {
    const { alarm, worker, visit, state, timeline, contacts } = await loadAlarmContext(hub.store, req.params.id, now());
    const silentSince = await hub.store.read((tx) => silentSinceOf(tx, alarm));
    return {
      alarm: { ...alarmView(alarm, worker?.name ?? null), silentSince },
      visit: visit ? visitView(visit) : null,
      contacts,
      lastSighting: state?.lastSighting ?? (alarm.lastSightingAt ? { at: alarm.lastSightingAt, kind: 'recorded when raised', place: null } : null),
      // Delivery entries carry their words (who, by what, what was confirmed), not only ids (issue 15 item 15).
      timeline: describeDeliveries(timeline),
      deliveries: summariseDeliveries(timeline),
      script: scriptState(timeline),
      serverNow: now(),
    };
  });

  const by = (req: { principal: { actor: string } | null }) => req.principal!.actor;
  /** Closing an alarm someone else has taken is for an admin or a manager, on the record (item 10). */
  const mayOverride = (p: { role: string }, override: boolean): void => {
    if (override && p.role !== 'admin' && p.role !== 'manager') {
      throw new ApiError(403, `only an admin or a manager may close an alarm another officer has taken; you are signed in as ${p.role}: ask them, or the officer in charge`, 'override');
    }
  };
  const changed = (alarm: AlarmRecord, names?: string | null) => ({ alarm: alarmView(alarm, names ?? null) });

  app.post('/alarms/:id/acknowledge', { schema: { tags: ['alarms'], summary: 'Take charge of an alarm (the first acknowledgement wins)', params: idParams }, preHandler: ANY_ROLE }, async (req) =>
    changed(await hub.commands.alarmAction(req.params.id, { type: 'acknowledge', by: by(req) })),
  );

  app.post(
    '/alarms/:id/resolve',
    {
      schema: {
        tags: ['alarms'],
        summary: 'Close an alarm with its outcome. Only the officer who took it may; an admin or manager may override, on the record.',
        params: idParams,
        body: z.strictObject({
          outcome: z.enum(ALARM_OUTCOMES, { error: `say how it ended: one of ${ALARM_OUTCOMES.join(', ')}` }),
          note: z.string().trim().max(2000).optional(),
          override: z.boolean().default(false).describe('close an alarm another officer has taken (admin or manager only; recorded as an override)'),
        }),
      },
      preHandler: ANY_ROLE,
    },
    async (req) => {
      mayOverride(req.principal!, req.body.override);
      return changed(
        await hub.commands.alarmAction(req.params.id, {
          type: 'resolve',
          by: by(req),
          outcome: req.body.outcome,
          authority: req.body.override ? 'override' : 'taker',
          ...(req.body.note ? { note: req.body.note } : {}),
        }),
      );
    },
  );

  app.post(
    '/alarms/:id/cancel',
    {
      schema: {
        tags: ['alarms'],
        summary: 'Cancel as a false alarm (recorded, never deleted)',
        params: idParams,
        body: z.object({
          reason: z.string().trim().min(1, { error: 'say why this is a false alarm' }).max(2000),
          override: z.boolean().default(false).describe('cancel an alarm another officer has taken (admin or manager only; recorded as an override)'),
        }),
      },
      preHandler: ANY_ROLE,
    },
    async (req) => {
      mayOverride(req.principal!, req.body.override);
      return changed(await hub.commands.alarmAction(req.params.id, { type: 'cancel', by: by(req), source: 'officer', reason: req.body.reason, authority: req.body.override ? 'override' : 'taker' }));
    },
  );

  app.post(
    '/alarms/:id/notes',
    { schema: { tags: ['alarms'], summary: "Add a note to the alarm's timeline", params: idParams, body: z.object({ text: z.string().trim().min(1, { error: 'write the note first' }).max(4000) }) }, preHandler: ANY_ROLE },
    async (req) => {
      await hub.commands.addNote(req.params.id, by(req), 'note', { text: req.body.text });
      return { ok: true };
    },
  );

  app.post(
    '/alarms/:id/script',
    {
      schema: {
        tags: ['alarms'],
        summary: "Record an answer to a question of the covert-alarm script (R4); every answer goes in the timeline",
        params: idParams,
        body: z.object({ question: z.enum(SCRIPT_IDS), answer: z.enum(SCRIPT_ANSWERS), note: z.string().trim().max(2000).optional() }),
      },
      preHandler: ANY_ROLE,
    },
    async (req) => {
      const q = SCRIPT_QUESTIONS.find((x) => x.id === req.body.question)!;
      await hub.commands.addNote(req.params.id, by(req), 'script_answer', { question: q.id, text: q.text, answer: req.body.answer, ...(req.body.note ? { note: req.body.note } : {}) });
      if (q.id === 'call_back' && req.body.answer === 'yes') {
        await scheduleCallback(req.params.id, by(req));
      }
      return { ok: true };
    },
  );

  app.post(
    '/alarms/:id/callback',
    {
      schema: { tags: ['alarms'], summary: 'Start (or mark done) the "call back in 5 minutes" timer', params: idParams, body: z.object({ action: z.enum(['start', 'done']) }) },
      preHandler: ANY_ROLE,
    },
    async (req) => {
      if (req.body.action === 'start') return { ok: true, dueAt: await scheduleCallback(req.params.id, by(req)) };
      await hub.commands.addNote(req.params.id, by(req), 'callback_done', {});
      return { ok: true, dueAt: null };
    },
  );

  app.post(
    '/alarms/:id/police-called',
    { schema: { tags: ['alarms'], summary: 'Record that 999 was called', params: idParams, body: z.object({ reference: z.string().trim().max(200).optional() }).default({}) }, preHandler: ANY_ROLE },
    async (req) => {
      await hub.commands.addNote(req.params.id, by(req), 'police_called', { ...(req.body.reference ? { reference: req.body.reference } : {}) });
      return { ok: true };
    },
  );

  app.get(
    '/alarms/:id/handover',
    { schema: { tags: ['alarms'], summary: 'Police hand-over (R5): location, visit, phone, emergency contacts, medical details, car. An audited view of private details.', params: idParams }, preHandler: ANY_ROLE },
    async (req) => {
      const { alarm, worker, visit, state, device, timeline, contacts } = await loadAlarmContext(hub.store, req.params.id, now());
      if (!worker) throw new ApiError(409, 'this alarm has no worker on record: there are no details to hand over');
      const view = await viewPrivate(hub.store, req.principal!, worker.id, PRIVATE_FIELDS, `police_handover:${alarm.id}`, now());
      if (!view || Object.keys(view.details).length === 0) {
        throw new ApiError(403, view?.withheld[0]?.reason ?? 'you may not see this worker’s private details');
      }
      const sighting = state?.lastSighting ?? null;
      const where = await handoverPositions(hub.store, req.principal!, alarm, sighting?.at ?? null, now());
      if (isOpen(alarm)) await hub.commands.addNote(alarm.id, by(req), 'handover_viewed', { fields: Object.keys(view.details), position: where.position !== null });
      return {
        alarm: alarmView(alarm, worker.name),
        worker: { id: worker.id, name: worker.name, ...view.details },
        withheld: view.withheld,
        visit: visit ? visitView(visit) : null,
        // R14: the last confirmed sighting with its place: the visit, and the fix nearest before it.
        lastSighting: sighting ? { ...sighting, position: where.sightingPosition } : null,
        // Issue 20: the latest known position, its age and accuracy, geo: and OpenStreetMap links.
        position: where.position,
        positionWithheld: where.positionWithheld,
        device: device ? { id: device.id, board: device.board, lastSeenAt: device.lastSeenAt, battery: device.battery, online: device.online } : null,
        script: scriptState(timeline),
        contacts,
        // What the officer has done and written, for the police (issue 15 item 14).
        policeReferences: timeline.filter((e) => e.type === 'police_called').map((e) => ({ at: e.at, by: e.actor, reference: (e.detail.reference as string | undefined) ?? null })),
        notes: timeline.filter((e) => e.type === 'note').map((e) => ({ at: e.at, by: e.actor, text: String(e.detail.text ?? '') })),
        generatedAt: now(),
        generatedBy: req.principal!.actor,
      };
    },
  );

  // ---------------------------------------------------------------------------------------------
  // Records (R19, R20)

  const search = async (tx: StoreTx, q: z.output<typeof recordsQuery>) => {
    const names = await workerNames(tx);
    const fromMs = q.from ? Date.parse(q.from + 'T00:00:00Z') : -Infinity;
    const toMs = q.to ? Date.parse(q.to + 'T00:00:00Z') + 24 * 3600_000 : Infinity;
    const needle = q.q?.trim().toLowerCase() ?? '';
    const out: { alarm: AlarmRecord; workerName: string | null; timeline: Awaited<ReturnType<StoreTx['getTimeline']>> }[] = [];
    for (const alarm of await tx.listAlarms({ ...(q.kind ? { kind: q.kind } : {}), ...(q.state ? { open: q.state === 'open' } : {}), limit: 5000 })) {
      if (alarm.raisedAt < fromMs || alarm.raisedAt >= toMs) continue;
      const workerName = alarm.workerId ? (names.get(alarm.workerId) ?? null) : null;
      const timeline = await tx.getTimeline(alarm.id);
      if (needle) {
        const hay = [alarm.id, alarm.kind, alarm.reason, alarm.workerId, workerName, alarm.deviceId, alarm.visitRef, ...timeline.map((e) => `${e.type} ${e.actor} ${JSON.stringify(e.detail)}`)]
          .join(' ')
          .toLowerCase();
        if (!hay.includes(needle)) continue;
      }
      out.push({ alarm, workerName, timeline });
      if (out.length >= q.limit) break;
    }
    return out;
  };

  app.get('/records', { schema: { tags: ['records'], summary: 'Search incidents (every alarm is one) by text, kind, state and date', querystring: recordsQuery }, preHandler: ANY_ROLE }, async (req) => {
    const found = await hub.store.read((tx) => search(tx, req.query));
    return { records: found.map((r) => ({ ...alarmView(r.alarm, r.workerName), steps: r.timeline.length })) };
  });

  app.get('/records/export.csv', { schema: { tags: ['records'], summary: 'The matching incidents as CSV: one row per timeline entry', querystring: recordsQuery }, preHandler: ANY_ROLE }, async (req, reply) => {
    const found = await hub.store.read((tx) => search(tx, req.query));
    // closed_by and outcome (issue 15 items 10 and 11) on every row, so a filtered spreadsheet keeps them.
    // The last four columns are for people (issue 15 item 15): local time with the zone, response
    // time and the kind of alarm in words; the ISO columns before them stay exact for machines.
    const rows = [['incident', 'kind', 'worker', 'device', 'visit', 'raised_at', 'state', 'closed_by', 'outcome', 'worker_cancelled_at', 'seq', 'at', 'step', 'actor', 'detail', 'raised_local', 'at_local', 'response', 'kind_label', 'step_words'].map(csvCell).join(',')];
    for (let n = 0; n < found.length; n++) {
      // Up to 5,000 incidents, one row per timeline step: written in slices with a turn of the event
      // loop between them, so a large export never holds up a fob's PUBACK or another request for
      // the whole of it (issue 17: the fuzz harness's stall, docs/hub.md "Bounds").
      if (n > 0 && n % EXPORT_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const r = found[n]!;
      for (const e of describeDeliveries(r.timeline)) {
        rows.push(
          [r.alarm.id, r.alarm.kind, r.workerName ?? r.alarm.workerId, r.alarm.deviceId, r.alarm.visitRef, new Date(r.alarm.raisedAt).toISOString(), r.alarm.state, r.alarm.closedBy, r.alarm.outcome, r.alarm.workerCancelledAt === null ? null : new Date(r.alarm.workerCancelledAt).toISOString(), e.seq, new Date(e.at).toISOString(), e.type, e.actor, e.detail, localStamp(r.alarm.raisedAt), localStamp(e.at), responseWords(r.alarm), ALARM_KIND[r.alarm.kind].label, e.text ?? null]
            .map(csvCell)
            .join(','),
        );
      }
    }
    await hub.store.transaction((tx) => tx.appendAudit({ at: now(), actor: req.principal!.actor, action: 'records.export', subject: 'records', detail: { query: req.query, incidents: found.length } }));
    reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="lonewatch-incidents-${new Date(now()).toISOString().slice(0, 10)}.csv"`);
    return rows.join('\r\n') + '\r\n';
  });
}

/**
 * When an open "device silent" alarm's fob was last heard from, so the console can say "silent for
 * 34 min" and keep it true (issue 15 item 15): the alarm's reason says only how long it was when raised.
 */
async function silentSinceOf(tx: StoreTx, a: AlarmRecord): Promise<number | null> {
  if (a.kind !== 'device_silent' || !isOpen(a) || !a.deviceId) return null;
  return (await tx.getDeviceHealth(a.deviceId))?.lastSeenAt ?? null;
}

/** An alarm with what its views show beside it, read in one transaction; a 404 naming the id if none. */
async function loadAlarmContext(store: Store, id: string, at: number) {
  const found = await store.read(async (tx) => {
    const alarm = await tx.getAlarm(id);
    if (!alarm) return null;
    const worker = alarm.workerId ? await tx.getWorker(alarm.workerId) : null;
    const visit = await currentVisit(tx, alarm, at);
    const state = alarm.workerId ? await tx.getCheckinState(alarm.workerId) : null;
    const device = alarm.deviceId ? await tx.getDevice(alarm.deviceId) : null;
    return { alarm, worker, visit, state, device, timeline: await tx.getTimeline(alarm.id), contacts: await ladderContacts(tx, worker) };
  });
  if (!found) throw new ApiError(404, `no alarm ${id}`, 'id');
  return found;
}

/**
 * The buddy and the line manager, with their work numbers: rungs of the R13 ladder the officer
 * phones. Office contacts' numbers are not a worker's private details (R22 covers those).
 */
async function ladderContacts(tx: StoreTx, worker: WorkerRecord | null) {
  const person = async (id: string | null) => {
    if (!id) return null;
    const c = await tx.getContact(id);
    if (c) return { id: c.id, name: c.name, phone: c.phone };
    const w = await tx.getWorker(id);
    // A buddy who is a worker: their name only; their phone is private to them (R22).
    return w ? { id: w.id, name: w.name, phone: null } : { id, name: id, phone: null };
  };
  return { buddy: await person(worker?.buddyId ?? null), lineManager: await person(worker?.lineManagerId ?? null) };
}
