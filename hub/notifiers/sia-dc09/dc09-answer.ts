/**
 * Reading the receiver's answer to one DC-09 message, pure (no I/O), and tolerant of every form the
 * standard and real receivers use, so that a refusal is never mistaken for a broken line:
 *
 * - ACK `"ACK"seq Rrcvr Lpref #acct[]` (DC-09 5.5.2.1), encrypted `"*ACK"...[<hex>` when the message was;
 * - NAK `"NAK"0000R0L0A0[]_HH:MM:SS,MM-DD-YYYY` (DC-09 5.5.2.2: sequence 0000, the receiver's time);
 *   pysiaalarm writes the line before the receiver (`"NAK"0000L0R0A0[]_...`), so R, L and # are read in
 *   any order and each is optional;
 * - DUH `"DUH"seq Rrcvr Lpref #acct[]` (DC-09 5.5.2.3: not understood), sent in clear even for an
 *   encrypted message;
 * - answers with no CRC/length framing at all: pysiaalarm sends a bare `"NAK"` or `"DUH"` for an
 *   account it does not know, and an empty frame (LF CR) for a message whose CRC it rejects.
 */
import { crc16, decryptBody, Dc09ParseError, parseTimestamp } from './dc09-frame.js';

export type AnswerKind = 'ACK' | 'NAK' | 'DUH' | 'RSP' | 'EMPTY';

export interface Dc09Answer {
  kind: AnswerKind;
  encrypted: boolean;
  /** null when the answer carried none (bare or empty). */
  seq: number | null;
  receiver: string | null;
  line: string | null;
  /** Hex after #, or null (a NAK's `A0`, or none). */
  account: string | null;
  /** The receiver's clock (ms, UTC), when the answer carried a timestamp. */
  timestamp: number | null;
  /** CRC and length framing was present. */
  framed: boolean;
  /** False when framed and the CRC or length does not match (an answer damaged on the way). */
  intact: boolean;
}

const ANSWER_IDS = ['ACK', 'NAK', 'DUH', 'RSP'];

/** Reads the R / L / # fields between the sequence number and the `[`, in any order. */
function readRouting(fields: string): { receiver: string | null; line: string | null; account: string | null } {
  let rest = fields;
  // DC-09's NAK puts "A0" where the account would be; it is no account.
  if (/A0$/i.test(rest) && !rest.includes('#')) rest = rest.slice(0, -2);
  const out = { receiver: null as string | null, line: null as string | null, account: null as string | null };
  for (const token of rest.split(/(?=[RL#])/)) {
    if (token === '') continue;
    const m = /^([RL#])([0-9A-Fa-f]*)$/.exec(token);
    if (!m) throw new Dc09ParseError(`unreadable routing field ${JSON.stringify(token)} in the answer`);
    if (m[1] === 'R') out.receiver = m[2];
    else if (m[1] === 'L') out.line = m[2];
    else out.account = m[2];
  }
  return out;
}

/**
 * Parses one answer (with or without its LF/CR). Throws Dc09ParseError only for something that is no
 * DC-09 answer at all; a damaged one comes back with `intact: false` for the caller to judge.
 */
export function readAnswer(raw: string, key: Buffer | null): Dc09Answer {
  const text = raw.replace(/^\n/, '').replace(/\r$/, '');
  const none = { encrypted: false, seq: null, receiver: null, line: null, account: null, timestamp: null };
  if (text.trim() === '') return { kind: 'EMPTY', ...none, framed: false, intact: true };
  let body = text;
  let framed = false;
  let intact = true;
  const head = /^([0-9A-F]{4})(0[0-9A-F]{3})(".*)$/s.exec(text);
  if (head) {
    framed = true;
    body = head[3];
    intact = parseInt(head[1], 16) === crc16(body) && parseInt(head[2], 16) === body.length;
  }
  const m = /^"(\*?)([A-Z-]+)"(\d{4})?([^[]*)(?:\[(.*))?$/s.exec(body);
  if (!m) throw new Dc09ParseError(`answer is not a DC-09 message: ${JSON.stringify(text.slice(0, 60))}`);
  const [, star, id, seqText, routing, afterBracket] = m;
  if (!ANSWER_IDS.includes(id)) throw new Dc09ParseError(`"${id}" is not an answer (ACK, NAK, DUH or RSP)`);
  const encrypted = star === '*';
  const r = readRouting(routing);
  let rest = afterBracket ?? '';
  if (encrypted && rest !== '') {
    if (!key) throw new Dc09ParseError('encrypted answer and no key');
    rest = decryptBody(rest, key);
    // The pad (zeros from pysiaalarm, random from others) runs to the first ] or |.
    const cut = rest.search(/[|\]]/);
    if (cut < 0) throw new Dc09ParseError('encrypted answer has no ] after its pad (wrong key?)');
    rest = rest.slice(cut);
    if (rest.startsWith('|')) rest = rest.slice(rest.indexOf(']'));
  }
  const close = rest.indexOf(']');
  let after = close >= 0 ? rest.slice(close + 1) : '';
  while (after.startsWith('[')) after = after.slice(after.indexOf(']') + 1 || after.length);
  const timestamp = after.startsWith('_') ? parseTimestamp(after.trim()) : null;
  return {
    kind: id as AnswerKind,
    encrypted,
    seq: seqText === undefined ? null : Number(seqText),
    ...r,
    timestamp,
    framed,
    intact,
  };
}

/** A bare answer with no LF/CR around it (pysiaalarm's `"NAK"` for an unknown account). */
export function isBareAnswer(text: string): boolean {
  return /^"\*?(ACK|NAK|DUH|RSP)"\s*$/.test(text.trim());
}
