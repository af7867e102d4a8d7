/**
 * Who was told of an alarm, by what, and how it went: the latest state of each (contact, channel)
 * from the alarm's `delivery` timeline entries, for the board card and the alarm view. Pure.
 */
import type { TimelineEntry } from '../store/store-types.js';
import { deliveryWords, type DeliveryFacts } from './delivery-words.js';

export interface DeliveryLine {
  channel: string | null;
  /** The contact's id, or null for an organisation channel (webhook, ARC) or a role nobody holds. */
  recipientId: string | null;
  recipientName: string | null;
  recipientRole: string | null;
  /** Masked where private (e-mail `d***@example.org`). */
  address: string | null;
  state: string;
  reason: string | null;
  /** A fall-through notice: the channel that gave up. */
  via: string | null;
  closed: boolean;
  at: number;
  /** The line in words for the duty officer (delivery-words.ts), and its parts for the table's columns. */
  text: string;
  who: string;
  confirmed: string;
  /** The relay's answer and the notice, for IT; null when none. */
  technical: string | null;
}

/**
 * Each contact's name and role as the first record that named them says: a fall-through or a
 * resumed notice's record carries only the contact's id, and the officer must still see who it was.
 */
function namesById(timeline: TimelineEntry[]): Map<string, { name: string; role: string | null }> {
  const names = new Map<string, { name: string; role: string | null }>();
  for (const e of timeline) {
    if (e.type !== 'delivery') continue;
    const d = e.detail as Record<string, unknown>;
    if (typeof d.recipientId === 'string' && typeof d.recipientName === 'string' && !names.has(d.recipientId)) {
      names.set(d.recipientId, { name: d.recipientName, role: typeof d.recipientRole === 'string' ? d.recipientRole : null });
    }
  }
  return names;
}

function factsOf(d: Record<string, unknown>, names: Map<string, { name: string; role: string | null }>): DeliveryFacts {
  const facts = d as DeliveryFacts;
  const known = typeof d.recipientId === 'string' ? names.get(d.recipientId) : undefined;
  return known && !facts.recipientName ? { ...facts, recipientName: known.name, recipientRole: facts.recipientRole ?? known.role } : facts;
}

/** The timeline with each `delivery` entry's words added (`text`, `technical`), for the alarm view. */
export function describeDeliveries<E extends TimelineEntry>(timeline: E[]): (E & { text?: string; technical?: string | null })[] {
  const names = namesById(timeline);
  return timeline.map((e) => {
    if (e.type !== 'delivery') return e;
    const w = deliveryWords(factsOf(e.detail as Record<string, unknown>, names));
    return { ...e, text: w.text, technical: w.technical };
  });
}

export function summariseDeliveries(timeline: TimelineEntry[]): DeliveryLine[] {
  const lines = new Map<string, DeliveryLine>();
  const names = namesById(timeline);
  for (const e of timeline) {
    if (e.type !== 'delivery') continue;
    const d = e.detail as Record<string, unknown>;
    const str = (k: string): string | null => (typeof d[k] === 'string' ? (d[k] as string) : null);
    const state = str('status') ?? 'unknown';
    const channel = str('channel');
    const closed = d.event === 'closed';
    // A fall-through record belongs to the channel that gave up; its notices have their own lines.
    const key = state === 'no_contact' ? `no_contact|${str('target')}` : `${channel}|${str('recipientId') ?? 'org'}|${str('via') ?? ''}|${closed ? 'closed' : 'alert'}`;
    const before = lines.get(key);
    const known = names.get(str('recipientId') ?? '');
    const line: Omit<DeliveryLine, 'text' | 'who' | 'confirmed' | 'technical'> = {
      channel,
      recipientId: str('recipientId'),
      recipientName: str('recipientName') ?? before?.recipientName ?? known?.name ?? null,
      recipientRole: str('recipientRole') ?? before?.recipientRole ?? known?.role ?? (state === 'no_contact' ? str('target') : null),
      address: str('address') ?? before?.address ?? null,
      state,
      reason: str('reason') ?? (state === 'fallthrough' ? `gave up; handed to ${str('to')}` : null),
      via: str('via'),
      closed,
      at: e.at,
    };
    // The line's words from the latest record, with the names and address the line has gathered.
    const w = deliveryWords({ ...factsOf(d, names), recipientName: line.recipientName, recipientRole: line.recipientRole, address: line.address, reason: line.reason });
    lines.set(key, { ...line, text: w.text, who: w.who, confirmed: w.confirmed, technical: w.technical });
  }
  return [...lines.values()];
}
