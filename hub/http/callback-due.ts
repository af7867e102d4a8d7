/**
 * The covert call-back falling due goes on the record (issue 15 item 3). The officer promised the
 * worker "I will call you back in 5 minutes" (policy 004, the purple-file script); when that time
 * comes the hub writes a `callback_due` timeline entry, which also tells every dashboard (the live
 * stream's alarm event) so each console shows the duty and sounds. Timers run on the hub's clock
 * (hub/clock.ts), so drills and tests drive them without sleeping.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { StoredTimelineEntry } from '../store/store-types.js';
import { isOpen } from '../rules/escalation-engine.js';
import { scriptState } from './views.js';

export interface CallbackDueDeps {
  clock: Clock;
  store: Store;
  log: Logger;
  addNote(alarmId: string, by: string, type: string, detail: Record<string, unknown>): Promise<void>;
}

/** True when the timeline still has this call-back pending and nobody has recorded it due yet. */
export function callbackStillPending(timeline: StoredTimelineEntry[], dueAt: number): boolean {
  if (scriptState(timeline).callbackDueAt !== dueAt) return false;
  return !timeline.some((e) => e.type === 'callback_due' && e.detail.dueAt === dueAt);
}

export class CallbackDueWatch {
  private readonly timers = new Map<string, TimerHandle>();

  constructor(private readonly d: CallbackDueDeps) {}

  /** Arms (or re-arms) the alarm's call-back timer; a newer call-back replaces the older one. */
  arm(alarmId: string, dueAt: number): void {
    this.timers.get(alarmId)?.cancel();
    this.timers.set(
      alarmId,
      this.d.clock.setTimer(() => void this.fire(alarmId, dueAt), dueAt - this.d.clock.now()),
    );
  }

  /** After a restart: every open alarm with a call-back pending gets its timer back. */
  async rearmOpen(): Promise<void> {
    const pending = await this.d.store.read(async (tx) => {
      const out: Array<[string, number]> = [];
      for (const a of (await tx.listAlarms({ open: true })).filter(isOpen)) {
        const due = scriptState(await tx.getTimeline(a.id)).callbackDueAt;
        if (due !== null) out.push([a.id, due]);
      }
      return out;
    });
    for (const [id, due] of pending) this.arm(id, due);
  }

  stop(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  private async fire(alarmId: string, dueAt: number): Promise<void> {
    this.timers.delete(alarmId);
    try {
      const { alarm, timeline } = await this.d.store.read(async (tx) => ({ alarm: await tx.getAlarm(alarmId), timeline: await tx.getTimeline(alarmId) }));
      if (!alarm || !isOpen(alarm) || !callbackStillPending(timeline, dueAt)) return;
      await this.d.addNote(alarmId, 'hub', 'callback_due', { dueAt });
      this.d.log.warn({ alarmId, workerId: alarm.workerId, dueAt }, 'covert call-back is due: the duty officer must call the worker back now (policy 004)');
    } catch (err) {
      this.d.log.error({ alarmId, err }, 'could not record the covert call-back as due; the dashboards still show it from the scheduled time');
    }
  }
}
