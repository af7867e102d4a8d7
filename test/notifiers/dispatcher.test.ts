import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hub/clock.js';
import { nextAttemptDelay, noticeIdFor } from '../../hub/notifiers/dispatcher.js';
import { DeliveryError, type DeliveryOutcome, type Notifier } from '../../hub/notifiers/notifier.js';
import { FakeNotifier, RETRY, flush, journalWithDueWork, request, setup, stopDispatcherLoops } from '../helpers/dispatcher-harness.js';

afterEach(stopDispatcherLoops);

describe('retry schedule (pure)', () => {
  it('backs off exponentially up to the cap, and gives up by attempts or by time', () => {
    expect([1, 2, 3, 4, 5].map((a) => nextAttemptDelay(RETRY, a, 0))).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(nextAttemptDelay({ ...RETRY, maxAttempts: 3 }, 3, 0)).toBeNull();
    expect(nextAttemptDelay(RETRY, 1, 59_500)).toBeNull();
  });

  it('notice ids are stable per notification and distinct per channel and recipient', () => {
    const clock = new ManualClock();
    const r = request(clock);
    const a = noticeIdFor(r.alert, 0, 'email', r.recipients[0]);
    expect(a).toBe(noticeIdFor(r.alert, 0, 'email', r.recipients[0]));
    expect(a).not.toBe(noticeIdFor(r.alert, 0, 'webhook', null));
    expect(a).not.toBe(noticeIdFor({ ...r.alert, at: new Date(clock.now() + 1000).toISOString() }, 0, 'email', r.recipients[0]));
  });
});

