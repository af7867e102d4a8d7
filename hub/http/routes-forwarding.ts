// Forwarding status for the dashboard's standing warning (issue 16): what the escalation policies
// cannot reach (channels not configured, contacts missing), and the state of each channel's path (an
// ARC that is down or refusing is itself an alarm on the board, with sound).
import type { ApiApp, ApiContext } from './api-context.js';
import { ANY_ROLE } from './auth.js';
import { configuredChannels } from '../notifiers/policy-reach-config.js';

export function registerForwardingRoutes(app: ApiApp, { hub }: ApiContext): void {
  app.get(
    '/forwarding',
    { schema: { tags: ['alarms'], summary: 'Forwarding status: policies that reach nobody, problems per policy, and each channel path (up, down, refusing)' }, preHandler: ANY_ROLE },
    async () => {
      const problems = await hub.reachProblems();
      const paths = hub.dispatcher?.paths ?? {};
      return {
        channels: configuredChannels(hub.config),
        problems,
        reachesNobody: problems.filter((p) => p.kind === 'reaches_nobody').map((p) => ({ policy: p.policy, usedBy: p.usedBy, message: p.message })),
        paths: Object.entries(paths).map(([channel, p]) => ({ channel, ...p })),
        serverNow: hub.clock.now(),
      };
    },
  );
}
