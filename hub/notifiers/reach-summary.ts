/**
 * The start-up log's one line about what the escalation policies cannot reach (issue 15 item 9: a
 * default install printed dozens of per-level warnings before the line that says where the hub
 * listens). The details go to the debug level and `lonewatch hub --check` still lists every one.
 * Pure.
 */
import type { ReachProblem, ReachProblemKind } from './policy-reach.js';

const KIND_WORDS: Record<ReachProblemKind, string> = {
  channel_not_configured: 'name a channel that is not configured',
  no_contact: 'name a role or person no contact holds',
  no_address: 'name people with no address on that channel',
  reaches_nobody: 'can reach nobody beyond the dashboard',
};

/** Null when there is nothing to say. */
export function reachSummary(problems: readonly ReachProblem[]): string | null {
  if (problems.length === 0) return null;
  const byKind = new Map<ReachProblemKind, Set<string>>();
  for (const p of problems) {
    if (!byKind.has(p.kind)) byKind.set(p.kind, new Set());
    byKind.get(p.kind)!.add(p.policy);
  }
  // Worst first: a policy that reaches nobody is what a duty officer must know before the rest.
  const order: ReachProblemKind[] = ['reaches_nobody', 'channel_not_configured', 'no_contact', 'no_address'];
  const parts = order
    .filter((k) => byKind.has(k))
    .map((k) => {
      const names = [...byKind.get(k)!].sort();
      return k === 'reaches_nobody' ? `${names.length === 1 ? 'policy' : 'policies'} ${names.join(', ')} ${KIND_WORDS[k]}` : `levels of ${names.join(', ')} ${KIND_WORDS[k]}`;
    });
  const policies = new Set(problems.map((p) => p.policy)).size;
  return `the escalation policies have ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${policies} polic${policies === 1 ? 'y' : 'ies'}: ${parts.join('; ')}. Run \`lonewatch hub --check\` for the list (each is also logged at debug level)`;
}
