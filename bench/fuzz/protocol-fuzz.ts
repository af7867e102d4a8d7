/**
 * Structure-aware payloads for the fob topics, generated from the protocol's own definitions
 * (shared/protocol-core.ts kinds and LIMITS, shared/protocol-schemas.ts bounds): a valid message of
 * each kind, then one mutation of it (a field removed, retyped, pushed past its bound, an unknown
 * kind or key, a huge age, unicode, a duplicate id, a size at the payload limit). Each payload says
 * which mutation made it, so the report counts what was tried by kind.
 */
import { ALARM_EVENT_KINDS, BOARDS, EVENT_KINDS, LIMITS, PROTOCOL_VERSION, TOPIC, type EventKind } from '../../shared/protocol-core.js';
import { EVENT_AGE_CAP_SECONDS } from '../../shared/protocol-schemas.js';
import type { Prng } from './prng.js';

export interface FuzzPayload {
  leaf: string;
  payload: Buffer;
  /** The generator step that made it, e.g. "ev:sos/age-huge". */
  label: string;
}

type Msg = Record<string, unknown>;

/** Per-stream state: the ids this stream used, so it can repeat one on purpose. */
export class EventIds {
  private seq = 0;
  readonly used: string[] = [];
  constructor(private readonly boot: number) {}
  next(): string {
    const id = `${this.boot.toString(36)}-${(++this.seq).toString(36)}`;
    if (this.used.length < 64) this.used.push(id);
    return id;
  }
}

function validEvent(rng: Prng, kind: EventKind, ids: EventIds): Msg {
  const m: Msg = { i: ids.next(), k: kind, ag: rng.int(0, 120) };
  switch (kind) {
    case 'can':
      if (rng.chance(0.5) && ids.used.length) m.r = rng.pick(ids.used);
      break;
    case 'chk':
      if (rng.chance(0.5)) m.p = rng.int(0, 1);
      break;
    case 'vs':
    case 've':
      if (rng.chance(0.5)) m.v = `V-${rng.int(1, 99)}`;
      break;
    case 'ext':
      m.m = rng.int(1, LIMITS.extendMaxMinutes);
      break;
    case 'hi':
      Object.assign(m, { fw: '1.0.0', bd: rng.pick(BOARDS), pv: PROTOCOL_VERSION, bc: rng.int(0, 1000) });
      break;
  }
  return m;
}

function validHeartbeat(rng: Prng): Msg {
  // A low battery raises an alarm (R16) with its ladder: now and then, not in every other heartbeat.
  const m: Msg = { n: rng.int(0, 10_000), b: rng.chance(0.02) ? rng.int(0, 100) : rng.int(40, 100), m: rng.int(0, 1), u: rng.int(0, 1e6) };
  if (rng.chance(0.5)) m.q = rng.int(0, 10_000);
  return m;
}

const UNICODE = ['é', '漢字', '🚨', '\u0000', '\u202e', '\ud800', '\uffff', 'ẞ', '\u200b', '\\'];
const WRONG_TYPES: unknown[] = [null, true, false, '', '0', 1.5, -1, [], {}, [1, 2], { a: 1 }, 1e308, -0, 'NaN'];

function unicodeString(rng: Prng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += rng.pick(UNICODE);
  return s;
}

/**
 * Mutations of one message object; the name goes into the label. `weight` sets how often each is
 * picked: those whose result the hub stores (a valid message, a stale or duplicate one) are rare, as
 * each costs a durable SQLite commit (synchronous=FULL) and an alarm kind raises an alarm with its
 * ladder; a million of them would measure the disk, not the parser.
 */
