/**
 * DeviceAuth takes the companion's relay grants at construction (issue 18: no service assigns into
 * another's fields). Real SQLite store, real scrypt hashes, the hub's own RelayGrants on a ManualClock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceAuth } from '../../hub/ingest/device-auth.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { hashSecret } from '../../hub/device-secrets.js';
import { ManualClock } from '../../hub/clock.js';
import { RelayGrants } from '../../hub/companion/relay-grants.js';
import { RELAY_TOKEN_TTL_MS } from '../../hub/companion/relay-tokens.js';

let store: SqliteStore | null = null;
afterEach(async () => {
  await store?.close();
  store = null;
});

async function storeWithFob(): Promise<SqliteStore> {
  store = new SqliteStore(':memory:');
  const secretHash = await hashSecret('the-fob-secret');
  await store.transaction((tx) => tx.insertDevice({ id: 'fob-1', workerId: null, board: null, secretHash, createdAt: 0, revokedAt: null, lastSeenAt: null, battery: null, online: false, firmware: null }));
  return store;
}

describe('DeviceAuth with the relay grants given at construction', () => {
  it('lets in a relay with a token the grants hold, for that device and client id only', async () => {
    const s = await storeWithFob();
    const relays = new RelayGrants(new ManualClock());
    const auth = new DeviceAuth(s, [], relays);
    const { token, clientId } = relays.issue('fob-1', 'w1', 'session-a');
    expect(await auth.authenticate(clientId, 'fob-1', Buffer.from(token))).toEqual({ kind: 'device', deviceId: 'fob-1' });
    const other = await auth.authenticate('fob-1.relay-000000000000', 'fob-1', Buffer.from(token));
    expect(other).toEqual({ refused: expect.stringMatching(/relay with a valid relay token/) });
  });

  it('refuses a token once its grant is dropped or it has expired on the hub clock', async () => {
    const s = await storeWithFob();
    const clock = new ManualClock();
    const relays = new RelayGrants(clock);
    const auth = new DeviceAuth(s, [], relays);
    const dropped = relays.issue('fob-1', 'w1', 'session-a');
    relays.drop(dropped.clientId);
    expect(await auth.authenticate(dropped.clientId, 'fob-1', Buffer.from(dropped.token))).toHaveProperty('refused');
    const expiring = relays.issue('fob-1', 'w1', 'session-a');
    clock.advance(RELAY_TOKEN_TTL_MS);
    expect(await auth.authenticate(expiring.clientId, 'fob-1', Buffer.from(expiring.token))).toHaveProperty('refused');
  });

  it('without relay grants, a relay client id is refused and the fob secret still works', async () => {
    const s = await storeWithFob();
    const token = new RelayGrants(new ManualClock()).issue('fob-1', 'w1', 'session-a');
    const auth = new DeviceAuth(s, []);
    expect(await auth.authenticate(token.clientId, 'fob-1', Buffer.from(token.token))).toHaveProperty('refused');
    expect(await auth.authenticate('fob-1', 'fob-1', Buffer.from('the-fob-secret'))).toEqual({ kind: 'device', deviceId: 'fob-1' });
  });
});
