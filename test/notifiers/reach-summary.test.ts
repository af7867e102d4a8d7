// The start-up log's one line about what the escalation policies cannot reach (issue 15 item 9).
import { describe, expect, it } from 'vitest';
import { reachSummary } from '../../hub/notifiers/reach-summary.js';
import type { ReachProblem } from '../../hub/notifiers/policy-reach.js';

const p = (kind: ReachProblem['kind'], policy: string, level: number | null = 0): ReachProblem => ({ kind, policy, level, usedBy: [policy], message: `${policy} ${kind}` });

describe('reachSummary', () => {
  it('says nothing when every policy reaches someone', () => {
    expect(reachSummary([])).toBeNull();
  });

  it('counts problems and policies, worst kind first, and points at --check', () => {
    expect(reachSummary([p('channel_not_configured', 'sos', 0), p('channel_not_configured', 'sos', 1), p('no_contact', 'missed_checkin', 2), p('reaches_nobody', 'sos', null)])).toBe(
      'the escalation policies have 4 problems in 2 policies: policy sos can reach nobody beyond the dashboard; levels of sos name a channel that is not configured; levels of missed_checkin name a role or person no contact holds. Run `lonewatch hub --check` for the list (each is also logged at debug level)',
    );
    expect(reachSummary([p('no_address', 'device_health')])).toBe(
      'the escalation policies have 1 problem in 1 policy: levels of device_health name people with no address on that channel. Run `lonewatch hub --check` for the list (each is also logged at debug level)',
    );
  });
});
