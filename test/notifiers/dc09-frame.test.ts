import { describe, expect, it } from 'vitest';
import { isBareAnswer, readAnswer } from '../../hub/notifiers/sia-dc09/dc09-answer.js';
import { crc16, decryptBody, encodeFrame, formatTimestamp, nextSeq, parseFrame, parseKey, parseTimestamp, splitFrames, type Dc09Message } from '../../hub/notifiers/sia-dc09/dc09-frame.js';
import { CID_CODES, cidData, cidFor, parseCidData } from '../../hub/notifiers/sia-dc09/contact-id.js';
import { arcCrc } from '../helpers/dc09-receiver.js';

// Frames published with pysiaalarm's test suite (captured from real panels and its own encoder); the
// first four characters are the CRC the sender computed.
const PUBLISHED = [
  'E5D50078"SIA-DCS"6002L0#AAA[|Nri1/CL501]_14:12:04,09-25-2019',
  '60AB0078"*SIA-DCS"5994L0#AAA[5AB718E008C616BF16F6468033A11326B0F7546CAB230910BCA10E4DEBA42283C436E4F8EFF50931070DDE36D5BB5F0C',
  '76D80055"*NULL"0000R0L0#AAAB[B4BC8B40D0E6D959D6BEA78E88CC0B2155741A3C44FBB96D476A3E557CAD64D9',
];
// Its key is the 16 ASCII characters "AAAAAAAAAAAAAAAA" (AES-128).
const PUBLISHED_KEY = Buffer.from('AAAAAAAAAAAAAAAA', 'latin1');

describe('DC-09 CRC', () => {
  it('is CRC-16/ARC: the catalogue check value of "123456789" is BB3D', () => {
    expect(crc16('123456789')).toBe(0xbb3d);
    expect(arcCrc('123456789')).toBe(0xbb3d);
  });

  it.each(PUBLISHED)('matches the CRC of a published frame: %s', (frame) => {
    expect(crc16(frame.slice(8)).toString(16).toUpperCase().padStart(4, '0')).toBe(frame.slice(0, 4));
  });
});

describe('DC-09 frames', () => {
  it('decrypts the published encrypted NULL frame and checks its length', () => {
    const p = parseFrame(PUBLISHED[2], PUBLISHED_KEY);
    expect(p.crcSent).toBe(p.crcComputed);
    expect(p.lengthSent).toBe(p.lengthComputed);
    expect(p.message).toMatchObject({ id: 'NULL', encrypted: true, seq: 0, receiver: '0', line: '0', account: 'AAAB', data: '' });
    expect(new Date(p.message.timestamp!).toISOString()).toBe('2020-07-05T18:24:52.000Z');
    expect(decryptBody(PUBLISHED[2].slice(PUBLISHED[2].indexOf('[') + 1), PUBLISHED_KEY)).toBe('ppppppppppp]_18:24:52,07-05-2020');
  });

  it('encodes the standard example ADM-CID message field for field', () => {
    const msg: Dc09Message = {
      id: 'ADM-CID',
      encrypted: false,
      seq: 9876,
      receiver: '579BDF',
      line: '789ABC',
      account: '12345A',
      data: cidData('12345A', { qualifier: 1, code: 110, group: 0, zone: 129 }),
      extended: [],
      timestamp: Date.UTC(2019, 8, 25, 14, 12, 4),
    };
    const frame = encodeFrame(msg);
    const body = '"ADM-CID"9876R579BDFL789ABC#12345A[#12345A|1110 00 129]_14:12:04,09-25-2019';
    expect(frame).toBe(`\n${crc16(body).toString(16).toUpperCase().padStart(4, '0')}004B${body}\r`);
    expect(body.length).toBe(0x4b);
    const back = parseFrame(frame);
    expect(back.message).toEqual(msg);
    expect(parseCidData(back.message.data)).toEqual({ account: '12345A', qualifier: 1, code: 110, group: 0, zone: 129 });
  });

  it.each([32, 48, 64])('encrypts with AES-%i hex digits: pad, |, data, ], timestamp in whole blocks', (digits) => {
    const key = parseKey('0123456789ABCDEF'.repeat(4).slice(0, digits));
    const msg: Dc09Message = { id: 'ADM-CID', encrypted: true, seq: 7, receiver: null, line: '3', account: '1234', data: '#1234|1120 01 005', extended: [], timestamp: Date.UTC(2026, 10, 23, 9, 0, 0) };
    const frame = encodeFrame(msg, key);
    expect(frame).toMatch(/^\n[0-9A-F]{4}0[0-9A-F]{3}"\*ADM-CID"0007L3#1234\[([0-9A-F]{32})+\r$/);
    const p = parseFrame(frame, key);
    expect(p.message).toEqual(msg);
    expect(p.crcSent).toBe(p.crcComputed);
    const plain = decryptBody(frame.slice(frame.indexOf('[') + 1, -1), key);
    expect(plain.length % 16).toBe(0);
    expect(plain).toMatch(/^[^[\]|]{1,16}\|#1234\|1120 01 005\]_09:00:00,11-23-2026$/);
    // The wrong key does not parse.
    expect(() => parseFrame(frame, parseKey('F'.repeat(digits)))).toThrow();
  });

  it('refuses keys of the wrong size and encrypted messages without a timestamp', () => {
    expect(() => parseKey('ABCD')).toThrow(/32, 48 or 64 hex digits/);
    expect(() => encodeFrame({ id: 'NULL', encrypted: true, seq: 0, receiver: null, line: '0', account: '123', data: '', extended: [], timestamp: null }, parseKey('0'.repeat(32)))).toThrow(/timestamp/);
  });

  it('parses a NAK with the receiver time and no account', () => {
    const body = '"NAK"0000R0L0A0[]_10:11:12,11-23-2026';
    const p = parseFrame(`\n${crc16(body).toString(16).padStart(4, '0').toUpperCase()}${body.length.toString(16).padStart(4, '0').toUpperCase()}${body}\r`);
    expect(p.message).toMatchObject({ id: 'NAK', seq: 0, line: '0', account: null, timestamp: Date.UTC(2026, 10, 23, 10, 11, 12) });
  });

  it('sequence numbers run 0001-9999 and wrap to 0001', () => {
    expect(nextSeq(0)).toBe(1);
    expect(nextSeq(41)).toBe(42);
    expect(nextSeq(9999)).toBe(1);
  });

  it('timestamps are _HH:MM:SS,MM-DD-YYYY in UTC', () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5);
    expect(formatTimestamp(t)).toBe('_03:04:05,01-02-2026');
    expect(parseTimestamp('_03:04:05,01-02-2026')).toBe(t);
    expect(parseTimestamp('_25:04:05,01-02-2026')).toBeNull();
  });

  it('splits a TCP stream into frames, keeping a partial one', () => {
    const { frames, rest } = splitFrames('junk\nAAAA\r\nBBBB\r\nCC');
    expect(frames).toEqual(['\nAAAA\r', '\nBBBB\r']);
    expect(rest).toBe('\nCC');
  });
});

