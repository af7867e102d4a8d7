/**
 * The product's vocabulary, one table each (issue 18): alarm kinds with their words, priority,
 * Contact ID event and dashboard sound; alarm states; the steps of an alarm's timeline; the states of
 * a notice; the fob's Storage file names. Adding an alarm kind starts here.
 *
 * Dependency-free and written like protocol-core.ts (plain constants, ES5 only): the firmware bundle
 * imports its Storage names from here, and esbuild keeps only what a bundle uses, so the fob pays for
 * nothing else. The hub serves this module to the browser apps as /vocabulary.js
 * (hub/http/browser-modules.ts).
 */

import type { EventKind } from './protocol-core.js';

// ---------------------------------------------------------------------------------------------
// Alarm kinds

/**
 * Every alarm kind, loudest first: this order is the dashboard's order of open alarms (alarmKindRank).
 * SOS and covert SOS are a person in danger now (R1, R2), man-down a person who may be hurt, a missed
 * check-in a person not heard from (R13), then the device's health (R16).
 */
export const ALARM_KINDS = ['sos', 'covert_sos', 'man_down', 'missed_checkin', 'device_silent', 'low_battery'] as const;
export type AlarmKind = (typeof ALARM_KINDS)[number];

export interface AlarmKindInfo {
  /** What a person reads on the dashboard, in the API (`kindLabel`) and in the admin settings. */
  label: string;
  /** The alert summary's opening words (`alarm.summary`, lw/alerts, notices): upper case when a person is in danger. */
  summaryLabel: string;
  /** The e-mail's wording; the subject line takes the words before " (". */
  noticeText: string;
  /** 1 (most urgent) to 4: stored on the alarm and published in every alert (`priority`). */
  priority: 1 | 2 | 3 | 4;
  /** The Ademco Contact ID event (SIA DC-05) sent to an alarm receiving centre over DC-09. */
  contactId: { code: number; name: string };
  /**
   * The dashboard's sound when such an alarm arrives: `alarm` (a loud four-tone) for a person who may
   * need help now, `chime` (one tone) for the device's health. Never the fob's: a covert alarm makes
   * no sound on the fob, ever (R1).
   */
  sound: 'alarm' | 'chime';
  /** The fob event (`k`, protocol-core.ts EVENT) that raises it; null for the kinds the hub's rules raise. */
  fobEvent: EventKind | null;
}

export const ALARM_KIND: Record<AlarmKind, AlarmKindInfo> = {
  sos: {
    label: 'SOS',
    summaryLabel: 'SOS',
    noticeText: 'SOS alarm',
    priority: 1,
    contactId: { code: 120, name: 'Panic alarm' },
    sound: 'alarm',
    fobEvent: 'sos',
  },
  covert_sos: {
    label: 'Covert SOS',
    summaryLabel: 'COVERT SOS',
    noticeText: 'COVERT SOS alarm (do not call the worker in a way that could give them away)',
    priority: 1,
    contactId: { code: 121, name: 'Duress' },
    sound: 'alarm',
    fobEvent: 'cov',
  },
  man_down: {
    label: 'Man down',
    summaryLabel: 'MAN DOWN',
    noticeText: 'Man-down alarm',
    priority: 1,
    // A worker down (fall, no movement) needs an ambulance first: 100 Medical. 101 (personal
    // emergency) is the pendant button, which here is the SOS (120/121) already.
    contactId: { code: 100, name: 'Medical' },
    sound: 'alarm',
    fobEvent: 'mdn',
  },
  missed_checkin: {
    label: 'Missed check-in',
    summaryLabel: 'Missed check-in',
    noticeText: 'Missed check-in',
    priority: 2,
    contactId: { code: 102, name: 'Fail to report in' },
    sound: 'alarm',
    fobEvent: null,
  },
  device_silent: {
    label: 'Device silent',
    summaryLabel: 'Device silent',
    noticeText: 'Alarm device silent',
    priority: 3,
    contactId: { code: 350, name: 'Communication trouble' },
    sound: 'chime',
    fobEvent: null,
  },
  low_battery: {
    label: 'Low battery',
    summaryLabel: 'Low battery',
    noticeText: 'Alarm device battery low',
    priority: 4,
    contactId: { code: 302, name: 'Low system battery' },
    sound: 'chime',
    fobEvent: null,
  },
};

/** 0 for the loudest kind: the place of the kind in ALARM_KINDS. */
export function alarmKindRank(kind: AlarmKind): number {
  return ALARM_KINDS.indexOf(kind);
}

// ---------------------------------------------------------------------------------------------
// Alarm states

/** raised -> notifying -> acknowledged -> resolved; cancelled (a false alarm, R6); exhausted (nobody took it). */
export const ALARM_STATES = ['raised', 'notifying', 'acknowledged', 'resolved', 'cancelled', 'exhausted'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];
/** The states of an alarm still open: on the board, sounding, its ladder running or run out (R3). */
export const OPEN_ALARM_STATES: readonly AlarmState[] = ['raised', 'notifying', 'acknowledged', 'exhausted'];