describe('dispatcher', () => {
  it('R20: retries with back-off on the clock and records every attempt, then delivered', async () => {
    let n = 0;
    const wh = new FakeNotifier('webhook', () => {
      n++;
      if (n < 3) throw new DeliveryError(`HTTP 503 (${n})`);
      return { status: 'delivered', detail: 'HTTP 200' };
    });
    const { clock, d, records, statuses } = setup({ webhook: { notifier: wh } });
    d.dispatch(request(clock));
    await flush();
    expect(statuses()).toEqual(['notifier:webhook:failed:1']);
    expect(records[0].entry.detail).toMatchObject({ reason: 'HTTP 503 (1)', retryable: true, nextAttemptAt: clock.now() + 1000 });
    clock.advance(999);
    await flush();
    expect(wh.calls).toHaveLength(1);
    clock.advance(1);
    await flush();
    clock.advance(2000);
    await flush();
    expect(statuses()).toEqual(['notifier:webhook:failed:1', 'notifier:webhook:failed:2', 'notifier:webhook:delivered:3']);
    expect(new Set(wh.calls.map((c) => c.noticeId)).size).toBe(1);
    expect(wh.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    await d.close();
  });

  it('a notifier that hangs (ignoring its signal) is timed out; another alarm is delivered meanwhile', async () => {
    let signalled: AbortSignal | null = null;
    const hang = new FakeNotifier('arc', (n, signal) => {
      if (n.alert.alarmId === 'a1') {
        signalled = signal;
        return new Promise<DeliveryOutcome>(() => undefined);
      }
      return { status: 'delivered', detail: 'ACK' };
    });
    const { clock, d, statuses } = setup({ arc: { notifier: hang } });
    d.dispatch(request(clock, 'a1', ['arc']));
    d.dispatch(request(clock, 'a2', ['arc']));
    await flush();
    expect(statuses('a2')).toEqual(['notifier:arc:delivered:1']);
    expect(statuses('a1')).toEqual([]);
    clock.advance(10_000);
    await flush();
    expect(signalled!.aborted).toBe(true);
    expect(statuses('a1')).toEqual(['notifier:arc:failed:1']);
    await d.close();
  });

  it('a notifier that throws synchronously is a failed attempt, not a crash', async () => {
    const bad = new FakeNotifier('webhook', () => {
      throw new TypeError('boom');
    });
    const { clock, d, records } = setup({ webhook: { notifier: bad, retry: { ...RETRY, maxAttempts: 1 } } });
    d.dispatch(request(clock));
    await flush();
    expect(records[0].entry.detail).toMatchObject({ status: 'failed', reason: 'boom', gaveUp: true });
    await d.close();
  });

  it('gives up at the give-up time, falls through to the next channel, records it all', async () => {
    const down = new FakeNotifier('arc', () => {
      throw new DeliveryError('ARC 127.0.0.1:1 unreachable: ECONNREFUSED');
    });
    const email = new FakeNotifier('email', (n) => ({ status: 'sent', detail: `250 OK ${n.recipient?.email}` }));
    const { clock, d, records, statuses, undeliverable } = setup({
      arc: { notifier: down, fallback: ['email'], retry: { ...RETRY, giveUpAfterMs: 5000 } },
      email: { notifier: email },
    });
    d.dispatch(request(clock, 'a1', ['arc']));
    for (let i = 0; i < 10; i++) {
      await flush();
      clock.advance(1000);
    }
    await flush();
    // 1 s, 2 s: then 4 s more would pass 5 s.
    expect(statuses()).toEqual(['notifier:arc:failed:1', 'notifier:arc:failed:2', 'notifier:arc:failed:3', 'notifier:arc:fallthrough:', 'notifier:email:sent:1']);
    expect(records[2].entry.detail).toMatchObject({ gaveUp: true });
    expect(records[3].entry.detail).toMatchObject({ channel: 'arc', to: 'email' });
    expect(email.calls[0].recipient?.email).toBe('dana@example.org');
    expect(undeliverable).toEqual([]);
    await d.close();
  });

  it('a non-retryable failure gives up at once; when every channel fails the notice is undeliverable', async () => {
    const wh = new FakeNotifier('webhook', () => {
      throw new DeliveryError('HTTP 401', false);
    });
    const { clock, d, statuses, undeliverable } = setup({ webhook: { notifier: wh } });
    d.dispatch(request(clock));
    await flush();
    expect(statuses()).toEqual(['notifier:webhook:failed:1']);
    expect(undeliverable).toEqual(['a1:0:channel:webhook']);
    await d.close();
  });

  it('tells the ARC once per alarm however often the ladder repeats, then restores it when resolved', async () => {
    const arc = new FakeNotifier('arc', () => ({ status: 'delivered', detail: 'ACK' }));
    const { clock, d } = setup({ arc: { notifier: arc } });
    d.dispatch(request(clock, 'a1', ['arc']));
    clock.advance(120_000);
    d.dispatch(request(clock, 'a1', ['arc']));
    await flush();
    expect(arc.calls).toHaveLength(1);
    const r = request(clock, 'a1', ['arc']);
    d.alarmChanged({ ...r.alert, state: 'resolved' });
    d.alarmChanged({ ...r.alert, state: 'resolved' });
    await flush();
    expect(arc.calls.map((c) => c.alert.state)).toEqual(['notifying', 'resolved']);
    await d.close();
  });

  it('close() stops retries that are waiting and closes the notifiers', async () => {
    let closed = false;
    const wh = new FakeNotifier('webhook', () => {
      throw new DeliveryError('HTTP 503');
    });
    (wh as Notifier).close = async () => {
      closed = true;
    };
    const { clock, d } = setup({ webhook: { notifier: wh } });
    d.dispatch(request(clock));
    await flush();
    expect(d.pending).toBe(1);
    await d.close();
    expect(d.pending).toBe(0);
    expect(closed).toBe(true);
  });
});

describe('dispatcher resuming after a restart (same journal, new dispatcher)', () => {
  it('a fall-through whose e-mail was waiting for a retry carries on: delivered once, no second fall-through record', async () => {
    const journal = journalWithDueWork();
    const arcDown = () =>
      new FakeNotifier('arc', () => {
        throw new DeliveryError('DUH', false);
      });
    const smtpDown = new FakeNotifier('email', () => {
      throw new DeliveryError('451 try later');
    });
    const one = setup({ arc: { notifier: arcDown(), fallback: ['email'] }, email: { notifier: smtpDown } }, journal);
    one.d.dispatch(request(one.clock, 'a1', ['arc']));
    await flush();
    expect(one.statuses()).toEqual(['notifier:arc:failed:1', 'notifier:arc:fallthrough:', 'notifier:email:failed:1']);
    const emailId = smtpDown.calls[0].noticeId;
    expect(emailId).toMatch(/\.via-arc$/);
    await one.d.close();
    expect([...journal.notices.values()].map((n) => [n.channel, n.state, n.attempts])).toEqual([
      ['arc', 'falling', 1],
      ['email', 'pending', 1],
    ]);

    // The new process: the e-mail's next try is 1 s after its failure.
    const smtpUp = new FakeNotifier('email', () => ({ status: 'sent', detail: '250 OK' }));
    const two = setup({ arc: { notifier: arcDown(), fallback: ['email'] }, email: { notifier: smtpUp } }, journal, one.clock.now() + 200);
    expect(await two.d.resume()).toBe(2);
    await flush();
    expect(smtpUp.calls).toHaveLength(0);
    expect(two.d.metrics()).toMatchObject({ resumed: 2, retrying: 1, queueDepth: 2 });
    two.clock.advance(800);
    await flush();
    expect(smtpUp.calls.map((c) => [c.noticeId, c.attempt])).toEqual([[emailId, 2]]);
    expect(two.statuses()).toEqual(['notifier:email:sent:2']);
    expect(two.undeliverable).toEqual([]);
    expect([...journal.notices.values()].map((n) => [n.channel, n.state, n.outcome])).toEqual([
      ['arc', 'done', 'fell_through'],
      ['email', 'done', 'delivered'],
    ]);
    expect(two.d.metrics()).toMatchObject({ sent: 1, delivered: 1, retrying: 0, queueDepth: 0 });
    // Nothing is left to resume.
    expect(await journal.unfinished()).toEqual([]);
    await two.d.close();
  });

  it('a resumed notice that still fails gives up on the first attempt after its window and is undeliverable once', async () => {
    const journal = journalWithDueWork();
    const down = () =>
      new FakeNotifier('webhook', () => {
        throw new DeliveryError('HTTP 503');
      });
    const one = setup({ webhook: { notifier: down(), retry: { ...RETRY, giveUpAfterMs: 60_000 } } }, journal);
    one.d.dispatch(request(one.clock));
    await flush();
    await one.d.close();
    // Down for an hour: past the give-up time, one more attempt, then given up.
    const two = setup({ webhook: { notifier: down(), retry: { ...RETRY, giveUpAfterMs: 60_000 } } }, journal, one.clock.now() + 3600_000);
    await two.d.resume();
    await flush();
    expect(two.statuses()).toEqual(['notifier:webhook:failed:2']);
    expect(two.records[0].entry.detail).toMatchObject({ gaveUp: true });
    expect(two.undeliverable).toEqual(['a1:0:channel:webhook']);
    expect([...journal.notices.values()].map((n) => n.outcome)).toEqual(['undeliverable']);
    await two.d.close();
  });
});
