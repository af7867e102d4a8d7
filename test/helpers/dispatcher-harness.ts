/**
 * Drives a Dispatcher on its own as the hub drives it (issue 18): a ManualClock, notices in a
 * MemoryNoticeJournal the tests can look at, their due work in a real SQLite store, and a real
 * DueWorkLoop on the same clock that fires each notice:<id> row into `Dispatcher.fireDue`. The
 * notifiers are the edge: a FakeNotifier answers as each test says.
 */
import { ManualClock } from '../../hub/clock.js';
import { silentLogger } from '../../hub/logger.js';
import { Dispatcher, type ChannelSpec, type DispatcherOptions, type RetryPolicy } from '../../hub/notifiers/dispatcher.js';
import type { DeliveryOutcome, Notice, Notifier } from '../../hub/notifiers/notifier.js';
import type { DispatchRequest } from '../../hub/rules/effect-executor.js';
import type { TimelineEntry } from '../../hub/store/store-types.js';
import { MemoryNoticeJournal } from '../../hub/notifiers/notice-journal.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { DueWorkLoop } from '../../hub/rules/due-work-loop.js';

export const RETRY: RetryPolicy = { timeoutMs: 10_000, firstDelayMs: 1000, factor: 2, maxDelayMs: 8000, giveUpAfterMs: 60_000, maxAttempts: 10 };

export class FakeNotifier implements Notifier {
  calls: Notice[] = [];
  constructor(
    readonly channel: string,
    private readonly behave: (n: Notice, signal: AbortSignal) => Promise<DeliveryOutcome> | DeliveryOutcome,
  ) {}
  send(n: Notice, signal: AbortSignal): Promise<DeliveryOutcome> {
    this.calls.push(n);
    return this.behave(n, signal) as Promise<DeliveryOutcome>;
  }
}

export const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

export function request(clock: ManualClock, alarmId = 'a1', channels = ['webhook']): DispatchRequest {
  const iso = new Date(clock.now()).toISOString();
  return {
    alert: { v: 1, alarmId, kind: 'sos', state: 'notifying', priority: 1, deviceId: 'fob-1', workerId: 'sam', workerName: 'Sam', visitRef: null, level: 0, targets: ['duty_officer'], raisedAt: iso, at: iso, drill: false, summary: 'SOS' },
    level: 0,
    recipients: [{ id: 'do-1', name: 'Dana', role: 'duty_officer', email: 'dana@example.org' }],
    channels,
    link: 'http://hub/alarms/a1',
  };
}

/** The notices in memory (the tests look at them), their due work in a real SQLite store. */
export const journalWithDueWork = () => new MemoryNoticeJournal(new SqliteStore(':memory:'));
const loops: DueWorkLoop[] = [];
const stores = new Set<SqliteStore>();

/** For afterEach: stops every loop set up, and closes their stores. */
export async function stopDispatcherLoops(): Promise<void> {
  for (const l of loops.splice(0)) await l.stop();
  for (const s of stores) await s.close().catch(() => undefined);
  stores.clear();
}

/**
 * A dispatcher driven as the hub drives it: each notice:<id> row of due work is fired by a
 * DueWorkLoop on the same ManualClock (issue 18), not by a sleep of the dispatcher's own.
 */
export function setup(channels: Record<string, Partial<ChannelSpec> & { notifier: Notifier }>, journal = journalWithDueWork(), start?: number, extra: Partial<DispatcherOptions> = {}) {
  const clock = new ManualClock(start);
  const store = journal.due as SqliteStore;
  stores.add(store);
  const records: { alarmId: string; entry: TimelineEntry }[] = [];
  // "queued" (stored, about to be tried) is kept apart: these tests follow the attempts.
  const queued: { alarmId: string; entry: TimelineEntry }[] = [];
  const undeliverable: string[] = [];
  const specs: Record<string, ChannelSpec> = {};
  for (const [k, v] of Object.entries(channels)) specs[k] = { retry: RETRY, fallback: [], perRecipient: k === 'email', ...v };
  const d = new Dispatcher({
    clock,
    log: silentLogger,
    channels: specs,
    record: async (alarmId, entry) => {
      (entry.detail.status === 'queued' ? queued : records).push({ alarmId, entry });
    },
    undeliverable: async (alarmId, level, who) => {
      undeliverable.push(`${alarmId}:${level}:${who}`);
    },
    journal,
    wake: (at) => loop.wake(at),
    ...extra,
  });
  const loop = new DueWorkLoop({
    store,
    clock,
    log: silentLogger,
    owner: `test-${loops.length}`,
    handlers: {
      notice: async (work) => {
        if (await d.fireDue(work.key)) await store.complete(work);
      },
    },
  });
  loops.push(loop);
  void loop.start();
  const statuses = (alarmId = 'a1') => records.filter((r) => r.alarmId === alarmId).map((r) => `${r.entry.actor}:${r.entry.detail.status}:${r.entry.detail.attempt ?? ''}`);
  return { clock, d, records, queued, undeliverable, statuses, store, journal };
}

