import { describe, expect, it } from 'vitest';
import {
  COMMAND,
  EVENT,
  EVENT_KINDS,
  LIMITS,
  PROTOCOL_VERSION,
  commandTopic,
  compareEventIds,
  decodeUartLine,
  encodeCommand,
  encodeEvent,
  encodeHeartbeat,
  encodeUartLine,
  eventTopic,
  heartbeatTopic,
  isValidDeviceId,
  makeEventId,
  parseCommand,
  parseDeviceTopic,
  parseFobEvent,
  parseHeartbeat,
  parsePosition,
  statusTopic,
  type FobEvent,
} from '../shared/index.js';

describe('topics', () => {
  it('builds and parses device topics', () => {
    expect(eventTopic('fob-1')).toBe('lw/fob-1/ev');
    expect(heartbeatTopic('fob-1')).toBe('lw/fob-1/hb');
    expect(commandTopic('fob-1')).toBe('lw/fob-1/cmd');
    expect(statusTopic('fob-1')).toBe('lw/fob-1/st');
    expect(parseDeviceTopic('lw/fob-1/ev')).toEqual({ deviceId: 'fob-1', leaf: 'ev' });
  });

  it('rejects topics that are not a device topic', () => {
    for (const t of ['lw/+/ev', 'lw/#', 'lw/fob-1/xx', 'other/fob-1/ev', 'lw/fob-1/ev/extra', 'lw//ev']) {
      expect(parseDeviceTopic(t), t).toBeNull();
    }
    expect(isValidDeviceId('a'.repeat(LIMITS.deviceIdMaxLength + 1))).toBe(false);
    expect(isValidDeviceId('fob 1')).toBe(false);
  });
});

describe('event ids', () => {
  it('are unique across boots and ordered by boot then sequence', () => {
    const ids = [makeEventId(1, 0), makeEventId(1, 35), makeEventId(1, 36), makeEventId(2, 0)];
    expect(new Set(ids).size).toBe(ids.length);
    const shuffled = [ids[3], ids[0], ids[2], ids[1]];
    expect(shuffled.sort(compareEventIds)).toEqual(ids);
  });
});

describe('round trip: what the core builds, the schemas accept', () => {
  const events: FobEvent[] = [
    { i: makeEventId(3, 7), k: EVENT.sos, ag: 0 },
    { i: makeEventId(3, 8), k: EVENT.covert, ag: 0 },
    { i: makeEventId(3, 9), k: EVENT.manDown, ag: 2 },
    { i: makeEventId(3, 10), k: EVENT.cancel, ag: 0, r: makeEventId(3, 8) },
    { i: makeEventId(3, 11), k: EVENT.checkIn, ag: 0, p: 1 },
    { i: makeEventId(3, 12), k: EVENT.visitStart, ag: 0, v: 'V-2231' },
    { i: makeEventId(3, 13), k: EVENT.visitEnd, ag: 0 },
    { i: makeEventId(3, 14), k: EVENT.extend, ag: 0, m: 30 },
    { i: makeEventId(3, 15), k: EVENT.endOfShift, ag: 60 },
    { i: makeEventId(3, 0), k: EVENT.hello, ag: 0, fw: '1.0.0', bd: 'puck', pv: PROTOCOL_VERSION, bc: 3 },
    { i: makeEventId(4, 0), k: EVENT.hello, ag: 0, fw: '1.0.0', bd: 'rak5010', pv: PROTOCOL_VERSION, bc: 4, wf: 'btn=BTN not a pin' },
  ];

  it('covers every event kind', () => {
    expect(new Set(events.map((e) => e.k))).toEqual(new Set(EVENT_KINDS));
  });

  it.each(events.map((e) => [e.k, e] as const))('event %s', (_k, ev) => {
    const parsed = parseFobEvent(encodeEvent(ev));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.value).toEqual(ev);
  });

  it('heartbeat', () => {
    const hb = { n: 12, b: 87, m: 1 as const, u: 3600, q: 0 };
    const parsed = parseHeartbeat(encodeHeartbeat(hb));
    expect(parsed).toEqual({ ok: true, value: hb });
  });

  it('commands', () => {
    const cmds = [
      { k: COMMAND.ack, i: '3-8' },
      { k: COMMAND.helpComing },
      { k: COMMAND.stopAlarm },
      { k: COMMAND.prompt, d: 300 },
      { k: COMMAND.alarmClosed },
      { k: COMMAND.config, hb: 300 },
    ];
    for (const c of cmds) {
      const parsed = parseCommand(encodeCommand(c));
      expect(parsed, c.k).toEqual({ ok: true, value: c });
    }
  });

  it('UART lines carry a leaf and the JSON', () => {
    const json = encodeEvent({ i: '1-1', k: EVENT.covert, ag: 0 });
    const line = encodeUartLine('ev', json);
    expect(line.endsWith('\n')).toBe(true);
    expect(decodeUartLine(line)).toEqual({ leaf: 'ev', json });
    expect(decodeUartLine('zz {}\n')).toBeNull();
    expect(decodeUartLine('garbage')).toBeNull();
  });
});