const MUTATIONS: { name: string; weight?: number; apply(rng: Prng, m: Msg, ids: EventIds): Msg | string }[] = [
  { name: 'valid', weight: 0.15, apply: (_r, m) => m },
  {
    name: 'field-removed',
    apply: (rng, m) => {
      const keys = Object.keys(m);
      delete m[rng.pick(keys)];
      return m;
    },
  },
  {
    name: 'wrong-type',
    apply: (rng, m) => {
      m[rng.pick(Object.keys(m))] = rng.pick(WRONG_TYPES);
      return m;
    },
  },
  { name: 'unknown-kind', apply: (rng, m) => ({ ...m, k: rng.pick(['sosx', 'SOS', '', 'ack', 'k'.repeat(rng.int(1, 40)), unicodeString(rng, 3)]) }) },
  { name: 'unknown-key', apply: (rng, m) => ({ ...m, [rng.pick(['x', '__proto__', 'constructor', 'ii', unicodeString(rng, 2)])]: rng.int(0, 9) }) },
  { name: 'age-huge', apply: (rng, m) => ({ ...m, ag: rng.pick([LIMITS.eventAgeMaxSeconds + 1, EVENT_AGE_CAP_SECONDS, EVENT_AGE_CAP_SECONDS + 1, 2 ** 31, 2 ** 53, 1e300, -1]) }) },
  { name: 'age-stale', weight: 0.05, apply: (rng, m) => ({ ...m, ag: rng.int(LIMITS.eventAgeMaxSeconds + 1, EVENT_AGE_CAP_SECONDS) }) },
  { name: 'id-boundary', apply: (rng, m) => ({ ...m, i: rng.pick(['1-', '-1', 'a-b', '1-1'.padEnd(LIMITS.eventIdMaxLength, '0'), `1-${'z'.repeat(LIMITS.eventIdMaxLength)}`, 'A-1', '1_1', '']) }) },
  { name: 'id-duplicate', weight: 0.1, apply: (rng, m, ids) => (ids.used.length ? { ...m, i: rng.pick(ids.used) } : m) },
  { name: 'unicode', apply: (rng, m) => ({ ...m, [rng.pick(Object.keys(m))]: unicodeString(rng, rng.int(1, 60)) }) },
  {
    name: 'size-limit',
    weight: 0.5,
    // A payload of exactly the limit, and one byte over it (refused unparsed: LIMITS.fobPayloadMaxBytes).
    apply: (rng, m) => {
      const bare = JSON.stringify({ ...m, x: '' });
      const pad = LIMITS.fobPayloadMaxBytes - Buffer.byteLength(bare) + rng.int(0, 1);
      return { ...m, x: 'p'.repeat(Math.max(0, pad)) };
    },
  },
  { name: 'number-bounds', apply: (rng, m) => ({ ...m, [rng.pick(Object.keys(m))]: rng.pick([0, -1, 101, 241, 2 ** 31, Number.MAX_SAFE_INTEGER, 0.5, 1e21]) }) },
  { name: 'not-json', apply: (rng, m) => JSON.stringify(m).slice(0, rng.int(0, 20)) + rng.pick(['', '}', '{{', '\u0000', ',]']) },
  { name: 'json-not-object', apply: (rng) => JSON.stringify(rng.pick([[], 1, 'sos', null, true, [{ k: 'sos' }]])) },
  {
    name: 'deep-nesting',
    apply: (rng, m) => {
      const n = rng.int(10, 100);
      return { ...m, x: JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown };
    },
  },
];

/** One structure-aware payload for a fob's topics. */
export function fuzzFobPayload(rng: Prng, ids: EventIds): FuzzPayload {
  const r = rng.next();
  let leaf: string;
  let base: Msg;
  let kind: string;
  if (r < 0.6) {
    leaf = TOPIC.event;
    // Alarm kinds are a tenth as likely as the others: each valid one raises an alarm and its
    // ladder (several commits now and more as it escalates); the kill -9 loop is where SOS is loaded.
    kind = rng.chance(0.04) ? rng.pick(ALARM_EVENT_KINDS) : rng.pick(EVENT_KINDS.filter((k) => !ALARM_EVENT_KINDS.includes(k)));
    base = validEvent(rng, kind as EventKind, ids);
  } else if (r < 0.92) {
    leaf = TOPIC.heartbeat;
    kind = 'hb';
    base = validHeartbeat(rng);
  } else {
    leaf = TOPIC.status;
    kind = 'st';
    const s = rng.pick(['0', '1', '2', '', '11', '🚨', 'true']);
    return { leaf, payload: Buffer.from(s), label: `st/${['0', '1'].includes(s) ? 'valid' : 'invalid'}` };
  }
  const mutation = pickWeighted(rng);
  const out = mutation.apply(rng, base, ids);
  const text = typeof out === 'string' ? out : JSON.stringify(out);
  return { leaf, payload: Buffer.from(text, 'utf8'), label: `${leaf}:${kind}/${mutation.name}` };
}

const TOTAL_WEIGHT = MUTATIONS.reduce((a, m) => a + (m.weight ?? 1), 0);

function pickWeighted(rng: Prng): (typeof MUTATIONS)[number] {
  let x = rng.next() * TOTAL_WEIGHT;
  for (const m of MUTATIONS) {
    x -= m.weight ?? 1;
    if (x < 0) return m;
  }
  return MUTATIONS[MUTATIONS.length - 1];
}
