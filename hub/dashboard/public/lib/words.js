// Words of the dashboard that are not the product's vocabulary (shared/vocabulary.ts, /vocabulary.js):
// the script's answers and the channels' short names as the officer reads them. The kinds, timeline
// steps and outcomes are the vocabulary's, served by the hub from shared/vocabulary.ts.
import { ALARM_KIND, ALARM_OUTCOME, ALARM_OUTCOMES, TIMELINE_STEP } from '/vocabulary.js';

export const ANSWER_LABEL = { yes: 'Yes', no: 'No', no_answer: 'No answer' };
export const CHANNEL_LABEL = { email: 'e-mail', webhook: 'webhook', arc: 'ARC', sms: 'SMS' };

/** Each outcome an officer may close an alarm with, in the close panel's order. */
export const OUTCOME_LABEL = Object.fromEntries(ALARM_OUTCOMES.map((o) => [o, ALARM_OUTCOME[o].label]));

/** A timeline step in words; a step this page does not know yet (a newer hub) in its own name. */
export const stepLabel = (type) => (TIMELINE_STEP[type] ? TIMELINE_STEP[type].label : String(type).replace(/_/g, ' '));

/** The dashboard's sound for a kind (R1: a person who may need help now is the loud one). */
export const kindSound = (kind) => (ALARM_KIND[kind] ? ALARM_KIND[kind].sound : 'alarm');
