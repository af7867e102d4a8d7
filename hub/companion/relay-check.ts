/**
 * The relay-token check of a process that did not issue the token: a cluster edge (issue 19,
 * docs/cluster.md "The companion across edges"). The token is signed with the cluster's shared key
 * (`[cluster] relay_key_env`) and names the phone session it was issued to, so any edge can verify it
 * with no state of its own:
 *
 * - the signature, the device, the MQTT client id it was issued for and its expiry (10 minutes:
 *   replay is bounded by that, and the client id is single-connection: the broker closes the older of two
 *   connections with one client id, MQTT 3.1.1 §3.1.4);
 * - in the store, at CONNECT: the phone's session still exists and is unexpired (a manager's
 *   sign-out deletes it), its user is an enabled worker account of that worker, and the device is
 *   still that worker's and not revoked;
 * - for connections it accepted, the same store check again every RELAY_SWEEP_MS, closing a relay
 *   whose phone was signed out, as the single hub's sweep does (companion-routes.ts).
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { RelayCredentials } from '../ingest/device-auth.js';
import type { MqttSessions } from '../mqtt-sessions.js';
import type { RelayTokenBody, RelayTokens } from './relay-tokens.js';

/** How often an edge checks its live relays against their phone's session. */
export const EDGE_RELAY_SWEEP_MS = 30_000;

export class SessionRelayCheck implements RelayCredentials {
  /** Relays this process let in, by client id, until their connection is gone. */
  private readonly live = new Map<string, RelayTokenBody>();
  private sweeper: TimerHandle | null = null;

  constructor(
    private readonly tokens: RelayTokens,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async verify(deviceId: string, clientId: string, password: string): Promise<boolean> {
    const body = this.tokens.check(deviceId, clientId, password);
    if (!body) return false;
    const why = await this.refusal(body);
    if (why) {
      this.log.warn({ deviceId, workerId: body.w }, `companion relay refused: ${why}`);
      return false;
    }
    this.live.set(clientId, body);
    return true;
  }

  /** Why the relay may no longer relay; null while its session, worker and fob still hold. */
  private async refusal(body: RelayTokenBody): Promise<string | null> {
    const now = this.clock.now();
    return this.store.read(async (tx) => {
      const session = await tx.getSession(body.s);
      if (!session || session.expiresAt < now) return 'its phone session was signed out or has expired';
      const user = await tx.getUser(session.username);
      if (!user || user.disabledAt !== null || user.role !== 'worker' || user.workerId !== body.w) return "its phone's account is no longer this worker's";
      const device = await tx.getDevice(body.d);
      if (!device || device.revokedAt !== null || device.workerId !== body.w) return "the fob is revoked or no longer this worker's";
      return null;
    });
  }

  /** Closes live relays that no longer hold; forgets those whose connection has gone. Returns the devices dropped. */
  async sweep(sessions: MqttSessions): Promise<string[]> {
    const dropped: string[] = [];
    for (const [clientId, body] of [...this.live]) {
      if (!sessions.isConnected(clientId)) {
        this.live.delete(clientId);
        continue;
      }
      const why = await this.refusal(body);
      if (!why) continue;
      this.log.warn({ deviceId: body.d, workerId: body.w }, `companion relay disconnected: ${why}`);
      this.live.delete(clientId);
      sessions.disconnect(clientId);
      dropped.push(body.d);
    }
    return dropped;
  }

  /** Sweeps every EDGE_RELAY_SWEEP_MS on the clock's housekeeping (I/O pacing, issue 18). */
  start(sessions: MqttSessions): void {
    this.sweeper = this.clock.housekeeping(() => void this.sweep(sessions).catch((err: Error) => this.log.error({ err: err.message }, 'companion relay sweep failed; the next one tries again')), EDGE_RELAY_SWEEP_MS);
  }

  stop(): void {
    this.sweeper?.cancel();
    this.sweeper = null;
  }
}
