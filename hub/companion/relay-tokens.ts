/**
 * Relay credentials for the worker's companion app. A phone relaying a BLE fob connects to the MQTT
 * broker (over WebSocket) with the fob's identity, but never with the fob's secret: the signed-in
 * worker's session asks for a short-lived token scoped to the one fob assigned to that worker, and
 * the broker accepts it as that device's password. The device ACL is unchanged (a device publishes
 * only under lw/<its id>/...), so the token grants exactly what the fob itself may do.
 *
 * Tokens are HMAC-signed. The single hub's key lives only in its process: a restarted hub refuses
 * old tokens and the phone asks for a new one (it does before every connect). In a cluster (issue 19)
 * every node is given the same key (`[cluster] relay_key_env`), so a token an HTTP node or worker
 * issued verifies at every edge; the token names the phone's session (the hash the store keys it by),
 * so an edge can refuse it once that session is signed out (hub/companion/relay-check.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';

export const RELAY_TOKEN_PREFIX = 'lwr1.';
export const RELAY_TOKEN_TTL_MS = 10 * 60_000;

interface TokenBody {
  /** device id */
  d: string;
  /** the MQTT client id the token is for: `<device id>.relay-<random>` */
  c: string;
  /** worker id */
  w: string;
  /** expires at, ms */
  e: number;
  /** The phone session it was issued to: the SHA-256 the store keys that session by (SessionRecord.idHash). */
  s: string;
}

export type RelayTokenBody = Readonly<TokenBody>;

/** The shortest shared relay key accepted: 32 bytes, as HMAC-SHA-256's own block of security. */
export const RELAY_KEY_MIN_BYTES = 32;

export class RelayTokens {
  private readonly key: Buffer;

  constructor(
    private readonly clock: Clock,
    readonly ttlMs = RELAY_TOKEN_TTL_MS,
    /** The cluster's shared key; none: a random one of this process only. */
    key?: Buffer,
  ) {
    if (key && key.length < RELAY_KEY_MIN_BYTES) throw new Error(`the relay key must be at least ${RELAY_KEY_MIN_BYTES} bytes`);
    this.key = key ?? randomBytes(32);
  }

  /**
   * A token for one fob and one MQTT client id of its own, so the relay never takes over the fob's
   * own connection (a RAK5010 worker using the companion for the day) or another phone's.
   */
  issue(deviceId: string, workerId: string, sessionHash: string): { token: string; clientId: string; expiresAt: number } {
    const body: TokenBody = { d: deviceId, c: `${deviceId}.relay-${randomBytes(6).toString('hex')}`, w: workerId, e: this.clock.now() + this.ttlMs, s: sessionHash };
    const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
    return { token: `${RELAY_TOKEN_PREFIX}${payload}.${this.sign(payload)}`, clientId: body.c, expiresAt: body.e };
  }

  /** True when `password` is an unexpired token signed with this key for exactly this device and client id. */
  verify(deviceId: string, clientId: string, password: string): boolean {
    return this.check(deviceId, clientId, password) !== null;
  }

  /** The token's body when `password` is an unexpired token signed with this key for exactly this device and client id; else null. */
  check(deviceId: string, clientId: string, password: string): RelayTokenBody | null {
    if (!password.startsWith(RELAY_TOKEN_PREFIX)) return null;
    const [payload, mac] = password.slice(RELAY_TOKEN_PREFIX.length).split('.');
    if (!payload || !mac) return null;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let body: TokenBody;
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenBody;
    } catch {
      return null;
    }
    const ok = body.d === deviceId && body.c === clientId && typeof body.e === 'number' && body.e > this.clock.now() && typeof body.s === 'string' && typeof body.w === 'string';
    return ok ? body : null;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
