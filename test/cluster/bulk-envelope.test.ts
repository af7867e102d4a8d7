// The bulk lane's batch envelope (hub/cluster/bulk-envelope.ts), pure: what an edge encodes a worker
// decodes record for record, payload bytes unchanged; each kind of malformed envelope is refused
// whole with a message naming what is wrong; its subject can never be a device's; and the bulk
// lane's split of a pull into commits (bulk-lane.ts commitGroups, pullSize).
import { describe, expect, it } from 'vitest';
import { headers } from '@nats-io/transport-node';
import { BULK_BATCH_FORMAT, bulkBatchSubject, decodeBulkBatch, encodeBulkBatch, FORMAT_HEADER, isBulkBatch, recordBytes, type BulkRecord } from '../../hub/cluster/bulk-envelope.js';
import { encodeInbound, InboundFormatError, inboundSubject } from '../../hub/cluster/inbound.js';
import { bulkFilter } from '../../hub/cluster/lanes.js';
import { commitGroups, pullSize } from '../../hub/cluster/bulk-lane.js';

const T = 1_772_445_600_000;
const records: BulkRecord[] = [
  { deviceId: 'fob-1', leaf: 'hb', payload: Buffer.from('{"b":80,"m":1}'), receivedAt: T },
  { deviceId: 'FOB_2-x', leaf: '_presence', payload: Buffer.from('1'), receivedAt: T + 1 },
  // Bytes that are not text, and an empty payload: carried as they are.
  { deviceId: 'fob-3', leaf: 'st', payload: Uint8Array.from([0x00, 0xff, 0x7b, 0x0a]), receivedAt: T + 2 },
  { deviceId: 'fob-4', leaf: 'hb', payload: new Uint8Array(0), receivedAt: T + 3 },
];

/** A NATS subject matches a filter ending in `>` (NATS subjects: `>` matches one or more tokens). */
function matches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

function envelope(data: Uint8Array, set: Record<string, string> = { [FORMAT_HEADER]: BULK_BATCH_FORMAT, 'Lw-Edge': 'edge-a' }) {
  const h = headers();
  for (const [k, v] of Object.entries(set)) h.set(k, v);
  return () => decodeBulkBatch(h, data);
}

