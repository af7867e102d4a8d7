/**
 * The relay tokens this hub has handed to signed-in phones, and the check the MQTT broker makes with
 * them. Built by the composition root (hub/hub.ts) before the device authentication and given to it
 * at construction as its `RelayCredentials` (issue 18: no service assigns into another's fields), and
 * to the companion's routes, which issue tokens and sweep relays whose phone or fob changed.
 */
import type { Clock } from '../clock.js';
import type { RelayCredentials } from '../ingest/device-auth.js';
import { RelayTokens } from './relay-tokens.js';
import { sha256 } from '../http/passwords.js';

/** A relay token issued and not yet expired or dropped: the phone session it was issued to. */
export interface RelayGrant {
  deviceId: string;
  session: string;
  workerId: string;
  expiresAt: number;
}

export class RelayGrants implements RelayCredentials {
  readonly tokens: RelayTokens;
  /** By MQTT client id; in memory only, like the token key (a restarted hub refuses old tokens). */
  private readonly grants = new Map<string, RelayGrant>();

  constructor(clock: Clock, tokens: RelayTokens = new RelayTokens(clock)) {
    this.tokens = tokens;
  }

  /** Issues a token for this fob to the phone session `session`, and remembers the grant. */
  issue(deviceId: string, workerId: string, session: string): { token: string; clientId: string; expiresAt: number } {
    // The session as the store keys it, so an edge can look it up (relay-check.ts).
    const issued = this.tokens.issue(deviceId, workerId, sha256(session));
    this.grants.set(issued.clientId, { deviceId, session, workerId, expiresAt: issued.expiresAt });
    return issued;
  }

  /** The broker's check: a token this hub issued for this device and client id, unexpired and not dropped. */
  verify(deviceId: string, clientId: string, password: string): boolean {
    return this.grants.has(clientId) && this.tokens.verify(deviceId, clientId, password);
  }

  /** Every grant held, by client id (a copy: the sweep drops grants while it walks them). */
  entries(): [string, RelayGrant][] {
    return [...this.grants];
  }

  drop(clientId: string): void {
    this.grants.delete(clientId);
  }
}
