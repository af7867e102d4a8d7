/**
 * What the hub's HTTP side (the API routes, live events, the companion) gets from the running hub: its
 * parts, not the Hub class. hub.ts builds these parts and then registers the routes; if the routes
 * imported hub.ts back (even for a type), hub.ts -> http/api.ts -> routes -> hub.ts would be an import
 * cycle (issue 18). `Hub implements HubServices`, so the two cannot drift apart.
 *
 * Only types are imported here, and only from modules below the HTTP layer (docs/architecture.md).
 */
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import type { HubConfig } from './config/config-schema.js';
import type { Store } from './store/store.js';
import type { RulesRuntime } from './rules/rules-runtime.js';
import type { MqttSessions } from './mqtt-sessions.js';
import type { FobIngest } from './ingest/fob-ingest.js';
import type { DeviceAuth } from './ingest/device-auth.js';
import type { Dispatcher } from './notifiers/dispatcher.js';
import type { ReachProblem } from './notifiers/policy-reach.js';
import type { FirstAdminSetup } from './http/first-admin.js';
import type { ChangeFeedReader } from './store/change-feed-reader.js';
import type { CommandService } from './commands/store-commands.js';

export interface HubServices {
  readonly config: HubConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly store: Store;
  readonly runtime: RulesRuntime;
  /** The broker's live connections, by client id (the companion's relay sweep), not aedes itself. */
  readonly sessions: MqttSessions;
  readonly ingest: FobIngest;
  readonly auth: DeviceAuth;
  /** Alert forwarding (e-mail, webhook, ARC); null when [notifiers] configures none. */
  readonly dispatcher: Dispatcher | null;
  /** The store's change feed (issue 18): live events read it, from any process's commits. */
  readonly feed: ChangeFeedReader;
  /** Devices, workers, visits and alarm actions (issue 18): the routes go through it, as the CLI does. */
  readonly commands: CommandService;
  /** The first-run set-up link (issue 15 item 9): live only while no admin account exists. */
  readonly firstAdmin: FirstAdminSetup;
  /** A device was revoked or reassigned through the hub (dashboard): act on it at once (issue 17 item 9). */
  deviceChanged(deviceId: string): Promise<void>;
  /** What the policies in force cannot reach now (issue 16). */
  reachProblems(): Promise<ReachProblem[]>;
}
