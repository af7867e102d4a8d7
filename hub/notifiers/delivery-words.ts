/**
 * One delivery record in words a duty officer can act on (issue 15 item 15): who, by what channel,
 * and what was confirmed, e.g. "E-mail to Sam Patel (line manager) at s***@example.org: sent, not yet
 * confirmed read". Notice ids, channel names and the relay's own answers (an SMTP queue id, a
 * `+CMGS` reference) are not in the sentence; they stay in `technical`, for whoever follows a
 * delivery up with IT. Pure: the facts in, the words out.
 */

/** The fields a `delivery` timeline entry (or a summary line) carries; every one is optional. */
export interface DeliveryFacts {
  channel?: string | null;
  status?: string | null;
  /** A summary line's name for status. */
  state?: string | null;
  recipientId?: string | null;
  recipientName?: string | null;
  recipientRole?: string | null;
  address?: string | null;
  reason?: string | null;
  /** The relay's own answer (SMTP response, HTTP status, modem reference). */
  detail?: string | null;
  via?: string | null;
  to?: string | null;
  target?: string | null;
  event?: string | null;
  closed?: boolean;
  retryable?: boolean;
  gaveUp?: boolean;
  noticeId?: string | null;
  attempt?: number | null;
}

export interface DeliveryWords {
  /** The whole line: "E-mail to Sam Patel (line manager) at s***@example.org: sent, not yet confirmed read". */
  text: string;
  /** Who it was for: "Sam Patel (line manager)", "the alarm receiving centre (ARC)". */
  who: string;
  /** What was done and confirmed: "sent, not yet confirmed read", "FAILED, trying again". */
  confirmed: string;
  /** What the relay said and which notice it was, for IT; null when there is nothing. */
  technical: string | null;
  /** Nobody was told (yet) along this line: shown in red. */
  bad: boolean;
}

/** How each channel is named at the start of the sentence. */
const CHANNEL_NOUN: Record<string, string> = { email: 'E-mail', sms: 'SMS', webhook: 'Webhook', arc: 'Alarm signal' };
/** How each channel is named inside a sentence ("instead of the e-mail"). */
const CHANNEL_INNER: Record<string, string> = { email: 'e-mail', sms: 'SMS', webhook: 'webhook', arc: 'ARC link' };
/** The organisation's channels have no person at the other end. */
const ORG_RECEIVER: Record<string, string> = { webhook: "the control room's system", arc: 'the alarm receiving centre (ARC)' };

/**
 * What "sent" and "delivered" prove on each channel (docs/notifications.md): an SMTP relay's 250
 * says the mail server took it, never that anyone read it; an SMS is on the phone only once its
 * delivery report says so; a webhook's 2xx and an ARC's ACK mean their system has it.
 */
const SENT_WORDS: Record<string, string> = {
  email: 'sent, not yet confirmed read',
  sms: 'sent, not yet confirmed delivered to the phone',
  webhook: 'sent, not yet confirmed received',
  arc: 'sent, not yet acknowledged by the ARC',
};
const DELIVERED_WORDS: Record<string, string> = {
  email: 'delivered, not yet confirmed read',
  sms: 'delivered to the phone, not yet confirmed read',
  webhook: "received by the control room's system",
  arc: 'received and acknowledged by the ARC',
};

const BAD_STATES = new Set(['failed', 'fallthrough', 'not_configured', 'no_address', 'no_contact']);

function roleWords(role: string): string {
  return role.replace(/_/g, ' ');
}

function channelInner(channel: string | null | undefined): string {
  return channel ? (CHANNEL_INNER[channel] ?? channel) : 'message';
}

function who(f: DeliveryFacts): string {
  if (f.recipientName) return `${f.recipientName}${f.recipientRole ? ` (${roleWords(f.recipientRole)})` : ''}`;
  if (f.channel && ORG_RECEIVER[f.channel]) return ORG_RECEIVER[f.channel];
  if (f.recipientRole) return `the ${roleWords(f.recipientRole)}`;
  return f.recipientId ? 'a contact of the ladder' : 'the organisation';
}

/** What was done and confirmed, without the reason (that follows it in the sentence, or has its own column). */
function confirmedWords(state: string, f: DeliveryFacts): string {
  const channel = f.channel ?? '';
  switch (state) {
    case 'queued':
      return 'waiting to be sent';
    case 'sent':
      return SENT_WORDS[channel] ?? 'sent, not yet confirmed received';
    case 'delivered':
      return DELIVERED_WORDS[channel] ?? 'delivered';
    case 'failed':
      return f.gaveUp ? 'FAILED, given up' : f.retryable ? 'FAILED, trying again' : 'FAILED';
    case 'fallthrough':
      return `FAILED, given up${f.to ? `: trying by ${channelInner(f.to)} instead` : ''}`;
    case 'not_configured':
      return `NOT SENT: the hub has no ${channelInner(channel)} set up`;
    case 'no_address':
      return `NOT SENT: no ${channelInner(channel)} address`;
    case 'no_contact':
      return 'NOBODY TOLD';
    case 'skipped':
      return 'not sent';
    default:
      return state.replace(/_/g, ' ');
  }
}

export function deliveryWords(f: DeliveryFacts): DeliveryWords {
  const state = f.status ?? f.state ?? 'unknown';
  const closed = f.closed === true || f.event === 'closed';
  const technical =
    [f.detail ? `relay: ${f.detail}` : null, f.attempt ? `attempt ${f.attempt}` : null, f.noticeId ? `notice ${f.noticeId}` : null, f.channel ? `channel ${f.channel}` : null].filter(Boolean).join(' · ') ||
    null;
  const confirmed = confirmedWords(state, f);
  // A fall-through's reason only repeats that the channel gave up; the others say why.
  // A reason after words that already hold a colon goes in brackets, so the line reads as one.
  const why = f.reason && state !== 'fallthrough' ? (confirmed.includes(':') ? ` (${f.reason})` : `: ${f.reason}`) : '';
  if (state === 'no_contact') {
    const target = f.target ?? f.recipientRole ?? '';
    const whom = target.startsWith('person:') ? 'a named contact of the ladder' : target ? `the ${roleWords(target)}` : 'the ladder step';
    return { text: `${whom[0].toUpperCase()}${whom.slice(1)}: ${confirmed}${why}`, who: whom, confirmed, technical, bad: true };
  }
  const whom = who(f);
  const noun = f.channel ? (CHANNEL_NOUN[f.channel] ?? f.channel) : 'Message';
  const address = f.address ? ` at ${f.address}` : '';
  const about = closed ? ', that the alarm is over' : '';
  const instead = f.via ? `, instead of the ${channelInner(f.via)} that failed` : '';
  return { text: `${noun} to ${whom}${address}${about}${instead}: ${confirmed}${why}`, who: whom, confirmed, technical, bad: BAD_STATES.has(state) };
}
