/**
 * The fob's outbox (firmware/src/core/outbox.ts) on its own: a fake clock and an in-memory Storage
 * that behaves as Espruino's does for the calls the outbox makes (read, write, erase, list by regex),
 * no sockets. The events live in Storage, so a "reboot" is a newly opened outbox on the same files.
 */
import { describe, expect, it } from 'vitest';
import { openOutbox, OUTBOX_MAX, type OutboxStore } from '../../firmware/src/core/outbox.js';
import { STORAGE } from '../../firmware/src/hal.js';
import { outboxEntries } from '../../firmware/sim/outbox-files.js';

class MemoryBoard implements OutboxStore {
  now = 0;
  files: Record<string, string> = {};
  writes = 0;
  rand = 0.5;
  uptime(): number {
    return this.now;
  }
  storageRead(name: string): string | undefined {
    return this.files[name];
  }
  storageWrite(name: string, data: string): void {
    this.writes++;
    this.files[name] = data;
  }
  storageErase(name: string): void {
    delete this.files[name];
  }
  storageList(match: RegExp): string[] {
    return Object.keys(this.files).filter((n) => match.test(n));
  }
  _random(): number {
    return this.rand;
  }
}

const id = (boot: number, seq: number): string => `${boot.toString(36)}-${seq.toString(36)}`;
const kinds = (b: MemoryBoard): string[] => outboxEntries(b.files).map((e) => e.k);
const sent = (msgs: string[]): { i: string; k: string; ag: number; r?: string }[] => msgs.map((m) => JSON.parse(m));

