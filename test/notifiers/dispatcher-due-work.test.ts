// The store is the only scheduler (issue 18): every unfinished notice has its notice:<id> row of due
// work, written with its state, and the dispatcher takes one step each time the loop fires it. A
// dispatcher started on the same journal (a restart) sends nothing by itself: the rows that were
// there fall due. Driven on a ManualClock through a real DueWorkLoop over real SQLite.
import { afterEach, describe, expect, it } from 'vitest';
import { ATTEMPT_GUARD_MS, WAIT_CHECK_MS } from '../../hub/notifiers/dispatcher.js';
import { DeliveryError, type DeliveryOutcome } from '../../hub/notifiers/notifier.js';
import { FakeNotifier, RETRY, flush, journalWithDueWork, request, setup, stopDispatcherLoops } from '../helpers/dispatcher-harness.js';

afterEach(stopDispatcherLoops);

const rows = async (t: { store: { listWork(kind: 'notice', limit: number): Promise<{ key: string; dueAt: number }[]> } }) => (await t.store.listWork('notice', 100)).map((w) => [w.key, w.dueAt]);

describe('notice steps as due work', () => {
  it('the row follows the notice: a guard past the time limit while the send is in flight, the next-try time after a failure, none once delivered', async () => {
    const answers: ((r: DeliveryOutcome | Error) => void)[] = [];
    const wh = new FakeNotifier('webhook', () => new Promise<DeliveryOutcome>((resolve, reject) => answers.push((r) => (r instanceof Error ? reject(r) : resolve(r)))));
    const t = setup({ webhook: { notifier: wh } });
    const t0 = t.clock.now();
    t.d.dispatch(request(t.clock));
    await flush();
    const id = wh.calls[0].noticeId;
    expect(await rows(t)).toEqual([[id, t0 + RETRY.timeoutMs + ATTEMPT_GUARD_MS]]);
    expect(t.d.metrics()).toMatchObject({ retrying: 0, queueDepth: 1 });
    answers[0](new DeliveryError('HTTP 503'));
    await flush();
    expect(await rows(t)).toEqual([[id, t0 + 1000]]);
    expect(t.d.metrics()).toMatchObject({ retrying: 1, queueDepth: 1 });
    t.clock.advance(1000);
    await flush();
    expect(wh.calls.map((c) => c.attempt)).toEqual([1, 2]);
    expect(await rows(t)).toEqual([[id, t0 + 1000 + RETRY.timeoutMs + ATTEMPT_GUARD_MS]]);
    answers[1]({ status: 'delivered', detail: 'HTTP 200' });
    await flush();
    expect(await rows(t)).toEqual([]);
    expect(t.statuses()).toEqual(['notifier:webhook:failed:1', 'notifier:webhook:delivered:2']);
    await t.d.idle();
    expect(t.d.metrics()).toMatchObject({ retrying: 0, queueDepth: 0, sent: 2, delivered: 1 });
    await t.d.close();
  });

  it('a row fired while its own attempt is still in flight only moves the guard: no second send', async () => {
    const wh = new FakeNotifier('webhook', () => new Promise<DeliveryOutcome>(() => undefined));
    const t = setup({ webhook: { notifier: wh } });
    t.d.dispatch(request(t.clock));
    await flush();
    const id = wh.calls[0].noticeId;
    t.clock.advance(3000);
    expect(await t.d.fireDue(id)).toBe(true);
    expect(wh.calls).toHaveLength(1);
    expect(await rows(t)).toEqual([[id, t.clock.now() + RETRY.timeoutMs + ATTEMPT_GUARD_MS]]);
    await t.d.close();
    // Closed: the row is left to its lease for the next process.
    expect(await t.d.fireDue(id)).toBe(false);
  });

  it('a stop mid-send records no result; after a restart nothing is sent at start-up, and the guard row makes the attempt again with its number and id', async () => {
    const journal = journalWithDueWork();
    const hang = new FakeNotifier('webhook', () => new Promise<DeliveryOutcome>(() => undefined));
    const one = setup({ webhook: { notifier: hang } }, journal);
    one.d.dispatch(request(one.clock));
    await flush();
    const id = hang.calls[0].noticeId;
    const guard = one.clock.now() + RETRY.timeoutMs + ATTEMPT_GUARD_MS;
    await one.d.close();
    expect(one.statuses()).toEqual([]);
    expect([...journal.notices.values()].map((n) => [n.id, n.state, n.attempts])).toEqual([[id, 'pending', 0]]);
    expect(await rows(one)).toEqual([[id, guard]]);

    const up = new FakeNotifier('webhook', () => ({ status: 'delivered', detail: 'HTTP 200' }));
    const two = setup({ webhook: { notifier: up } }, journal, one.clock.now() + 1000);
    expect(await two.d.resume()).toBe(1);
    await flush();
    expect(up.calls).toHaveLength(0);
    two.clock.advanceTo(guard - 1);
    await flush();
    expect(up.calls).toHaveLength(0);
    two.clock.advanceTo(guard);
    await flush();
    expect(up.calls.map((c) => [c.noticeId, c.attempt])).toEqual([[id, 1]]);
    expect(two.statuses()).toEqual(['notifier:webhook:delivered:1']);
    expect(await rows(two)).toEqual([]);
    await two.d.close();
  });

  it('a notice an older hub left without a row is given one at start-up, due now, and carries on', async () => {
    const journal = journalWithDueWork();
    const down = new FakeNotifier('webhook', () => {
      throw new DeliveryError('HTTP 503');
    });
    const one = setup({ webhook: { notifier: down } }, journal);
    one.d.dispatch(request(one.clock));
    await flush();
    await one.d.close();
    const [n] = [...journal.notices.values()];
    // As a hub from before this change left it: the notice waiting, its wait not in the due work.
    await journal.arm(n.id, null);
    expect(await rows(one)).toEqual([]);

    const up = new FakeNotifier('webhook', () => ({ status: 'delivered', detail: 'HTTP 200' }));
    const later = one.clock.now() + 5000;
    const two = setup({ webhook: { notifier: up } }, journal, later);
    expect(await two.d.resume()).toBe(1);
    await flush();
    two.clock.advance(0);
    await flush();
    expect(up.calls.map((c) => [c.noticeId, c.attempt])).toEqual([[n.id, 2]]);
    expect(two.statuses()).toEqual(['notifier:webhook:delivered:2']);
    await two.d.close();
  });

  it('a notice falling through waits as state with its check row; its child finishing here ends it at once', async () => {
    const arc = new FakeNotifier('arc', () => {
      throw new DeliveryError('DUH', false);
    });
    let emailUp = false;
    const email = new FakeNotifier('email', () => {
      if (!emailUp) throw new DeliveryError('451 try later');
      return { status: 'sent', detail: '250 OK' };
    });
    const t = setup({ arc: { notifier: arc, fallback: ['email'] }, email: { notifier: email } });
    const t0 = t.clock.now();
    t.d.dispatch(request(t.clock, 'a1', ['arc']));
    await flush();
    const arcId = arc.calls[0].noticeId;
    const emailId = email.calls[0].noticeId;
    expect((await rows(t)).sort()).toEqual(
      [
        [arcId, t0 + WAIT_CHECK_MS],
        [emailId, t0 + 1000],
      ].sort(),
    );
    expect(t.d.metrics()).toMatchObject({ retrying: 1, queueDepth: 2 });
    emailUp = true;
    t.clock.advance(1000);
    await flush();
    await t.d.idle();
    expect(t.statuses()).toEqual(['notifier:arc:failed:1', 'notifier:arc:fallthrough:', 'notifier:email:failed:1', 'notifier:email:sent:2']);
    expect(await rows(t)).toEqual([]);
    expect(t.journal.notices.get(arcId)).toMatchObject({ state: 'done', outcome: 'fell_through' });
    expect(t.undeliverable).toEqual([]);
    await t.d.close();
  });

  it('the close on an alarm path waits (as a row) for its alert still being retried, and is sent once the ARC acknowledged it', async () => {
    let n = 0;
    const arc = new FakeNotifier('arc', () => {
      n++;
      if (n === 1) throw new DeliveryError('ARC unreachable: ECONNREFUSED');
      return { status: 'delivered', detail: 'ACK' };
    });
    const t = setup({ arc: { notifier: arc } });
    const r = request(t.clock, 'a1', ['arc']);
    t.d.dispatch(r);
    await flush();
    await t.d.alarmChanged({ ...r.alert, state: 'resolved' });
    await flush();
    expect(arc.calls.map((c) => c.alert.state)).toEqual(['notifying']);
    const closeId = 'a1.resolved.arc';
    expect(await rows(t)).toContainEqual([closeId, t.clock.now() + WAIT_CHECK_MS]);
    t.clock.advance(1000);
    await flush();
    await t.d.idle();
    expect(arc.calls.map((c) => c.alert.state)).toEqual(['notifying', 'notifying', 'resolved']);
    expect(await rows(t)).toEqual([]);
    await t.d.close();
  });
});