export function isOpenState(state: AlarmState): boolean {
  return OPEN_ALARM_STATES.indexOf(state) >= 0;
}

// ---------------------------------------------------------------------------------------------
// Outcomes (issue 15 item 10): how an officer says an alarm ended when they close it

/** Chosen by the officer who closes the alarm; on the record, in the CSV and in the close e-mail. */
export const ALARM_OUTCOMES = ['genuine', 'false_alarm', 'test', 'safe_after_callback', 'police_attended'] as const;
export type AlarmOutcome = (typeof ALARM_OUTCOMES)[number];

/** The words the dashboard's close panel, timeline and records show (the e-mail lower-cases the first letter). */
export const ALARM_OUTCOME: Record<AlarmOutcome, { label: string }> = {
  genuine: { label: 'Genuine: the worker needed help' },
  false_alarm: { label: 'False alarm' },
  test: { label: 'Test' },
  safe_after_callback: { label: 'Worker safe after call-back' },
  police_attended: { label: 'Police attended' },
};

// ---------------------------------------------------------------------------------------------
// Timeline steps (R19, R20: every step of an alarm is appended, never overwritten)

export const TIMELINE_STEP_TYPES = [
  'raised',
  'notify',
  'acknowledged',
  'resolved',
  'cancelled',
  'note',
  'script_answer',
  'callback_scheduled',
  'callback_done',
  'callback_due',
  'police_called',
  'handover_viewed',
  'delivery',
  'escalated',
  'repeated',
  're_alert',
  'police_advised',
  'exhausted',
  'undeliverable',
  'refused',
  'worker_cancelled',
] as const;
export type TimelineStepType = (typeof TIMELINE_STEP_TYPES)[number];

/** The words the dashboard's timeline shows for each step (docs/architecture.md says who writes it). */
export const TIMELINE_STEP: Record<TimelineStepType, { label: string }> = {
  raised: { label: 'Alarm raised' },
  notify: { label: 'Ladder step' },
  acknowledged: { label: 'Acknowledged' },
  resolved: { label: 'Resolved' },
  cancelled: { label: 'Cancelled (false alarm)' },
  note: { label: 'Note' },
  script_answer: { label: 'Script answer' },
  callback_scheduled: { label: 'Call-back timer started' },
  callback_done: { label: 'Called back' },
  callback_due: { label: 'Call-back due' },
  police_called: { label: '999 called' },
  handover_viewed: { label: 'Police hand-over opened' },
  delivery: { label: 'Delivery' },
  escalated: { label: 'Escalated' },
  repeated: { label: 'Ladder repeated' },
  re_alert: { label: 'Re-alert' },
  police_advised: { label: '999 advised' },
  exhausted: { label: 'Ladder exhausted' },
  undeliverable: { label: 'Undeliverable' },
  refused: { label: 'Refused' },
  worker_cancelled: { label: 'Cancelled by the worker: call back to confirm' },
};

// ---------------------------------------------------------------------------------------------
// Notices (the alert forwarding's journal, hub/notifiers)

/** pending: being attempted; falling: gave up, its fallbacks are being tried; done. */
export const NOTICE_STATES = ['pending', 'falling', 'done'] as const;
export type NoticeState = (typeof NOTICE_STATES)[number];

/** How a done notice ended: delivered, fell_through (delivered on a fallback), undeliverable. */
export const NOTICE_OUTCOMES = ['delivered', 'fell_through', 'undeliverable'] as const;
export type NoticeOutcome = (typeof NOTICE_OUTCOMES)[number];

// ---------------------------------------------------------------------------------------------
// The fob's Storage files (Espruino's Storage module, one flat namespace of short names)

/** The files the firmware itself reads and writes (firmware/src/hal.ts STORAGE). */
export const FOB_STORAGE = {
  /** Identity, hub address and credentials, written at flashing time (never compiled in, issue 8). */
  identity: 'lw.json',
  /** Outbox entries: one file per waiting event, this prefix and the event id (core/outbox.ts). */
  outbox: 'lw-e',
  /** The uptime the fob had reached while events waited, so their ages carry over a reboot. */
  outboxMark: 'lw-up',
  /** The boot counter: event ids `<boot>-<seq>` never repeat on a device. */
  bootCount: 'lw-bc',
  /** RAK5010 over TLS: the CA certificate (PEM) pinned for the hub, written at flashing time. */
  ca: 'lw.ca',
} as const;

/** The files only the flashing tool writes (firmware/flash/wire.ts FILES adds FOB_STORAGE to these). */
export const FLASH_STORAGE = {
  /** What Espruino runs at boot. */
  boot: '.bootcde',
  /** The identity while an upload is in progress (becomes lw.json at the end). */
  identityNew: 'lw.new',
  /** The bundle while it is uploaded, chunk by chunk (becomes .bootcde at the end). */
  staging: 'lw.up',
  /** The single outbox file of firmware before issue 14's (erased when a board is re-provisioned). */
  legacyOutbox: 'lw-ob',
} as const;
