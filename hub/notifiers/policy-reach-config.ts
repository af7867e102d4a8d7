/**
 * What the escalation policies in force can reach with the channels `[notifiers]` configures and the
 * contacts on record (issue 16): for the start-up warning, `lonewatch hub --check`/`--strict`, and the
 * dashboard's standing warning.
 */
import { toEscalationPolicy, type HubConfig } from '../config/config-schema.js';
import type { EscalationPolicy } from '../rules/escalation-policy.js';
import type { ContactRecord } from '../store/store-types.js';
import type { Store } from '../store/store.js';
import { ALARM_KINDS } from '../../shared/protocol-schemas.js';
import { checkPolicyReach, type ReachProblem } from './policy-reach.js';

/** The policies in force, and which alarm kinds use each. */
export function policiesInForce(config: HubConfig): { policies: Record<string, EscalationPolicy>; usedBy: Record<string, string[]> } {
  const policies: Record<string, EscalationPolicy> = {};
  const usedBy: Record<string, string[]> = {};
  for (const kind of ALARM_KINDS) {
    const name = config.alarm_policies[kind]!;
    policies[name] ??= toEscalationPolicy(name, config.policies[name]);
    (usedBy[name] ??= []).push(kind);
  }
  return { policies, usedBy };
}

/** Forwarding channels `[notifiers]` configures. */
export function configuredChannels(config: HubConfig): string[] {
  return Object.entries(config.notifiers)
    .filter(([k, v]) => k !== 'retain_days' && v !== undefined)
    .map(([k]) => k);
}

/** What the policies in force cannot reach, with the contacts in `store` (start-up, --check, the dashboard). */
export async function reachProblems(config: HubConfig, store: Store): Promise<ReachProblem[]> {
  return reachProblemsWith(config, await store.read((tx) => tx.listContacts()));
}

export function reachProblemsWith(config: HubConfig, contacts: ContactRecord[]): ReachProblem[] {
  const { policies, usedBy } = policiesInForce(config);
  return checkPolicyReach(policies, usedBy, configuredChannels(config), contacts);
}

export class StartRefused extends Error {
  constructor(readonly problems: ReachProblem[]) {
    super(`--strict: refusing to start: ${problems.length} problem(s) with the escalation policies:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`);
    this.name = 'StartRefused';
  }
}
