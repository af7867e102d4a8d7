/**
 * The channels an alert can leave the hub by, and what each can truthfully say about a notice: who it
 * goes to (one notice per person, or one for the organisation), how the address is shown on the
 * timeline (masked where it is private, R22), and the strongest state it can reach (`sent`: the relay
 * took it; `delivered`: the far end confirmed it). The runtime records "not configured" for a channel
 * a policy names that is in this registry but not in `[notifiers]`; the dispatcher records every other
 * state. A new channel plugs in with `registerChannel` and its own notifier in create-dispatcher.
 */
import type { Recipient } from './notifier.js';

/**
 * The states of one notice on one channel to one contact, as the timeline and the board show them:
 * `queued` (stored, about to be tried), `sent` (an SMTP relay accepted it: no more can be known; an SMS
 * the network or gateway took, before its delivery report), `delivered` (HTTP 2xx, the ARC's ACK, an
 * SMS delivery report), `failed` (with the reason; retried or given up),
 * `fallthrough` (given up, handed to the next channel), `not_configured` (the policy names a channel
 * the hub has no settings for), `no_address` (the contact has no address on this channel),
 * `no_contact` (nobody holds the role the policy names), `skipped` (nothing needed sending: a restore for
 * an alarm the ARC never acknowledged).
 */
export const DELIVERY_STATES = ['queued', 'sent', 'delivered', 'failed', 'fallthrough', 'not_configured', 'no_address', 'no_contact', 'skipped'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface ChannelInfo {
  name: string;
  /** For people: "e-mail", "webhook", "alarm receiving centre". */
  label: string;
  /** One notice per person (e-mail, SMS) or one per level for the organisation (webhook, ARC). */
  perRecipient: boolean;
  /** The strongest state this channel can confirm. */
  confirms: 'sent' | 'delivered';
  /** The person's address on this channel, masked for the timeline; null when they have none. */
  addressOf?(r: Recipient): string | null;
}

/** `sam.carter@example.org` -> `s***@example.org`: enough to tell which address, not to harvest it. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '***';
  return `${email[0]}***${email.slice(at)}`;
}

/** `+44 7700 900123` -> `***123`. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return digits.length <= 3 ? '***' : `***${digits.slice(-3)}`;
}

const registry = new Map<string, ChannelInfo>();

export function registerChannel(info: ChannelInfo): void {
  registry.set(info.name, info);
}

export function channelInfo(name: string): ChannelInfo | undefined {
  return registry.get(name);
}

/** Channels that carry a notice out of the hub (not the dashboard or the fob). */
export function isForwardingChannel(name: string): boolean {
  return registry.has(name);
}

export function forwardingChannels(): string[] {
  return [...registry.keys()];
}

registerChannel({ name: 'email', label: 'e-mail', perRecipient: true, confirms: 'sent', addressOf: (r) => (r.email ? maskEmail(r.email) : null) });
// SMS confirms `delivered` only with a delivery report (+CDS status 0, a gateway's callback); until then `sent`.
registerChannel({ name: 'sms', label: 'SMS', perRecipient: true, confirms: 'delivered', addressOf: (r) => (r.phone ? maskPhone(r.phone) : null) });
registerChannel({ name: 'webhook', label: 'webhook', perRecipient: false, confirms: 'delivered' });
registerChannel({ name: 'arc', label: 'alarm receiving centre', perRecipient: false, confirms: 'delivered' });
