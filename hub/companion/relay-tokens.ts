/**
 * Relay credentials for the worker's companion app. A phone relaying a BLE fob connects to the MQTT
 * broker (over WebSocket) with the fob's identity, but never with the fob's secret: the signed-in
 * worker's session asks for a short-lived token scoped to the one fob assigned to that worker, and
 * the broker accepts it as that device's password. The device ACL is unchanged (a device publishes
 * only under lw/<its id>/...), so the token grants exactly what the fob itself may do.
 *
 * Tokens are HMAC-signed with a key that lives only in this process: a restarted hub refuses old
 * tokens and the phone asks for a new one (it does before every connect).
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
}

export class RelayTokens {
  private readonly key = randomBytes(32);

  constructor(
    private readonly clock: Clock,
    readonly ttlMs = RELAY_TOKEN_TTL_MS,
  ) {}

  /**
   * A token for one fob and one MQTT client id of its own, so the relay never takes over the fob's
   * own connection (a RAK5010 worker using the companion for the day) or another phone's.
   */
  issue(deviceId: string, workerId: string): { token: string; clientId: string; expiresAt: number } {
    const body: TokenBody = { d: deviceId, c: `${deviceId}.relay-${randomBytes(6).toString('hex')}`, w: workerId, e: this.clock.now() + this.ttlMs };
    const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
    return { token: `${RELAY_TOKEN_PREFIX}${payload}.${this.sign(payload)}`, clientId: body.c, expiresAt: body.e };
  }

  /** True when `password` is an unexpired token issued by this hub for exactly this device and client id. */
  verify(deviceId: string, clientId: string, password: string): boolean {
    if (!password.startsWith(RELAY_TOKEN_PREFIX)) return false;
    const [payload, mac] = password.slice(RELAY_TOKEN_PREFIX.length).split('.');
    if (!payload || !mac) return false;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    let body: TokenBody;
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenBody;
    } catch {
      return false;
    }
    return body.d === deviceId && body.c === clientId && typeof body.e === 'number' && body.e > this.clock.now();
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