describe('Contact ID mapping', () => {
  it('maps alarm kinds to the codes documented in docs/notifications.md', () => {
    expect(Object.fromEntries(Object.entries(CID_CODES).map(([k, v]) => [k, v.code]))).toEqual({
      sos: 120,
      covert_sos: 121,
      man_down: 100,
      missed_checkin: 102,
      low_battery: 302,
      device_silent: 350,
    });
  });

  it('new when open, restore (3) when resolved, 406 when cancelled, 601 test for drills', () => {
    expect(cidFor('sos', 'notifying', false)).toMatchObject({ qualifier: 1, code: 120 });
    expect(cidFor('covert_sos', 'resolved', false)).toMatchObject({ qualifier: 3, code: 121 });
    expect(cidFor('sos', 'cancelled', false)).toMatchObject({ qualifier: 1, code: 406 });
    expect(cidFor('sos', 'notifying', true)).toMatchObject({ qualifier: 1, code: 601 });
  });

  it('formats QEEE GG CCC with fixed widths and refuses out-of-range fields', () => {
    expect(cidData('1234', { qualifier: 3, code: 302, group: 1, zone: 7 })).toBe('#1234|3302 01 007');
    expect(() => cidData('1234', { qualifier: 1, code: 120, group: 100, zone: 0 })).toThrow();
  });
});

describe('DC-09 answers in every form', () => {
  const framed = (body: string) => `\n${crc16(body).toString(16).padStart(4, '0').toUpperCase()}${body.length.toString(16).padStart(4, '0').toUpperCase()}${body}\r`;
  it('reads the standard NAK and pysiaalarm\'s line-first NAK alike, with the receiver time', () => {
    for (const body of ['"NAK"0000R0L0A0[]_10:11:12,11-23-2026', '"NAK"0000L0R0A0[]_10:11:12,11-23-2026', '"NAK"0000L0A0[]_10:11:12,11-23-2026']) {
      expect(readAnswer(framed(body), null)).toMatchObject({ kind: 'NAK', seq: 0, line: '0', account: null, framed: true, intact: true, timestamp: Date.UTC(2026, 10, 23, 10, 11, 12) });
    }
  });
  it('reads a DUH with and without routing, a bare NAK/DUH and an empty frame', () => {
    expect(readAnswer(framed('"DUH"0007R1L2#1234[]'), null)).toMatchObject({ kind: 'DUH', seq: 7, receiver: '1', line: '2', account: '1234' });
    expect(readAnswer(framed('"DUH"0007L2#1234[]'), null)).toMatchObject({ kind: 'DUH', seq: 7, receiver: null, line: '2' });
    expect(readAnswer('"NAK"', null)).toMatchObject({ kind: 'NAK', seq: null, timestamp: null, framed: false });
    expect(readAnswer('"DUH"', null)).toMatchObject({ kind: 'DUH', framed: false });
    expect(readAnswer('\n\r', null)).toMatchObject({ kind: 'EMPTY' });
    expect(isBareAnswer('"NAK"')).toBe(true);
    expect(isBareAnswer('"NAK"0000')).toBe(false);
  });
  it('flags a damaged answer instead of throwing, and refuses what is no answer', () => {
    expect(readAnswer('\n00000014"ACK"0001L0#1234[]\r', null).intact).toBe(false);
    expect(() => readAnswer(framed('"ADM-CID"0001L0#1234[]'), null)).toThrow(/not an answer/);
    expect(() => readAnswer('hello', null)).toThrow(/not a DC-09/);
  });
});
