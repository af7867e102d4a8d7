/**
 * The records the hub keeps. The Store interface (store.ts) is what the rest of the hub uses; SQLite is
 * the embedded implementation and a PostgreSQL one can follow for a cluster of hubs.
 */
import type { AlarmKind, AlarmState } from '../../shared/protocol-schemas.js';
import type { EscalationPolicy } from '../rules/escalation-policy.js';
import type { AlarmOutcome } from '../../shared/vocabulary.js';

export type { AlarmKind, AlarmState };

export interface WorkerRecord {
  id: string;
  name: string;
  /** Private (R22): shown only to roles that need them, every view logged. */
  phone: string | null;
  homeAddress: string | null;
  medicalNotes: string | null;
  car: string | null;
  emergencyContacts: string | null;
  /** Worker or contact id of the buddy who expects the end-of-day call (R15). */
  buddyId: string | null;
  /** Contact id of the line manager. */
  lineManagerId: string | null;
  /** Date (YYYY-MM-DD) of the last lone-working training; null = never trained (R9). */
  trainingDate: string | null;
  newStarter: boolean;
  /** Private (R22): how the police would recognise the worker (height, build, hair, usual clothing), for the hand-over. */
  description: string | null;
}

/** Office staff who are notified: duty officers, managers, head of service, director. */
export interface ContactRecord {
  id: string;
  name: string;
  role: string;
  email: string | null;
  phone: string | null;
}

export interface DeviceRecord {
  id: string;
  workerId: string | null;
  board: string | null;
  secretHash: string;
  createdAt: number;
  revokedAt: number | null;
  lastSeenAt: number | null;
  battery: number | null;
  online: boolean;
  firmware: string | null;
}

export type VisitStatus = 'planned' | 'active' | 'ended' | 'cancelled';
export type Rag = 'red' | 'amber' | 'green';

export interface VisitRecord {
  id: string;
  workerId: string;
  /** Reference code from which the person and address can be found; never the address (R7). */
  ref: string;
  scheduledStart: number;
  expectedEnd: number;
  riskCategory: 1 | 2;
  rag: Rag;
  /** Minutes between check-ins during the visit; null = only at the end. */
  checkinIntervalMin: number | null;
  nextLocation: string | null;
  /** Second worker for a Category 2 / red visit (R8). */
  secondWorkerId: string | null;
  status: VisitStatus;
  startedAt: number | null;
  endedAt: number | null;
  unplanned: boolean;
  /** Warnings from the policy checks when it was recorded (R8, R9). */
  policyFlags: string[];
  /** Who to call at the visit address: R13's ladder reaches "the contact at the visit address". */
  contactName: string | null;
  contactPhone: string | null;
}

export interface AlarmRecord {
  id: string;
  kind: AlarmKind;
  state: AlarmState;
  priority: number;
  workerId: string | null;
  deviceId: string | null;
  visitRef: string | null;
  sourceEventId: string | null;
  reason: string;
  raisedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  closedAt: number | null;
  closedBy: string | null;
  drill: boolean;
  /** Snapshot taken when the alarm was raised: editing config never changes a running alarm. */
  policy: EscalationPolicy;
  level: number;
  round: number;
  nextStepAt: number | null;
  reAlertAt: number | null;
  policeAt: number | null;
  lastSightingAt: number | null;
  /** Raised from an event older than 7 days by its age (LIMITS.eventAgeMaxSeconds): it happened long before it arrived. */
  stale?: boolean;
  /** How the officer closed it (issue 15 item 10); null while open or when the hub closed it. */
  outcome: AlarmOutcome | null;
  /** When the worker cancelled it from the fob: it stays open until an officer has called back (item 11). */
  workerCancelledAt: number | null;
}

/** What closing an alarm found: the vocabulary's table (shared/vocabulary.ts), kept here for the store's users. */
export { ALARM_OUTCOMES, type AlarmOutcome } from '../../shared/vocabulary.js';

export interface TimelineEntry {
  at: number;
  type: string;
  actor: string;
  detail: Record<string, unknown>;
}