describe('bad input is rejected with an error naming the field', () => {
  const cases: [string, string, string][] = [
    ['wrong type', '{"n":"12","b":87,"m":1,"u":3600}', 'n'],
    ['out of range', '{"n":12,"b":187,"m":1,"u":3600}', 'b'],
    ['missing field', '{"n":12,"m":1,"u":3600}', 'b'],
    ['unknown field', '{"n":12,"b":87,"m":1,"u":3600,"zz":1}', '(message)'],
  ];
  it.each(cases)('heartbeat: %s', (_name, payload, field) => {
    const parsed = parseHeartbeat(payload);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.field).toBe(field);
      expect(parsed.error.message).toContain(field === '(message)' ? 'zz' : `"${field}"`);
    }
  });

  it('unknown event kind', () => {
    const parsed = parseFobEvent('{"i":"1-1","k":"boom","ag":0}');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.field).toBe('k');
  });

  it('oversize string', () => {
    const parsed = parseFobEvent(JSON.stringify({ i: '1-1', k: 'vs', ag: 0, v: 'V'.repeat(40) }));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.field).toBe('v');
  });

  it('bad event id', () => {
    const parsed = parseFobEvent('{"i":"not an id","k":"sos","ag":0}');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.field).toBe('i');
  });

  it('oversize payload is refused before parsing', () => {
    const parsed = parseFobEvent('{"i":"1-1","k":"sos","ag":0,"pad":"' + 'x'.repeat(300) + '"}');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(/256-byte limit/);
  });

  it('not JSON', () => {
    const parsed = parseFobEvent('sos!');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toMatch(/not valid JSON/);
  });

  it('extend beyond the limit, protocol version from the future', () => {
    const ext = parseFobEvent('{"i":"1-1","k":"ext","ag":0,"m":999}');
    expect(ext.ok || ext.error.field).toBe('m');
    const hi = parseFobEvent(`{"i":"1-0","k":"hi","ag":0,"fw":"1","bd":"puck","pv":${PROTOCOL_VERSION + 1},"bc":1}`);
    expect(hi.ok || hi.error.field).toBe('pv');
    // Issue 14: the wiring fault is a non-empty string of bounded length.
    for (const wf of ['""', '"' + 'x'.repeat(161) + '"', '1']) {
      const bad = parseFobEvent(`{"i":"1-0","k":"hi","ag":0,"fw":"1","bd":"rak5010","pv":1,"bc":1,"wf":${wf}}`);
      expect(bad.ok || bad.error.field, wf).toBe('wf');
    }
  });
});

describe('positions (protocol 2, issue 20)', () => {
  const fix = { la: 51.50722, lo: -0.1275, ac: 12, fa: 4, s: 'g' };

  it('accepts a fix on its own and inside an alarm event, and a version 1 hello', () => {
    expect(parsePosition(JSON.stringify(fix))).toEqual({ ok: true, value: fix });
    const sos = parseFobEvent(JSON.stringify({ i: '3-7', k: 'sos', ag: 0, l: fix }));
    expect(sos.ok && sos.value.l).toEqual(fix);
    expect(parseFobEvent('{"i":"1-0","k":"hi","ag":0,"fw":"1","bd":"puck","pv":1,"bc":1}').ok).toBe(true);
    expect(parseDeviceTopic('lw/fob-1/ps')).toEqual({ deviceId: 'fob-1', leaf: 'ps' });
    expect(decodeUartLine('ps ' + JSON.stringify(fix) + '\n')).toEqual({ leaf: 'ps', json: JSON.stringify(fix) });
  });

  it.each([
    ['la', { ...fix, la: 90.5 }],
    ['lo', { ...fix, lo: -181 }],
    ['la', { ...fix, la: 51.507221 }],
    ['ac', { ...fix, ac: 1.5 }],
    ['ac', { ...fix, ac: 100001 }],
    ['fa', { ...fix, fa: -1 }],
    ['s', { ...fix, s: 'x' }],
  ])('refuses a bad %s', (field, bad) => {
    const parsed = parsePosition(JSON.stringify(bad));
    expect(parsed.ok || parsed.error.field).toBe(field);
    const inEvent = parseFobEvent(JSON.stringify({ i: '3-7', k: 'sos', ag: 0, l: bad }));
    expect(inEvent.ok || inEvent.error.field).toBe('l.' + field);
  });
});
