/**
 * The covert call-back falling due goes on the record (issue 15 item 3). The officer promised the
 * worker "I will call you back in 5 minutes" (policy 004, the purple-file script); when that time
 * comes the hub writes a `callback_due` timeline entry, which also tells every dashboard (the change
 * feed's alarm change) so each console shows the duty and sounds.
 *
 * Its time is due work, `callback:<alarmId>` (issue 18: the store is the only scheduler): written in
 * the transaction of the `callback_scheduled` note, moved by a newer one, dropped by
 * `callback_done`, and fired once by whichever process's due-work loop claims it. Nothing is held in
 * memory, so nothing needs re-arming after a restart, and of a cluster's nodes exactly one records it.
 */
import type { Logger } from '../logger.js';
import type { ClaimedWork, Store } from '../store/store.js';
import type { StoredTimelineEntry } from '../store/store-types.js';
import { isOpen } from './escalation-engine.js';
import type { TimelineStepType } from '../../shared/vocabulary.js';

// Step types are the vocabulary's: a misspelt one is a compile error, not a call-back never due.
const is = (e: StoredTimelineEntry, type: TimelineStepType): boolean => e.type === type;
const CALLBACK_DUE: TimelineStepType = 'callback_due';

/** The call-back still promised on this timeline: the latest `callback_scheduled`'s due time, unless a `callback_done` came after it. */
export function pendingCallbackAt(timeline: StoredTimelineEntry[]): number | null {
  let at: number | null = null;
  for (const e of timeline) {
    if (is(e, 'callback_scheduled') && typeof e.detail.dueAt === 'number') at = e.detail.dueAt;
    if (is(e, 'callback_done')) at = null;
  }
  return at;
}

/** True when the timeline still has this call-back pending and nobody has recorded it due yet. */
export function callbackStillPending(timeline: StoredTimelineEntry[], dueAt: number): boolean {
  if (pendingCallbackAt(timeline) !== dueAt) return false;
  return !timeline.some((e) => is(e, CALLBACK_DUE) && e.detail.dueAt === dueAt);
}

/**
 * The `callback:<alarmId>` due work a note implies: a `callback_scheduled` arms it at its due time
 * (replacing an older one), a `callback_done` cancels it (null); any other note leaves it (undefined).
 */
export function callbackWorkFor(type: string, detail: Record<string, unknown>): { dueAt: number | null } | undefined {
  const step = (t: TimelineStepType): boolean => type === t;
  if (step('callback_scheduled') && typeof detail.dueAt === 'number') return { dueAt: detail.dueAt };
  if (step('callback_done')) return { dueAt: null };
  return undefined;
}

/**
 * The call-back's due work fell due: in one transaction, the `callback_due` entry (if the alarm is
 * still open and the call-back still pending and not yet recorded due) and the row's completion, so
 * a crash between them leaves neither, and a second claim after a lost lease finds it recorded.
 */
export async function recordCallbackDue(store: Store, log: Logger, now: number, work: ClaimedWork): Promise<void> {
  const alarmId = work.key;
  const dueAt = (work.payload as { dueAt?: unknown } | null)?.dueAt;
  const recorded = await store.transaction(async (tx) => {
    const alarm = await tx.getAlarm(alarmId);
    const pending = typeof dueAt === 'number' && alarm !== null && isOpen(alarm) && callbackStillPending(await tx.getTimeline(alarmId), dueAt);
    if (pending) {
      await tx.appendTimeline(alarmId, [{ at: now, type: CALLBACK_DUE, actor: 'hub', detail: { dueAt } }]);
      await tx.appendChange({ at: now, topic: 'alarm', alarmId, detail: { type: CALLBACK_DUE } });
    }
    await tx.completeWork(work);
    return pending ? alarm : null;
  });
  if (recorded) log.warn({ alarmId, workerId: recorded.workerId, dueAt }, 'covert call-back is due: the duty officer must call the worker back now (policy 004)');
}
