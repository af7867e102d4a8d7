// Positions (issue 20): an alarm's track and a worker's latest fix, under R22 (position-privacy.ts):
// each answer and each refusal written to the audit log in the transaction that read it.
import { z } from 'zod';
import type { ApiApp, ApiContext } from './api-context.js';
import { ANY_ROLE, type Principal } from './auth.js';
import { ApiError } from './users.js';
import { isOpen } from '../rules/escalation-engine.js';
import { activeAlarmOf } from './privacy.js';
import { decidePositionView, type PositionContext } from './position-privacy.js';
import { alarmTrack } from '../ingest/positions.js';
import { currentVisit } from './views.js';
import type { AlarmRecord, PositionRecord } from '../store/store-types.js';
import type { Store, StoreTx } from '../store/store.js';
import { ageSeconds, ageWords, geoUri, osmUrl } from '../notifiers/position-text.js';

const alarmParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be an alarm id' }) });
const workerParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be a worker id' }) });

/** The API's form of a fix: the one the dashboard map (branch locui) is built on. */
export function positionView(p: PositionRecord) {
  return {
    lat: p.lat,
    lon: p.lon,
    accuracyM: p.accuracyM,
    fixAt: new Date(p.fixAt).toISOString(),
    receivedAt: new Date(p.receivedAt).toISOString(),
    source: p.source,
  };
}

/** Allowed: writes `position.view`; refused: writes `position.refused` and throws the 403 naming why. */
async function auditDecision(tx: StoreTx, principal: Principal, workerId: string | null, c: PositionContext, context: string, now: number, detail: Record<string, unknown>): Promise<void> {
  const d = decidePositionView(principal.role, c);
  const subject = workerId ? `worker:${workerId}` : 'worker:unknown';
  if (!d.allowed) {
    await tx.appendAudit({ at: now, actor: principal.actor, action: 'position.refused', subject, detail: { context, role: principal.role, reason: d.reason, ...detail } });
    throw new RefusedAfterAudit(d.reason);
  }
  await tx.appendAudit({ at: now, actor: principal.actor, action: 'position.view', subject, detail: { context, role: principal.role, because: d.because, ...detail } });
}

/** Thrown inside the transaction only after the refusal is written: the audit row must commit, so it is caught outside. */
class RefusedAfterAudit extends Error {}

export function registerPositionRoutes(app: ApiApp, { hub }: ApiContext): void {
  const now = () => hub.clock.now();

  /**
   * Runs `fn` in one transaction whose audit row commits even when the answer is a refusal (the
   * refusal is returned, not thrown, out of the transaction, then becomes the 403).
   */
  const audited = async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    const out = await hub.store.transaction(async (tx) => {
      try {
        return { ok: true as const, value: await fn(tx) };
      } catch (err) {
        if (err instanceof RefusedAfterAudit) return { ok: false as const, reason: err.message };
        throw err;
      }
    });
    if (!out.ok) throw new ApiError(403, `not shown: ${out.reason}. This attempt is in the audit log.`);
    return out.value;
  };

  app.get(
    '/alarms/:id/positions',
    {
      schema: {
        tags: ['alarms'],
        summary: "An alarm's positions (R22: audited): the last fix before it was raised, then every fix since, oldest first; the latest; the visit",
        params: alarmParams,
      },
      preHandler: ANY_ROLE,
    },
    async (req) => {
      const at = now();
      return audited(async (tx) => {
        const alarm = await tx.getAlarm(req.params.id);
        if (!alarm) throw new ApiError(404, `no alarm ${req.params.id}`, 'id');
        const track = await alarmTrack(tx, alarm);
        await auditDecision(tx, req.principal!, alarm.workerId, { scope: 'alarm', alarmOpen: isOpen(alarm), onShift: false }, `alarm_positions:${alarm.id}`, at, { alarmId: alarm.id, fixes: track.positions.length });
        const visit = await currentVisit(tx, alarm, at);
        return {
          positions: track.positions.map(positionView),
          latest: track.latest ? positionView(track.latest) : null,
          // The hub keeps a visit's reference, never its address (R7): the address is looked up from
          // the reference in the case system, so `address` is null until the hub is given one.
          visit: visit ? { ref: visit.ref, address: null } : alarm.visitRef ? { ref: alarm.visitRef, address: null } : null,
        };
      });
    },
  );

  app.get(
    '/workers/:id/position',
    {
      schema: {
        tags: ['workers'],
        summary: "A worker's latest position (R22: during their shift or an open alarm, by role; audited) and whether their shift is on",
        params: workerParams,
      },
      preHandler: ANY_ROLE,
    },
    async (req) => {
      const at = now();
      return audited(async (tx) => {
        const worker = await tx.getWorker(req.params.id);
        if (!worker) throw new ApiError(404, `no worker ${req.params.id}`, 'id');
        const state = await tx.getCheckinState(worker.id);
        const alarm = await activeAlarmOf(tx, worker.id);
        const shiftActive = state?.onShift === true;
        let latest: PositionRecord | null = null;
        for (const d of (await tx.listWorkerDevices(worker.id)).filter((x) => x.revokedAt === null)) {
          const p = await hub.ingest.positions.get(tx, d.id);
          if (p && (!latest || p.fixAt > latest.fixAt)) latest = p;
        }
        await auditDecision(tx, req.principal!, worker.id, { scope: 'worker', alarmOpen: alarm !== null, onShift: shiftActive }, 'worker_position', at, { alarmId: alarm?.id ?? null, shown: latest !== null });
        return { latest: latest ? positionView(latest) : null, shiftActive };
      });
    },
  );
}

/** A fix for the police: where, how sure, how old at `now`, and the links a phone or a browser opens. */
export function policePosition(p: PositionRecord, now: number) {
  const ageS = ageSeconds(p, now);
  return { ...positionView(p), ageS, age: ageWords(ageS), geoUri: geoUri(p), osmUrl: osmUrl(p) };
}

/**
 * The hand-over's position block (R5 lists location first; issue 20): the alarm's latest fix and the
 * fix nearest before the last confirmed sighting (R14's place), under the same R22 rule as the
 * positions API, its view or refusal in the audit log in the same transaction.
 */
export async function handoverPositions(store: Store, principal: Principal, alarm: AlarmRecord, sightingAt: number | null, now: number) {
  return store.transaction(async (tx) => {
    const d = decidePositionView(principal.role, { scope: 'alarm', alarmOpen: isOpen(alarm), onShift: false });
    const subject = alarm.workerId ? `worker:${alarm.workerId}` : 'worker:unknown';
    const context = `police_handover:${alarm.id}`;
    if (!d.allowed) {
      await tx.appendAudit({ at: now, actor: principal.actor, action: 'position.refused', subject, detail: { context, role: principal.role, reason: d.reason, alarmId: alarm.id } });
      return { position: null, sightingPosition: null, positionWithheld: d.reason };
    }
    const track = await alarmTrack(tx, alarm);
    let atSighting: PositionRecord | null = null;
    if (sightingAt !== null && alarm.deviceId) atSighting = await tx.positionBefore(alarm.deviceId, sightingAt + 1, null);
    await tx.appendAudit({ at: now, actor: principal.actor, action: 'position.view', subject, detail: { context, role: principal.role, because: d.because, alarmId: alarm.id, fixes: track.latest ? 1 : 0 } });
    return {
      position: track.latest ? policePosition(track.latest, now) : null,
      sightingPosition: atSighting ? policePosition(atSighting, now) : null,
      positionWithheld: null,
    };
  });
}
