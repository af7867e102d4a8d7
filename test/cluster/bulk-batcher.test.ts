// The edge's bulk-lane batcher (hub/cluster/bulk-batcher.ts) with an injected publish whose
// acknowledgements the test gives by hand: records batch only while publishes are in flight (idle,
// one goes at once, alone), batches keep to their record and byte caps, the queue's cap refuses
// clearly, and a failed batch rejects every record in it and nothing else.
import { describe, expect, it } from 'vitest';
import { BulkBatcher, BulkBatcherClosedError, BulkQueueFullError, type BulkBatcherOptions } from '../../hub/cluster/bulk-batcher.js';
import { ManualClock } from '../../hub/clock.js';

/** A publish that holds each batch until the test acknowledges or fails it. */
function harness(o: Partial<BulkBatcherOptions<string>> = {}) {
  const published: { records: string[]; ack(): void; fail(err: Error): void }[] = [];
  const batcher = new BulkBatcher<string>({
    publish: (records) => new Promise<void>((ack, fail) => published.push({ records, ack: () => ack(), fail })),
    bytesOf: (r) => r.length,
    maxRecords: 100,
    maxBytes: 10_000,
    inFlight: 1,
    queueMaxRecords: 1000,
    queueMaxBytes: 100_000,
    ...o,
  });
  const outcomes = new Map<string, string>();
  const add = (r: string) => {
    const p = batcher.add(r);
    p.then(
      () => outcomes.set(r, 'acked'),
      (err: Error) => outcomes.set(r, err.name === 'Error' ? err.message : err.name),
    );
    return p;
  };
  const settle = () => new Promise((r) => setImmediate(r));
  return { batcher, published, outcomes, add, settle };
}

describe('bulk batcher', () => {
  it('publishes at once while idle, and batches only what arrives while a publish is in flight', async () => {
    const h = harness();
    void h.add('a');
    // Idle: published synchronously, alone (no timer, no added latency).
    expect(h.published.map((p) => p.records)).toEqual([['a']]);
    for (const r of ['b', 'c', 'd']) void h.add(r);
    expect(h.published).toHaveLength(1);
    expect(h.batcher.stats()).toMatchObject({ queued: 3, inFlight: 1 });
    await h.settle();
    expect(h.outcomes.size).toBe(0);
    h.published[0]!.ack();
    await h.settle();
    // 'a' resolved only on its ack; the three waiting went out as one batch.
    expect(h.outcomes.get('a')).toBe('acked');
    expect(h.outcomes.has('b')).toBe(false);
    expect(h.published.map((p) => p.records)).toEqual([['a'], ['b', 'c', 'd']]);
    h.published[1]!.ack();
    await h.settle();
    expect([...h.outcomes.values()]).toEqual(['acked', 'acked', 'acked', 'acked']);
    expect(h.batcher.stats()).toMatchObject({ queued: 0, inFlight: 0, batches: 2, records: 4 });
    // Idle again: the next record goes at once, alone.
    void h.add('e');
    expect(h.published[2]!.records).toEqual(['e']);
  });

  it('keeps up to inFlight publishes out at once', () => {
    const h = harness({ inFlight: 2 });
    for (const r of ['a', 'b', 'c', 'd']) void h.add(r);
    expect(h.published.map((p) => p.records)).toEqual([['a'], ['b']]);
    expect(h.batcher.stats()).toMatchObject({ queued: 2, inFlight: 2 });
  });

  it('cuts batches at maxRecords and at maxBytes, in arrival order, always taking at least one', async () => {
    const h = harness({ maxRecords: 3, maxBytes: 10 });
    void h.add('x');
    for (const r of ['r1', 'r2', 'r3', 'r4', 'bigbigbigbig', 'aaaa', 'bbbb', 'cccc']) void h.add(r);
    for (let i = 0; i < 5; i++) {
      h.published[h.published.length - 1]!.ack();
      await h.settle();
    }
    expect(h.published.map((p) => p.records)).toEqual([['x'], ['r1', 'r2', 'r3'], ['r4'], ['bigbigbigbig'], ['aaaa', 'bbbb'], ['cccc']]);
  });

  it('rejects every record of a failed batch, and nothing else', async () => {
    const h = harness();
    void h.add('a');
    for (const r of ['b', 'c']) void h.add(r);
    h.published[0]!.ack();
    await h.settle();
    for (const r of ['d']) void h.add(r);
    h.published[1]!.fail(new Error('JetStream publish timed out'));
    await h.settle();
    expect(h.outcomes.get('b')).toBe('JetStream publish timed out');
    expect(h.outcomes.get('c')).toBe('JetStream publish timed out');
    expect(h.outcomes.get('a')).toBe('acked');
    // The record queued behind the failed batch is published next, on its own terms.
    expect(h.published[2]!.records).toEqual(['d']);
    h.published[2]!.ack();
    await h.settle();
    expect(h.outcomes.get('d')).toBe('acked');
    expect(h.batcher.stats()).toMatchObject({ batches: 2, failedBatches: 1, records: 2 });
    // A publish that throws at once fails its batch the same way.
    const t = harness({
      publish: () => {
        throw new Error('no JetStream');
      },
    });
    await expect(t.batcher.add('z')).rejects.toThrow('no JetStream');
    expect(t.batcher.stats()).toMatchObject({ inFlight: 0, failedBatches: 1 });
  });

  it('refuses clearly beyond the queue caps (records and bytes), taking what fits', async () => {
    const h = harness({ queueMaxRecords: 2, queueMaxBytes: 100 });
    void h.add('a');
    void h.add('b');
    void h.add('c');
    await expect(h.batcher.add('d')).rejects.toThrow(BulkQueueFullError);
    await expect(h.batcher.add('d')).rejects.toThrow(/bulk queue is full \(2 records, 2 bytes waiting for JetStream; caps 2 \/ 100\)/);
    expect(h.batcher.stats()).toMatchObject({ queued: 2, refusedFull: 2 });
    const bytes = harness({ queueMaxRecords: 100, queueMaxBytes: 5 });
    void bytes.add('first');
    void bytes.add('1234');
    await expect(bytes.batcher.add('56')).rejects.toThrow(BulkQueueFullError);
    void bytes.add('5');
    expect(bytes.batcher.stats()).toMatchObject({ queued: 2, queuedBytes: 5 });
    // Once JetStream takes a batch, there is room again.
    h.published[0]!.ack();
    await h.settle();
    void h.add('d');
    expect(h.batcher.stats().queued).toBe(1);
  });

  it('rejects what still waits when closed, and takes nothing more', async () => {
    const h = harness();
    void h.add('a');
    void h.add('b');
    h.batcher.close();
    await h.settle();
    expect(h.outcomes.get('b')).toBe('BulkBatcherClosedError');
    await expect(h.batcher.add('c')).rejects.toThrow(BulkBatcherClosedError);
    // The batch in flight settles as JetStream answers.
    h.published[0]!.ack();
    await h.settle();
    expect(h.outcomes.get('a')).toBe('acked');
    expect(h.published).toHaveLength(1);
  });

  it('refuses caps that are not positive integers', () => {
    expect(() => harness({ inFlight: 0 })).toThrow(/inFlight must be a positive integer/);
  });
});

