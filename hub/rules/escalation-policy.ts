/**
 * Escalation policies: who is told, on which channels, and how the ladder climbs. Loaded from config;
 * an alarm keeps a snapshot of the policy it was raised under.
 */

/** Roles resolved to people by the runtime; `person:<id>` names one contact. `visit_contact` and
 * `home_contact` are calls the duty officer makes (the hub never holds those numbers in a message). */
export const TARGET_ROLES = [
  'duty_officer',
  'worker',
  'buddy',
  'line_manager',
  'head_of_service',
  'director',
  'visit_contact',
  'home_contact',
] as const;
export type TargetRole = (typeof TARGET_ROLES)[number];
export type Target = TargetRole | `person:${string}`;

export const CHANNELS = ['dashboard', 'fob', 'email', 'webhook', 'arc', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface EscalationLevel {
  /** What this step is, for the officer and the record ("try the worker again"). */
  name: string;
  targets: Target[];
  channels: Channel[];
  /** Minutes before the next level (or the next round) when nobody acknowledges. */
  delayMin: number;
}

export interface EscalationPolicy {
  name: string;
  /** all_at_once: every level's targets are told at the start (SOS); step: one level at a time. */
  mode: 'all_at_once' | 'step';
  levels: EscalationLevel[];
  /** How many more times the whole ladder is repeated before the alarm is exhausted. */
  repeat: number;
  /** Acknowledged but not resolved within this many minutes: alert again. */
  reAlertAfterAckMin: number;
  /** Minutes after the last confirmed sighting when 999 is advised (R13, 003), or null. */
  policeAfterSightingMin: number | null;
  /** Who is told when 999 is advised or the ladder is exhausted (R13, R21). */
  seniorTargets: Target[];
}

const everyone: Target[] = ['duty_officer', 'line_manager', 'head_of_service', 'director'];

/** Defaults encode the policies' own timings; organisations override them in lonewatch.toml. */
export const DEFAULT_POLICIES: Record<string, EscalationPolicy> = {
  sos: {
    name: 'sos',
    mode: 'all_at_once',
    levels: [
      { name: 'alert the duty officer', targets: ['duty_officer'], channels: ['dashboard', 'email', 'webhook', 'arc'], delayMin: 2 },
      // R21: the duty officer, senior manager and director are informed of any call for assistance.
      { name: 'inform the chain', targets: ['line_manager', 'head_of_service', 'director'], channels: ['email', 'webhook'], delayMin: 2 },
    ],
    repeat: 5,
    reAlertAfterAckMin: 15,
    policeAfterSightingMin: null,
    seniorTargets: everyone,
  },
  missed_checkin: {
    name: 'missed_checkin',
    mode: 'step',
    // 002 appendix 3.12-3.16: try the worker; again after 5 minutes; the contact at the visit
    // address; the worker's home; the line manager.
    levels: [
      { name: 'try the worker', targets: ['duty_officer', 'worker'], channels: ['dashboard', 'fob', 'email'], delayMin: 5 },
      { name: 'try the worker again', targets: ['duty_officer', 'worker'], channels: ['dashboard', 'fob', 'email'], delayMin: 5 },
      { name: 'call the contact at the visit address', targets: ['duty_officer', 'visit_contact'], channels: ['dashboard', 'email'], delayMin: 10 },
      { name: "call the worker's home", targets: ['duty_officer', 'home_contact'], channels: ['dashboard', 'email'], delayMin: 10 },
      { name: 'alert the line manager', targets: ['line_manager', 'buddy'], channels: ['dashboard', 'email', 'webhook'], delayMin: 15 },
      { name: 'alert head of service and director', targets: ['head_of_service', 'director'], channels: ['dashboard', 'email', 'webhook', 'arc'], delayMin: 30 },
    ],
    repeat: 0,
    reAlertAfterAckMin: 30,
    // 003: still no contact 3 hours after the last confirmed sighting: call 999.
    policeAfterSightingMin: 180,
    seniorTargets: everyone,
  },
  device_health: {
    name: 'device_health',
    mode: 'step',
    levels: [
      { name: 'tell the worker and the office', targets: ['duty_officer', 'worker'], channels: ['dashboard', 'fob', 'email'], delayMin: 30 },
      { name: 'tell the line manager', targets: ['line_manager'], channels: ['dashboard', 'email'], delayMin: 60 },
    ],
    repeat: 0,
    reAlertAfterAckMin: 120,
    policeAfterSightingMin: null,
    seniorTargets: ['duty_officer'],
  },
};
