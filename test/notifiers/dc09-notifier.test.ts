import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../hub/clock.js';
import { silentLogger } from '../../hub/logger.js';
import { Dc09Notifier, type Dc09Options } from '../../hub/notifiers/sia-dc09/dc09-notifier.js';
import { parseKey } from '../../hub/notifiers/sia-dc09/dc09-frame.js';
import { DeliveryError, type Notice } from '../../hub/notifiers/notifier.js';
import { Dc09Receiver, type Dc09ReceiverOptions } from '../helpers/dc09-receiver.js';

const KEY_HEX = '000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F';
let clock: ManualClock;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function notice(over: Partial<Notice['alert']> = {}, noticeId = 'n1'): Notice {
  return {
    noticeId,
    attempt: 1,
    recipient: null,
    link: 'http://hub/alarms/a1',
    alert: {
      v: 1,
      alarmId: 'a1',
      kind: 'sos',
      state: 'notifying',
      priority: 1,
      deviceId: 'fob-1',
      workerId: 'sam',
      workerName: 'Sam Carter',
      visitRef: 'V-1',
      level: 0,
      targets: ['duty_officer'],
      raisedAt: new Date(clock.now()).toISOString(),
      at: new Date(clock.now()).toISOString(),
      drill: false,
      summary: 'SOS from Sam Carter',
      ...over,
    } as Notice['alert'],
  };
}

async function setup(rx: Partial<Dc09ReceiverOptions> = {}, tx: Partial<Dc09Options> = {}) {
  clock = new ManualClock();
  const receiver = await Dc09Receiver.start({ account: '1234', receiver: 'A1', line: '2', now: () => clock.now(), ...rx });
  closers.push(() => receiver.close());
  const arc = new Dc09Notifier({
    host: '127.0.0.1',
    port: receiver.port,
    account: '1234',
    receiver: 'A1',
    line: '2',
    key: null,
    group: 1,
    users: { sam: 42 },
    maxNaks: 3,
    supervisionMs: 0,
    supervisionTimeoutMs: 5000,
    clock,
    log: silentLogger,
    ...tx,
  });
  closers.push(() => arc.close());
  return { receiver, arc };
}

const never = () => new AbortController().signal;