describe('the outbox keeps events in flash and only ids and next tries in RAM', () => {
  it.each([
    {
      name: 'full of non-alarms: a new check-in drops the oldest non-alarm',
      fill: Array.from({ length: OUTBOX_MAX }, () => 'chk'),
      add: 'chk',
      kept: true,
      expected: [...Array.from({ length: OUTBOX_MAX - 1 }, () => 'chk'), 'chk'],
      firstKeptSeq: 1,
    },
    {
      name: 'full of non-alarms: an alarm drops the oldest non-alarm',
      fill: Array.from({ length: OUTBOX_MAX }, () => 'vs'),
      add: 'cov',
      kept: true,
      expected: [...Array.from({ length: OUTBOX_MAX - 1 }, () => 'vs'), 'cov'],
      firstKeptSeq: 1,
    },
    {
      name: 'full of alarms: a non-alarm is refused, every alarm stays',
      fill: Array.from({ length: OUTBOX_MAX }, (_, j) => (j % 2 ? 'sos' : 'mdn')),
      add: 'chk',
      kept: false,
      expected: Array.from({ length: OUTBOX_MAX }, (_, j) => (j % 2 ? 'sos' : 'mdn')),
      firstKeptSeq: 0,
    },
    {
      name: 'full of alarms: a new alarm replaces the oldest alarm',
      fill: Array.from({ length: OUTBOX_MAX }, () => 'sos'),
      add: 'cov',
      kept: true,
      expected: [...Array.from({ length: OUTBOX_MAX - 1 }, () => 'sos'), 'cov'],
      firstKeptSeq: 1,
    },
    {
      name: 'full, one non-alarm among alarms: that one goes, not an alarm',
      fill: Array.from({ length: OUTBOX_MAX }, (_, j) => (j === 5 ? 'chk' : 'sos')),
      add: 'chk',
      kept: true,
      expected: [...Array.from({ length: OUTBOX_MAX - 1 }, () => 'sos'), 'chk'],
      firstKeptSeq: 0,
    },
  ])('$name', ({ fill, add, kept, expected, firstKeptSeq }) => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    fill.forEach((k, j) => {
      b.now += 1000;
      expect(o.add(id(1, j), k, '')).toBe(true);
    });
    expect(o.add(id(1, fill.length), add, '')).toBe(kept);
    expect(kinds(b)).toEqual(expected);
    expect(o._i).toHaveLength(OUTBOX_MAX);
    // RAM and flash agree, oldest first.
    expect(o._i).toEqual(outboxEntries(b.files).map((e) => e.i));
    expect(o._i[0]).toBe(id(1, firstKeptSeq));
  });

  it('ack removes the event from RAM and flash, once; an unknown id changes nothing', () => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    o.add('1-0', 'hi', '"fw":"0.1.0"');
    o.add('1-1', 'sos', '');
    o.add('1-2', 'can', '"r":"1-1"');
    expect(o.ack('1-1')).toBe(true);
    expect(o.ack('1-1')).toBe(false);
    expect(o.ack('9-9')).toBe(false);
    expect(o._i).toEqual(['1-0', '1-2']);
    expect(Object.keys(b.files).sort()).toEqual([`${STORAGE.outbox}1-0`, `${STORAGE.outbox}1-2`]);
    expect(sent(o.due()).map((e) => e.i)).toEqual(['1-0', '1-2']);
  });

  it('an event is sent as the hub receives it, with its age from the uptime and its extra fields', () => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    b.now = 10_000;
    o.add('1-3', 'can', '"r":"1-1"');
    b.now = 52_400;
    expect(sent(o.due())).toEqual([{ i: '1-3', k: 'can', r: '1-1', ag: 42 }]);
  });

  it('retries: 5 s after the first send, the wait growing with the age, at most 5 minutes; one write per event, none per try', () => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    o.add('1-0', 'sos', '');
    const writesAfterAdd = b.writes;
    const tries: number[] = [];
    for (let t = 0; t <= 20 * 60_000; t += 100) {
      b.now = t;
      if (o.due().length > 0) tries.push(t);
    }
    const gaps = tries.slice(1).map((t, j) => t - tries[j]);
    // _random() = 0.5: no jitter. Age + 5 s: 5, 10, 20, 40, 80, 160 s, then the 5-minute cap.
    expect(gaps.slice(0, 8)).toEqual([5000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    expect(b.writes).toBe(writesAfterAdd);
  });

  it('jitter stays within +-20%', () => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    o.add('1-0', 'chk', '');
    b.rand = 0;
    o.due();
    b.now = 3999;
    expect(o.due()).toEqual([]);
    b.now = 4000;
    expect(o.due()).toHaveLength(1);
    expect(o._nextDue()).toBe(4000 + Math.round(9000 * 0.8));
  });

  it('flash-resident entries survive a reload, oldest first, and are due at once', () => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    // Seqs past 9 and a second boot: the order is by (boot, seq) in base 36, not by file name.
    for (let s = 8; s <= 11; s++) o.add(id(1, s), 'chk', '');
    o.add(id(2, 0), 'sos', '');
    b.now = 0;
    const again = openOutbox(b);
    expect(again._i).toEqual([id(1, 8), id(1, 9), id(1, 10), id(1, 11), id(2, 0)]);
    expect(sent(again.due()).map((e) => e.k)).toEqual(['chk', 'chk', 'chk', 'chk', 'sos']);
  });

  it.each([
    { name: 'from the last mark', raisedAt: 60_000, markAt: 600_000, rebootUptime: 2000, sendAt: 12_000, age: 540 + 10 },
    { name: 'from the newest event when there is no mark', raisedAt: 60_000, markAt: undefined, rebootUptime: 2000, sendAt: 7000, age: 5 },
  ])('reboot carry-over: the age is carried $name, and the time off is not added', ({ raisedAt, markAt, rebootUptime, sendAt, age }) => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    b.now = raisedAt;
    o.add('1-0', 'cov', '');
    if (markAt !== undefined) {
      b.now = markAt;
      o._mark();
    }
    b.now = rebootUptime;
    const after = openOutbox(b);
    b.now = sendAt;
    expect(sent(after.due())).toEqual([{ i: '1-0', k: 'cov', ag: age }]);
    // The mark of the earlier life is gone: it would misdate the events of this one.
    expect(b.files[STORAGE.outboxMark]).toBeUndefined();
  });

  it('ages carry over two reboots in a row', () => {
    const b = new MemoryBoard();
    const first = openOutbox(b);
    first.add('1-0', 'sos', '');
    b.now = 100_000;
    first._mark();
    // Second life: the event is 100 s old at boot, and marked 50 s into it.
    b.now = 0;
    const second = openOutbox(b);
    b.now = 50_000;
    second._mark();
    b.now = 0;
    const third = openOutbox(b);
    expect(sent(third.due())[0].ag).toBe(150);
  });

  it('no mark is written while nothing waits, and the last ack removes it', () => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    o._mark();
    expect(b.files[STORAGE.outboxMark]).toBeUndefined();
    o.add('1-0', 'chk', '');
    b.now = 5000;
    o._mark();
    expect(b.files[STORAGE.outboxMark]).toBe('5000');
    o.ack('1-0');
    expect(b.files[STORAGE.outboxMark]).toBeUndefined();
  });

  it('an unreadable entry (a write cut short) is erased at boot, the others kept', () => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    o.add('1-0', 'sos', '');
    o.add('1-1', 'chk', '');
    b.files[`${STORAGE.outbox}1-1`] = '0,';
    const again = openOutbox(b);
    expect(again._i).toEqual(['1-0']);
    expect(b.files[`${STORAGE.outbox}1-1`]).toBeUndefined();
  });

  it('the link coming back makes everything due at once', () => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    o.add('1-0', 'chk', '');
    o.add('1-1', 'sos', '');
    o.due();
    b.now = 1000;
    expect(o.due()).toEqual([]);
    o._retryAll();
    expect(sent(o.due()).map((e) => e.i)).toEqual(['1-0', '1-1']);
  });
});

describe('the back-off restarts when everything is made due at once', () => {
  it('an event that waited for the link is retried 5 s after the link came back, then 10 s, not after its age', () => {
    const b = new MemoryBoard();
    const o = openOutbox(b);
    o.add('1-0', 'hi', '');
    // Ten minutes without a link: nothing was sent.
    b.now = 10 * 60_000;
    o._retryAll();
    expect(o.due()).toHaveLength(1);
    expect(o._nextDue()).toBe(b.now + 5000);
    b.now += 5000;
    expect(o.due()).toHaveLength(1);
    expect(o._nextDue()).toBe(b.now + 10_000);
  });

  it('after a reboot too', () => {
    const b = new MemoryBoard();
    openOutbox(b).add('1-0', 'sos', '');
    b.now = 3000;
    const again = openOutbox(b);
    expect(again.due()).toHaveLength(1);
    expect(again._nextDue()).toBe(3000 + 5000);
  });
});
