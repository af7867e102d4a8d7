/**
 * What one attempt of a notice on its own channel leads to, as a pure step (issue 18), in the manner
 * of `stepEscalation`: no I/O, no clock (`now` is handed in), no journal. The dispatcher is the
 * executor: it sends, hands the result here, and carries out the actions (the timeline entry, the
 * journal's changes with the notice's next due work `dueAt`, the fall-through to other channels).
 *
 * The rules: a delivered (or accepted) attempt finishes the notice; a failed one is tried again after
 * the channel's back-off (`nextAttemptDelay`) while it may still pass (retryable) and the give-up
 * time and attempt limit allow; otherwise the channel gives up on it and it falls through (R20: every
 * attempt's result, its reason and what happens next are on the record).
 */
import type { NoticeRecord } from '../store/store-types.js';
import type { DeliveryStatus } from './notifier.js';

export interface RetryPolicy {
  /** Time limit of one attempt. */
  timeoutMs: number;
  firstDelayMs: number;
  factor: number;
  maxDelayMs: number;
  /** No attempt starts later than this after the first one. */
  giveUpAfterMs: number;
  maxAttempts: number;
}

/** Delay before the next attempt after `attempt` failed, or null to give up. Pure. */
export function nextAttemptDelay(policy: RetryPolicy, attempt: number, elapsedMs: number): number | null {
  if (attempt >= policy.maxAttempts) return null;
  const delay = Math.min(policy.maxDelayMs, policy.firstDelayMs * policy.factor ** (attempt - 1));
  if (elapsedMs + delay > policy.giveUpAfterMs) return null;
  return delay;
}

export type NoticeInput =
  | { type: 'delivered'; attempt: number; status: DeliveryStatus; detail: string; ref: string | null; retry: RetryPolicy }
  | { type: 'failed'; attempt: number; reason: string; retryable: boolean; retry: RetryPolicy };

export type NoticeAction =
  /** Append to the alarm's timeline (a `delivery` entry with these fields beside the notice's own). */
  | { type: 'record'; detail: { status: DeliveryStatus; detail: string } | { status: 'failed'; reason: string; retryable: boolean; gaveUp?: true; nextAttemptAt?: number } }
  /** Wait for the next attempt on this channel until `at` (the notice:<id> due work). */
  | { type: 'retry_at'; at: number; delayMs: number }
  /** This channel gave up on the notice: its fallbacks are tried next (state falling). */
  | { type: 'fall_back' }
  /** The notice is finished: someone got it. */
  | { type: 'finished' };

/**
 * A notice falling through, or a close waiting for its ARC alert, is woken at once in its process
 * when the notice it waits for finishes; its due work looks again this often in case that happened
 * in a process that died before it could say so.
 */
export const WAIT_CHECK_MS = 60_000;

export interface NoticeStep {
  notice: NoticeRecord;
  /** What changed on the notice, for the journal. */
  changes: Partial<Omit<NoticeRecord, 'id'>>;
  actions: NoticeAction[];
  /**
   * The notice's due work `notice:<id>` after this step, written with `changes` (issue 18: the store
   * is the only scheduler): the retry's time; the fall-through's check on its children
   * (`WAIT_CHECK_MS` on); null once finished (the row is removed).
   */
  dueAt: number | null;
}

/** One attempt's result to the notice's next state and what to do. Pure. */
export function stepNotice(notice: NoticeRecord, input: NoticeInput, now: number): NoticeStep {
  if (input.type === 'delivered') {
    // A reserved reference stays with the notice when the far end names none: it was given out.
    const changes = { state: 'done' as const, outcome: 'delivered', attempts: input.attempt, ref: input.ref ?? notice.ref, finishedAt: now, nextAttemptAt: null };
    return { notice: { ...notice, ...changes }, changes, actions: [{ type: 'record', detail: { status: input.status, detail: input.detail } }, { type: 'finished' }], dueAt: null };
  }
  const started = notice.firstAttemptAt ?? now;
  const delay = input.retryable ? nextAttemptDelay(input.retry, input.attempt, now - started) : null;
  if (delay === null) {
    const changes = { state: 'falling' as const, attempts: input.attempt, firstAttemptAt: started };
    return {
      notice: { ...notice, ...changes },
      changes,
      actions: [{ type: 'record', detail: { status: 'failed', reason: input.reason, retryable: input.retryable, gaveUp: true } }, { type: 'fall_back' }],
      dueAt: now + WAIT_CHECK_MS,
    };
  }
  const at = now + delay;
  const changes = { attempts: input.attempt, firstAttemptAt: started, nextAttemptAt: at };
  return {
    notice: { ...notice, ...changes },
    changes,
    actions: [{ type: 'record', detail: { status: 'failed', reason: input.reason, retryable: input.retryable, nextAttemptAt: at } }, { type: 'retry_at', at, delayMs: delay }],
    dueAt: at,
  };
}
