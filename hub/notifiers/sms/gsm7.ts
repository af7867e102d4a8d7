/**
 * What one SMS can carry in text mode. The hub sets the modem's TE character set to "IRA" (ITU-T T.50,
 * i.e. ASCII; 3GPP TS 27.007 §5.5 +CSCS) and the modem maps it onto the GSM 7-bit default alphabet
 * (3GPP TS 23.038 §6.2.1). One SMS holds 160 septets (TS 23.038 §6.1.2.1.1: 140 octets of 7-bit
 * characters); the characters of the default alphabet's extension table (§6.2.1.1: ^ { } \ [ ~ ] |)
 * take two septets each (ESC + the character). The backtick is not in the default alphabet at all.
 *
 * Lonewatch sends ONE SMS per notice, never a concatenated one: a concatenated SMS needs a user-data
 * header, which text mode cannot send, and a phone that gets part 2 before part 1 shows half an alarm.
 * So the text is built to fit (`fitSms`), and the modem client refuses anything longer. Pure.
 */

export const SMS_MAX_SEPTETS = 160;

const EXTENSION = new Set(['^', '{', '}', '\\', '[', '~', ']', '|']);

/** Printable ASCII that is in the GSM default alphabet (basic or extension table), and LF. */
function isSendable(ch: string): boolean {
  if (ch === '\n') return true;
  const c = ch.charCodeAt(0);
  return c >= 0x20 && c <= 0x7e && ch !== '`';
}

/** Septets `text` takes in one SMS (extension-table characters count two). */
export function septets(text: string): number {
  let n = 0;
  for (const ch of text) n += EXTENSION.has(ch) ? 2 : 1;
  return n;
}

/**
 * `text` reduced to what the modem can send: accents dropped (Zoë -> Zoe), typographic quotes and
 * dashes made plain, anything else outside the alphabet replaced by `?`, so nothing is lost silently
 * at the modem or the network.
 */
export function toSendable(text: string): string {
  const plain = text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2026/g, '...')
    .replace(/\r\n?/g, '\n');
  let out = '';
  for (const ch of plain) out += isSendable(ch) ? ch : '?';
  return out;
}

/** Whether `text` is sendable as one SMS as it stands. */
export function fitsOneSms(text: string): boolean {
  return toSendable(text) === text && septets(text) <= SMS_MAX_SEPTETS;
}

/**
 * Joins `head` (must stay whole: what the alarm is and whom it is about), `middle` (shortened with
 * "..." when the whole does not fit) and `tail` (kept whole: the link) into one SMS.
 */
export function fitSms(head: string, middle: string, tail: string): string {
  const h = toSendable(head);
  const t = toSendable(tail);
  let m = toSendable(middle);
  const whole = (mid: string): string => [h, mid, t].filter((s) => s.length > 0).join('\n');
  if (septets(whole(m)) <= SMS_MAX_SEPTETS) return whole(m);
  while (m.length > 0 && septets(whole(`${m}...`)) > SMS_MAX_SEPTETS) m = m.slice(0, -1);
  let text = whole(m.length > 0 ? `${m.trimEnd()}...` : '');
  // Head and tail alone too long (a very long link): cut from the end, the link last.
  while (septets(text) > SMS_MAX_SEPTETS) text = text.slice(0, -1);
  return text;
}