describe('bulk envelope', () => {
  it('round-trips every record, payload bytes unchanged, with the edge id once', () => {
    const { headers: h, data } = encodeBulkBatch('edge-a', records);
    expect(isBulkBatch(h)).toBe(true);
    expect(h.get(FORMAT_HEADER)).toBe(BULK_BATCH_FORMAT);
    expect(data.length).toBe(4 + records.reduce((a, r) => a + recordBytes(r), 0));
    const back = decodeBulkBatch(h, data);
    expect(back.map((r) => ({ ...r, payload: [...r.payload] }))).toEqual(records.map((r) => ({ ...r, payload: [...r.payload], edgeId: 'edge-a' })));
    // A single message is not an envelope.
    expect(isBulkBatch(encodeInbound({ ...records[0]!, edgeId: 'edge-a' }).headers)).toBe(false);
  });

  it('has a subject the bulk consumer takes and no device subject can equal', () => {
    const subject = bulkBatchSubject('lw.in', 'edge-a');
    expect(subject).toBe('lw.in.bulk.edge-a');
    expect(matches(bulkFilter('lw.in'), subject)).toBe(true);
    // One token after `bulk` where a device's has two; a dotted node_id is made one token.
    expect(bulkBatchSubject('lw.in', 'edge.host-1.42')).toBe('lw.in.bulk.edge_host-1_42');
    for (const leaf of ['hb', 'st', '_presence']) {
      const single = inboundSubject('lw.in', 16, 'edge-a', leaf);
      expect(matches(bulkFilter('lw.in'), single)).toBe(true);
      expect(single.split('.').length).toBe(subject.split('.').length + 1);
    }
  });

  it('refuses to encode what decode would refuse', () => {
    expect(() => encodeBulkBatch('edge-a', [])).toThrow(RangeError);
    expect(() => encodeBulkBatch('edge-a', [{ ...records[0]!, leaf: 'ev' }])).toThrow(/not a bulk-lane record/);
    expect(() => encodeBulkBatch('edge-a', [{ ...records[0]!, deviceId: 'a.b' }])).toThrow(/not a bulk-lane record/);
  });

  const good = encodeBulkBatch('edge-a', records).data;
  const withCount = (n: number) => {
    const b = Buffer.from(good);
    b.writeUInt32BE(n, 0);
    return b;
  };
  /** The good envelope with its first record's field at `offset` (after the count) overwritten. */
  const patched = (offset: number, bytes: number[]) => {
    const b = Buffer.from(good);
    Buffer.from(bytes).copy(b, 4 + offset);
    return b;
  };
  // First record: u8 5, "fob-1", u8 2, "hb", f64 time, u32 payload length, payload.
  it.each([
    ['no headers', () => decodeBulkBatch(undefined, good), /no headers/],
    ['another format version', envelope(good, { [FORMAT_HEADER]: 'bulk-batch/2', 'Lw-Edge': 'edge-a' }), /bulk-batch\/2.*not bulk-batch\/1/],
    ['no edge id', envelope(good, { [FORMAT_HEADER]: BULK_BATCH_FORMAT }), /Lw-Edge/],
    ['an empty body', envelope(new Uint8Array(0)), /ends inside the record count/],
    ['a count of zero', envelope(withCount(0)), /holds 0 records/],
    ['more records than it holds', envelope(withCount(5)), /ends inside the device id length of record 4/],
    ['fewer records than it holds', envelope(withCount(3)), /bytes after its 3 records/],
    ['a device id that is not one', envelope(patched(1, [0x2e])), /record 0 .* device id that is not one: ".ob-1"/],
    ['an event in the bulk lane', envelope(patched(7, [0x65, 0x76])), /record 0 .*leaf "ev": only heartbeats, status and presence/],
    ['a time that is not epoch ms', envelope(patched(9, [0x7f, 0xf8, 0, 0, 0, 0, 0, 0])), /received time that is not epoch ms: NaN/],
    ['a payload running past the end', envelope(patched(17, [0, 0, 0x10, 0])), /ends inside the payload of record 0/],
    ['a payload bigger than any fob may send', envelope(patched(17, [0x7f, 0, 0, 0])), /claims a payload of \d+ bytes/],
    ['trailing bytes', envelope(Buffer.concat([good, Buffer.from([0])])), /1 bytes after its 4 records/],
  ])('refuses %s whole, saying what is wrong', (_what, decode, why) => {
    expect(decode).toThrow(InboundFormatError);
    expect(decode).toThrow(why);
  });

  it('splits a pull into commits of at most bulk_batch records, each message completing with its last record', () => {
    const msg = (name: string, n: number) => ({ name, records: Array.from({ length: n }, (_, i) => ({ ...records[0]!, receivedAt: T + i, edgeId: name })) });
    const a = msg('a', 3);
    const b = msg('b', 1);
    const c = msg('c', 7);
    const groups = commitGroups([a, b, c], 5);
    expect(groups.map((g) => g.records.length)).toEqual([5, 5, 1]);
    expect(groups.map((g) => g.completes.map((m) => m.name))).toEqual([['a', 'b'], [], ['c']]);
    // Stream order is kept across the commits.
    expect(groups.flatMap((g) => g.records.map((r) => r.edgeId))).toEqual([...'aaabccccccc']);
    expect(commitGroups([msg('x', 5)], 5).map((g) => g.completes.length)).toEqual([1]);
    expect(commitGroups([], 5)).toEqual([]);
    // Pull about bulk_batch records' worth: singles pull bulk_batch, envelopes of 500 one at a time.
    expect(pullSize(250, 1)).toBe(250);
    expect(pullSize(250, 500)).toBe(1);
    expect(pullSize(250, 25)).toBe(10);
  });
});