describe('DC-09 to an ARC', () => {
  it('sends an ADM-CID panic the receiver accepts field by field, and its restore', async () => {
    const { receiver, arc } = await setup();
    const out = await arc.send(notice(), never());
    expect(out).toMatchObject({ status: 'delivered' });
    expect(out.detail).toMatch(/^ACK seq 0001 \(1120 01 042 Panic alarm\)$/);
    const [f] = receiver.accepted;
    expect(f).toMatchObject({ id: 'ADM-CID', seq: 1, receiver: 'A1', line: '2', account: '1234', cid: { qualifier: 1, code: 120, group: 1, zone: 42 } });
    expect(f.timestamp).toBe(Math.floor(clock.now() / 1000) * 1000);
    await arc.send(notice({ state: 'resolved' }, 'n2'), never());
    expect(receiver.accepted[1]).toMatchObject({ seq: 2, cid: { qualifier: 3, code: 120 } });
  });

  it('issue 20: the position travels in the X (longitude), Y (latitude) and H (time of fix) blocks, in clear and encrypted', async () => {
    const key = parseKey(KEY_HEX);
    for (const k of [null, key]) {
      const { receiver, arc } = await setup({ key: k }, { key: k });
      const fixAt = clock.now() - 42_000;
      await arc.send(notice({ position: { lat: 51.50722, lon: -0.1275, accuracyM: 12, fixAt: new Date(fixAt).toISOString(), source: 'gnss' } }), never());
      const [f] = receiver.accepted;
      expect(f.encrypted).toBe(k !== null);
      expect(f.extended).toEqual(['X-0.1275', 'Y51.50722', expect.stringMatching(/^H\d\d:\d\d:\d\d,\d\d-\d\d-\d{4}$/)]);
      expect(f.location).toEqual({ lon: -0.1275, lat: 51.50722, fixAt: Math.floor(fixAt / 1000) * 1000 });
      expect(f.cid).toMatchObject({ qualifier: 1, code: 120 });
      // Without a position: no location blocks at all (an old fob, or none known).
      await arc.send(notice({}, 'n2'), never());
      expect(receiver.accepted[1]).toMatchObject({ extended: [], location: null });
    }
  });

  it('encrypts with AES-256 and reads the encrypted ACK', async () => {
    const key = parseKey(KEY_HEX);
    const { receiver, arc } = await setup({ key }, { key });
    await arc.send(notice({ kind: 'covert_sos' }), never());
    const [f] = receiver.accepted;
    expect(f.encrypted).toBe(true);
    expect(f.pad!.length).toBeGreaterThan(0);
    expect(f.plain!.length % 16).toBe(0);
    expect(f.cid).toMatchObject({ qualifier: 1, code: 121 });
  });

  it('a NAK carries the receiver time: the sender resynchronises and retransmits with the same sequence number', async () => {
    const { receiver, arc } = await setup({ skewMs: 5 * 60_000 });
    const out = await arc.send(notice(), never());
    expect(out.status).toBe('delivered');
    expect(receiver.frames.map((f) => [f.answer, f.seq])).toEqual([
      ['NAK', 1],
      ['ACK', 1],
    ]);
    expect(receiver.frames[0].problem).toMatch(/outside the window/);
    expect(receiver.frames[1].timestamp).toBe(Math.floor((clock.now() + 5 * 60_000) / 1000) * 1000);
    expect(arc.counters.naks).toBe(1);
  });

  it('a NAK while the clocks agree is retransmitted once, then taken as a refusal (wrong key, account or line): not retryable', async () => {
    const { receiver, arc } = await setup();
    receiver.forced.push('NAK', 'NAK', 'NAK');
    const err = await arc.send(notice(), never()).catch((e) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.retryable).toBe(false);
    expect(err.kind).toBe('refused');
    expect(err.message).toMatch(/NAK 2 times\) although our clocks agree: the encryption key, account or line/);
    expect(receiver.frames.map((f) => f.seq)).toEqual([1, 1]);
  });

  it('DUH is final: not retryable', async () => {
    const { receiver, arc } = await setup();
    receiver.forced.push('DUH');
    const err = await arc.send(notice(), never()).catch((e) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/DUH/);
  });

  it('a silent receiver is abandoned when the signal fires; the next message gets a fresh connection', async () => {
    const { receiver, arc } = await setup();
    receiver.forced.push('none');
    const ctl = new AbortController();
    const p = arc.send(notice(), ctl.signal).catch((e) => e);
    await receiver.waitFor(() => true);
    ctl.abort(new Error('time limit'));
    expect(await p).toBeInstanceOf(DeliveryError);
    // A retry of the same notice keeps its sequence number.
    const again = await arc.send(notice(), never());
    expect(again.detail).toMatch(/seq 0001/);
  });

  it('sends NULL supervision messages on the clock, and counts failures when the ARC is down', async () => {
    const { receiver, arc } = await setup({}, { supervisionMs: 90_000 });
    clock.advance(90_000);
    const f = await receiver.waitFor((x) => x.id === 'NULL');
    expect(f).toMatchObject({ ok: true, seq: 0, data: '', answer: 'ACK' });
    await expect.poll(() => arc.counters.acks).toBe(1);
    expect(arc.counters).toMatchObject({ nulls: 1, nullFailures: 0 });
    await receiver.close();
    clock.advance(90_000);
    await expect.poll(() => arc.counters.nullFailures).toBe(1);
    expect(arc.counters.nulls).toBe(2);
  });

  it('reads every NAK and DUH form: pysiaalarm line-first NAK (resynchronises), bare NAK, empty answer, bare DUH', async () => {
    const { receiver, arc } = await setup({ skewMs: 5 * 60_000, nakForm: 'line-first' });
    const out = await arc.send(notice(), never());
    expect(out.status).toBe('delivered');
    expect(receiver.frames.map((f) => f.answer)).toEqual(['NAK:line-first', 'ACK']);
    expect(receiver.frames[1].timestamp).toBe(Math.floor((clock.now() + 5 * 60_000) / 1000) * 1000);

    receiver.forced.push('NAK:bare');
    const bare = await arc.send(notice({}, 'n2'), never()).catch((e) => e);
    expect(bare).toMatchObject({ retryable: false, kind: 'refused' });
    expect(bare.message).toMatch(/NAK without a time\): it does not know account 1234/);

    receiver.forced.push('EMPTY', 'ACK');
    expect((await arc.send(notice({}, 'n3'), never())).status).toBe('delivered');

    receiver.forced.push('DUH:bare');
    const duh = await arc.send(notice({}, 'n4'), never()).catch((e) => e);
    expect(duh).toMatchObject({ retryable: false, kind: 'refused' });
    expect(duh.message).toMatch(/DUH/);
  });

  it('a receiver holding another key answers NAK with its own time (line first, as pysiaalarm): refused at once, never "unreadable"', async () => {
    const { receiver, arc } = await setup({ key: parseKey('F'.repeat(64)), nakForm: 'line-first' }, { key: parseKey(KEY_HEX) });
    const err = await arc.send(notice({ kind: 'covert_sos' }), never()).catch((e) => e);
    expect(err).toMatchObject({ retryable: false, kind: 'refused' });
    expect(err.message).not.toMatch(/unreadable|bad header/);
    expect(err.message).toMatch(/encryption key, account or line do not match/);
    expect(receiver.frames.every((f) => f.problem && /pad|wrong key/.test(f.problem))).toBe(true);
  });

  it('a receiver that is down is a retryable failure', async () => {
    const { receiver, arc } = await setup();
    await receiver.close();
    const err = await arc.send(notice(), never()).catch((e) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/unreachable/);
  });
});