export interface StoredTimelineEntry extends TimelineEntry {
  seq: number;
  alarmId: string;
}

export interface Sighting {
  at: number;
  kind: string;
  place: string | null;
}

export interface StoredFobEvent {
  deviceId: string;
  eventId: string;
  kind: string;
  receivedAt: number;
  eventAt: number;
  payload: string;
}

/** A side effect committed with the state change that caused it, executed after the commit and
 * deleted when done: a crash between the two re-runs it at start-up instead of losing it. */
/**
 * One notice of the alert forwarding (issue 7) on one channel, written before its first send and
 * finished when delivered or given up, so a hub restart resumes the ones still being retried. A
 * notice that gave up and falls through to other channels is the parent of the notices it made.
 */
export interface NoticeRecord {
  /** The notice id: the idempotency key a receiver dedupes on. */
  id: string;
  alarmId: string;
  channel: string;
  level: number;
  /** 'alert' for a ladder notification, 'closed' for the resolve/cancel of an alarm, 'position' for a location follow-up to the ARC or the webhook (issue 20). */
  event: 'alert' | 'closed' | 'position';
  parentId: string | null;
  /** The channel that gave up when this notice is a fall-through. */
  via: string | null;
  /** Unique when set: what may be sent once per alarm (e.g. `<alarm>:arc:alert`). */
  onceKey: string | null;
  /** The request, as the dispatcher needs it to send again (alert, recipients, recipient, link). */
  request: unknown;
  /** Channels tried on this chain, this one included (fall-through state). */
  tried: string[];
  /** pending: being attempted; falling: gave up, its fallbacks are being tried; done. */
  state: 'pending' | 'falling' | 'done';
  /** When done: delivered, fell_through (delivered on a fallback), undeliverable. */
  outcome: string | null;
  /** The far end's reference for a delivered notice (the DC-09 sequence number), or null. */
  ref: string | null;
  /** Attempts started. */
  attempts: number;
  /** Index of the fallback being tried (state falling). */
  fallbackPos: number;
  firstAttemptAt: number | null;
  nextAttemptAt: number | null;
  createdAt: number;
  finishedAt: number | null;
}

/**
 * Who may use the dashboard and API (issue 6). `worker` is a lone worker's own account (the phone
 * companion): it may only use the companion endpoints about its own worker, never the dashboard.
 */
export const USER_ROLES = ['duty_officer', 'manager', 'admin', 'worker'] as const;
export type UserRole = (typeof USER_ROLES)[number];
/** The office roles that use the dashboard. */
export const STAFF_ROLES = ['duty_officer', 'manager', 'admin'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

export interface UserRecord {
  username: string;
  name: string;
  role: UserRole;
  /** scrypt$N$r$p$salt$hash (see hub/http/passwords.ts); never the password. */
  passwordHash: string;
  createdAt: number;
  disabledAt: number | null;
  /** For role `worker`: the worker this account belongs to (required); null for office roles. */
  workerId: string | null;
}

export interface SessionRecord {
  /** SHA-256 of the cookie value: a copy of the database does not hand out sessions. */
  idHash: string;
  username: string;
  /** Double-submit token the dashboard sends back in x-csrf-token on every state change. */
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

export interface ApiTokenRecord {
  id: string;
  name: string;
  /** Integrations act as an office role; there are no worker tokens. */
  role: StaffRole;
  /** SHA-256 of the token. */
  tokenHash: string;
  createdBy: string;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** Where a position came from, in words for the API (the wire's `s` is one letter). */
export type PositionSourceName = 'gnss' | 'phone' | 'cell';

/**
 * One position fix as the hub keeps it (issue 20). `fixAt` is the hub's dating of the fix
 * (`receivedAt - fa`), never the fob's clock. Private to the worker (R22: hub/http/position-privacy.ts).
 */
export interface PositionRecord {
  deviceId: string;
  workerId: string | null;
  /** The alarm it belongs to (came with it, or arrived while it was open): kept with the alarm record. */
  alarmId: string | null;
  fixAt: number;
  receivedAt: number;
  lat: number;
  lon: number;
  accuracyM: number;
  source: PositionSourceName;
}
