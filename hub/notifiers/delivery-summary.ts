/**
 * Who was told of an alarm, by what, and how it went: the latest state of each (contact, channel)
 * from the alarm's `delivery` timeline entries, for the board card and the alarm view. Pure.
 */
import type { TimelineEntry } from '../store/store-types.js';

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
}

export function summariseDeliveries(timeline: TimelineEntry[]): DeliveryLine[] {
  const lines = new Map<string, DeliveryLine>();
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
    lines.set(key, {
      channel,
      recipientId: str('recipientId'),
      recipientName: str('recipientName') ?? before?.recipientName ?? null,
      recipientRole: str('recipientRole') ?? before?.recipientRole ?? (state === 'no_contact' ? str('target') : null),
      address: str('address') ?? before?.address ?? null,
      state,
      reason: str('reason') ?? (state === 'fallthrough' ? `gave up; handed to ${str('to')}` : null),
      via: str('via'),
      closed,
      at: e.at,
    });
  }
  return [...lines.values()];
}
