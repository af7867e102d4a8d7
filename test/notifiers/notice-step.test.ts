// The pure step of a notice's attempt (issue 18): no I/O, no clock; one row of the table per rule.
import { describe, expect, it } from 'vitest';
import { stepNotice, WAIT_CHECK_MS, type NoticeInput, type RetryPolicy } from '../../hub/notifiers/notice-step.js';
import type { NoticeRecord } from '../../hub/store/store-types.js';

const T0 = 1_000_000;
const RETRY: RetryPolicy = { timeoutMs: 10_000, firstDelayMs: 30_000, factor: 2, maxDelayMs: 120_000, giveUpAfterMs: 600_000, maxAttempts: 5 };

const notice = (o: Partial<NoticeRecord> = {}): NoticeRecord => ({
  id: 'a1.L1.r0.webhook.org',
  alarmId: 'a1',
  channel: 'webhook',
  level: 1,
  event: 'alert',
  parentId: null,
  via: null,
  onceKey: null,
  request: {},
  tried: ['webhook'],
  state: 'pending',
  outcome: null,
  ref: null,
  attempts: 0,
  fallbackPos: 0,
  firstAttemptAt: T0,
  nextAttemptAt: null,
  createdAt: T0,
  finishedAt: null,
  ...o,
});

const failed = (attempt: number, retryable = true, retry: RetryPolicy = RETRY): NoticeInput => ({ type: 'failed', attempt, reason: 'connect ECONNREFUSED', retryable, retry });

// dueAt: the notice's due work after the step (issue 18): the retry's time, the fall-through's check, or none.
const cases: { name: string; before: NoticeRecord; input: NoticeInput; now: number; changes: Partial<NoticeRecord>; actions: unknown[]; dueAt: number | null }[] = [
  {
    name: 'delivered on the first attempt: done, with the far end reference',
    before: notice(),
    input: { type: 'delivered', attempt: 1, status: 'delivered', detail: 'HTTP 202', ref: 'gw-42', retry: RETRY },
    now: T0 + 50,
    changes: { state: 'done', outcome: 'delivered', attempts: 1, ref: 'gw-42', finishedAt: T0 + 50, nextAttemptAt: null },
    actions: [{ type: 'record', detail: { status: 'delivered', detail: 'HTTP 202' } }, { type: 'finished' }],
    dueAt: null,
  },
  {
    name: 'accepted (sent) with no reference of its own: keeps the one reserved before the send (DC-09 sequence)',
    before: notice({ ref: '0007', attempts: 2, nextAttemptAt: T0 + 30_000 }),
    input: { type: 'delivered', attempt: 3, status: 'sent', detail: 'queued', ref: null, retry: RETRY },
    now: T0 + 90_000,
    changes: { state: 'done', outcome: 'delivered', attempts: 3, ref: '0007', finishedAt: T0 + 90_000, nextAttemptAt: null },
    actions: [{ type: 'record', detail: { status: 'sent', detail: 'queued' } }, { type: 'finished' }],
    dueAt: null,
  },
  {
    name: 'a retryable failure: tried again after the first delay, the time on the record',
    before: notice(),
    input: failed(1),
    now: T0 + 100,
    changes: { attempts: 1, firstAttemptAt: T0, nextAttemptAt: T0 + 100 + 30_000 },
    actions: [{ type: 'record', detail: { status: 'failed', reason: 'connect ECONNREFUSED', retryable: true, nextAttemptAt: T0 + 100 + 30_000 } }, { type: 'retry_at', at: T0 + 100 + 30_000, delayMs: 30_000 }],
    dueAt: T0 + 100 + 30_000,
  },
  {
    name: 'the back-off grows by its factor and stops at its ceiling',
    before: notice({ attempts: 3 }),
    input: failed(4),
    now: T0 + 300_000,
    changes: { attempts: 4, firstAttemptAt: T0, nextAttemptAt: T0 + 300_000 + 120_000 },
    actions: [{ type: 'record', detail: { status: 'failed', reason: 'connect ECONNREFUSED', retryable: true, nextAttemptAt: T0 + 420_000 } }, { type: 'retry_at', at: T0 + 420_000, delayMs: 120_000 }],
    dueAt: T0 + 420_000,
  },
  {
    name: 'a failure the far end says can never pass (not retryable): gives up at once and falls back',
    before: notice(),
    input: failed(1, false),
    now: T0 + 100,
    changes: { state: 'falling', attempts: 1, firstAttemptAt: T0 },
    actions: [{ type: 'record', detail: { status: 'failed', reason: 'connect ECONNREFUSED', retryable: false, gaveUp: true } }, { type: 'fall_back' }],
    dueAt: T0 + 100 + WAIT_CHECK_MS,
  },
  {
    name: 'the attempt limit reached: gives up and falls back',
    before: notice({ attempts: 4 }),
    input: failed(5),
    now: T0 + 200_000,
    changes: { state: 'falling', attempts: 5, firstAttemptAt: T0 },
    actions: [{ type: 'record', detail: { status: 'failed', reason: 'connect ECONNREFUSED', retryable: true, gaveUp: true } }, { type: 'fall_back' }],
    dueAt: T0 + 200_000 + WAIT_CHECK_MS,
  },
  {
    name: 'the next attempt would start after the give-up time: gives up now, not later',
    before: notice({ attempts: 1 }),
    input: failed(2),
    now: T0 + 560_000,
    changes: { state: 'falling', attempts: 2, firstAttemptAt: T0 },
    actions: [{ type: 'record', detail: { status: 'failed', reason: 'connect ECONNREFUSED', retryable: true, gaveUp: true } }, { type: 'fall_back' }],
    dueAt: T0 + 560_000 + WAIT_CHECK_MS,
  },
  {
    name: 'a notice with no first-attempt time (an older journal): the give-up time counts from now',
    before: notice({ firstAttemptAt: null }),
    input: failed(1),
    now: T0 + 5_000,
    changes: { attempts: 1, firstAttemptAt: T0 + 5_000, nextAttemptAt: T0 + 35_000 },
    actions: [{ type: 'record', detail: { status: 'failed', reason: 'connect ECONNREFUSED', retryable: true, nextAttemptAt: T0 + 35_000 } }, { type: 'retry_at', at: T0 + 35_000, delayMs: 30_000 }],
    dueAt: T0 + 35_000,
  },
];

describe('stepNotice', () => {
  it.each(cases)('$name', ({ before, input, now, changes, actions, dueAt }) => {
    const frozen = structuredClone(before);
    const step = stepNotice(before, input, now);
    expect(step.changes).toEqual(changes);
    expect(step.actions).toEqual(actions);
    expect(step.dueAt).toBe(dueAt);
    expect(step.notice).toEqual({ ...before, ...changes });
    // Pure: the notice handed in is not touched.
    expect(before).toEqual(frozen);
  });
});