describe('bulk batcher, lingering (edge_batch_linger_ms)', () => {
  const lingering = (o: Partial<BulkBatcherOptions<string>> = {}) => {
    const clock = new ManualClock(0);
    return { clock, ...harness({ linger: { ms: 20, setTimer: (fn, ms) => clock.setTimer(fn, ms) }, ...o }) };
  };

  it('a record that finds a slot free waits linger.ms for company, then goes with what came meanwhile', async () => {
    const h = lingering();
    void h.add('a');
    h.clock.advance(19);
    void h.add('b');
    expect(h.published).toHaveLength(0);
    h.clock.advance(1);
    expect(h.published.map((p) => p.records)).toEqual([['a', 'b']]);
    // Arriving while the only slot is out: no wait of its own once the slot frees.
    void h.add('c');
    h.published[0]!.ack();
    await h.settle();
    expect(h.published.map((p) => p.records)).toEqual([['a', 'b'], ['c']]);
    expect(h.outcomes.get('a')).toBe('acked');
    // One wait per envelope: the next record, with the slot free again, waits its own.
    h.published[1]!.ack();
    await h.settle();
    void h.add('d');
    h.clock.advance(10);
    void h.add('e');
    h.clock.advance(10);
    expect(h.published.map((p) => p.records)).toEqual([['a', 'b'], ['c'], ['d', 'e']]);
  });

  it('a full envelope does not wait', () => {
    const h = lingering({ maxRecords: 3 });
    for (const r of ['a', 'b', 'c']) void h.add(r);
    expect(h.published.map((p) => p.records)).toEqual([['a', 'b', 'c']]);
    const bytes = lingering({ maxBytes: 4 });
    void bytes.add('ab');
    expect(bytes.published).toHaveLength(0);
    void bytes.add('cd');
    expect(bytes.published.map((p) => p.records)).toEqual([['ab', 'cd']]);
  });

  it('drain sends what lingers at once; close rejects it and its timer does nothing later', async () => {
    const d = lingering();
    void d.add('a');
    const drained = d.batcher.drain();
    expect(d.published.map((p) => p.records)).toEqual([['a']]);
    d.published[0]!.ack();
    await drained;
    const c = lingering();
    void c.add('x');
    c.batcher.close();
    await c.settle();
    expect(c.outcomes.get('x')).toBe('BulkBatcherClosedError');
    c.clock.advance(100);
    expect(c.published).toHaveLength(0);
  });

  it('refuses a linger that is not a positive whole number of ms', () => {
    expect(() => lingering({ linger: { ms: 0, setTimer: () => ({ cancel: () => undefined }) } })).toThrow(/linger\.ms must be a positive integer/);
  });
});

describe('bulk batcher, draining', () => {
  it('refuses new records, still publishes what is queued, and resolves once all has settled', async () => {
    const h = harness();
    void h.add('a');
    void h.add('b');
    let drained = false;
    void h.batcher.drain().then(() => (drained = true));
    await expect(h.batcher.add('c')).rejects.toThrow(BulkBatcherClosedError);
    h.published[0]!.ack();
    await h.settle();
    expect(drained).toBe(false);
    // The queued record went out after the first batch, and the drain waits for its answer.
    expect(h.published[1]!.records).toEqual(['b']);
    h.published[1]!.fail(new Error('JetStream publish timed out'));
    await h.settle();
    expect(drained).toBe(true);
    expect(h.outcomes.get('a')).toBe('acked');
    expect(h.outcomes.get('b')).toBe('JetStream publish timed out');
    // Idle: a drain resolves at once.
    await expect(harness().batcher.drain()).resolves.toBeUndefined();
  });
});
