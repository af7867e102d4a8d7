/**
 * Who may connect: a registered, unrevoked device whose client id and username are its device id and
 * whose password verifies against the stored scrypt hash. A verified (stored hash, secret) pair is
 * remembered as a SHA-256 digest, so a fob that reconnects costs no second scrypt; a changed or
 * revoked registration changes the stored hash or is refused before the cache is consulted.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Store, UnqueuedReads } from '../store/store.js';
import type { DeviceRecord } from '../store/store-types.js';
import { verifySecret } from '../device-secrets.js';
import { isValidDeviceId } from '../../shared/protocol-core.js';
import type { ConnectIdentity } from '../broker/mqtt-broker.js';

export interface ServiceAccount {
  username: string;
  password: string;
}

/**
 * The worker's companion app relays a BLE fob with a short-lived relay token instead of the fob's
 * secret (hub/companion/relay-grants.ts), under its own client id `<device id>.relay-<token id>` so
 * it never takes over the fob's own connection. Given at construction (issue 18).
 */
export interface RelayCredentials {
  /**
   * True when `password` is a live relay token for exactly this device and client id (the single
   * hub's grants answer at once; an edge asks the store, hub/companion/relay-check.ts).
   */
  verify(deviceId: string, clientId: string, password: string): boolean | Promise<boolean>;
}

export class DeviceAuth {
  private verified = new Set<string>();
  private static readonly CACHE_MAX = 500_000;
  constructor(
    private readonly store: Store & Partial<UnqueuedReads>,
    private readonly services: ServiceAccount[] = [],
    /** None: no relay is let in (a hub without the companion, or a test of the fob's own secret). */
    private readonly relays: RelayCredentials | null = null,
  ) {}

  /**
   * The device as last committed, read beside the write queue where the store can (issue 17 bug): a
   * reconnecting fob must not wait behind a catch-up or a burst of heartbeat writes to be let in.
   */
  private lookup(deviceId: string): Promise<DeviceRecord | null> {
    return this.store.getDeviceUnqueued ? this.store.getDeviceUnqueued(deviceId) : this.store.read((tx) => tx.getDevice(deviceId));
  }

  async authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): Promise<ConnectIdentity | { refused: string }> {
    const service = username ? this.services.find((s) => s.username === username) : undefined;
    if (service) {
      const given = Buffer.from(password ?? Buffer.alloc(0));
      const expected = Buffer.from(service.password);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { refused: `bad credentials for service ${service.username}` };
      // The client id decides whose session it is (issue 17, item 2): aedes takes over the session of
      // an existing client with the same id once authentication succeeds, so a service account using
      // a fob's id (or a relay's) would disconnect that fob. Refused here, before any takeover.
      if (clientId.includes('.relay-') || (isValidDeviceId(clientId) && (await this.lookup(clientId)))) {
        return { refused: `service ${service.username} may not use client id "${clientId}": it belongs to a device` };
      }
      return { kind: 'service', username: service.username };
    }
    if (!username || !isValidDeviceId(username)) return { refused: 'unknown device (bad or missing username)' };
    const relayClient = clientId.startsWith(`${username}.relay-`);
    if (clientId !== username && !relayClient) return { refused: `client id "${clientId}" must equal the device id` };
    if (!password || password.length === 0) return { refused: 'missing password' };
    const device = await this.lookup(username);
    if (!device) return { refused: `unknown device ${username}` };
    if (device.revokedAt !== null) return { refused: `device ${username} is revoked` };
    const secret = password.toString('utf8');
    if (this.relays && (await this.relays.verify(username, clientId, secret))) return { kind: 'device', deviceId: username };
    if (relayClient) return { refused: `client id "${clientId}" is for a companion relay with a valid relay token` };
    const digest = createHash('sha256').update(device.secretHash).update('\0').update(secret).digest('hex');
    if (this.verified.has(digest)) return { kind: 'device', deviceId: username };
    if (!(await verifySecret(secret, device.secretHash))) return { refused: `bad credentials for device ${username}` };
    if (this.verified.size >= DeviceAuth.CACHE_MAX) this.verified.clear();
    this.verified.add(digest);
    return { kind: 'device', deviceId: username };
  }
}
