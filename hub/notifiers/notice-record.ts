/**
 * A notice as the journal keeps it, made from what the dispatcher knows when it stores one (a
 * ladder notification, a fall-through, a close or a location follow-up). Pure: the time is handed in.
 */
import type { AlertMessage } from '../../shared/protocol-schemas.js';
import type { NoticeRecord } from '../store/store-types.js';
import type { Recipient } from './notifier.js';

/** What a stored notice needs to be sent again after a restart. */
export interface NoticeRequest {
  alert: AlertMessage;
  /** The level's recipients, for a fall-through to a per-recipient channel. */
  recipients: Recipient[];
  recipient: Recipient | null;
  link: string;
  /** The ladder rung the notice belongs to (DispatchRequest.step); absent on older notices. */
  step?: string;
  /** Why the ladder sent it (DispatchRequest.reason). */
  reason?: string;
  /** Who had taken the alarm when it was sent. */
  holder?: string | null;
  /** On a fall-through: the channel that gave up, why, and what to do instead. */
  failed?: { channel: string; reason: string; advice: string | null } | null;
}

/**
 * Stable over the retries of one notification and over a re-run of the notify effect that made it (it
 * derives from the ladder rung, `step`, not from when it was sent), distinct for the next notification
 * of the level, and for a fall-through (`via` the channel that gave up) so it is not taken for a copy
 * of the direct one. Without a step (an effect stored by an older hub) the alert's time stands in.
 */
export function noticeIdFor(alert: AlertMessage, level: number, channel: string, recipient: Recipient | null, via: string | null = null, step: string | null = null): string {
  const rung = step ?? Date.parse(alert.at).toString(36);
  const who = (recipient?.id ?? 'org').replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${alert.alarmId}.L${level}.${rung}.${channel}.${who}${via ? `.via-${via}` : ''}`;
}

export interface NewNotice {
  channel: string;
  request: NoticeRequest;
  level: number;
  event: NoticeRecord['event'];
  /** The notice that gave up, for a fall-through. */
  parent: NoticeRecord | null;
  tried: string[];
  onceKey: string | null;
  /** Its own id (a close or a follow-up); absent: `noticeIdFor`. */
  id?: string;
}

/** A new notice, pending, its first attempt (and its give-up time) counting from `now`. */
export function makeNotice(o: NewNotice, now: number): NoticeRecord {
  const via = o.parent?.channel ?? null;
  return {
    id: o.id ?? noticeIdFor(o.request.alert, o.level, o.channel, o.request.recipient, via, o.request.step ?? null),
    alarmId: o.request.alert.alarmId,
    channel: o.channel,
    level: o.level,
    event: o.event,
    parentId: o.parent?.id ?? null,
    via,
    onceKey: o.onceKey,
    request: o.request,
    tried: o.tried,
    state: 'pending',
    outcome: null,
    ref: null,
    attempts: 0,
    fallbackPos: 0,
    // The first attempt follows the insert at once; the give-up time counts from here.
    firstAttemptAt: now,
    nextAttemptAt: null,
    createdAt: now,
    finishedAt: null,
  };
}

