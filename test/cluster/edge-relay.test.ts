// Companion relay tokens at an edge that did not issue them (issue 19): signed with the cluster's
// shared key ([cluster] relay_key_env) by another process, checked by the edge against the store
// (hub/companion/relay-check.ts). Real three-node NATS, real SQLite, real mqtt.js over WebSocket, a
// manual clock for the token's expiry.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { startNatsCluster, stopNatsClusters, type LocalNatsCluster } from '../helpers/nats-cluster.js';
import { testConfig } from '../helpers/hub-harness.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { createUser } from '../../hub/http/users.js';
import { sha256 } from '../../hub/http/passwords.js';
import { Edge } from '../../hub/cluster/edge.js';
import { RelayTokens, RELAY_TOKEN_TTL_MS } from '../../hub/companion/relay-tokens.js';
import { relayKey } from '../../hub/cluster/relay-key.js';
import { ClusterConfigError } from '../../hub/cluster/nats-connection.js';
import { silentLogger } from '../../hub/logger.js';
import { ManualClock } from '../../hub/clock.js';
import { eventTopic } from '../../shared/protocol-core.js';

const KEY = 'a-shared-cluster-relay-key-of-more-than-32-chars';
let nats: LocalNatsCluster;
let store: SqliteStore;
let edge: Edge;
const dir = mkdtempSync(join(tmpdir(), 'lw-edge-relay-'));
const clock = new ManualClock(Date.parse('2026-03-02T10:00:00Z'));
/** What the HTTP node that served the phone's page does: the same key, another process. */
const issuer = new RelayTokens(clock, RELAY_TOKEN_TTL_MS, Buffer.from(KEY));
const session = 'phone-session-token-of-sam';

beforeAll(async () => {
  nats = await startNatsCluster();
  process.env.LW_TEST_NATS_PASSWORD = nats.password;
  process.env.LW_TEST_RELAY_KEY = KEY;
  store = new SqliteStore(join(dir, 'lonewatch.db'));
  await store.transaction((tx) =>
    tx.upsertWorker({ id: 'w-sam', name: 'Sam', phone: null, homeAddress: null, medicalNotes: null, car: null, emergencyContacts: null, buddyId: null, lineManagerId: null, trainingDate: '2026-01-15', newStarter: false, description: null }),
  );
  await addDevice(store, 'fob-1', { workerId: 'w-sam', now: clock.now() });
  await createUser(store, { username: 'sam', role: 'worker', workerId: 'w-sam', password: 'correct horse battery' }, 'test', clock.now());
  // The phone's session row, as the companion's sign-in writes it (only the hash is stored).
  await store.transaction((tx) => tx.insertSession({ idHash: sha256(session), username: 'sam', csrf: 'unused', createdAt: clock.now(), expiresAt: clock.now() + 30 * 24 * 3600_000 }));
  const config = testConfig(dir, { cluster: { servers: nats.urls, user: nats.user, password_env: 'LW_TEST_NATS_PASSWORD', relay_key_env: 'LW_TEST_RELAY_KEY' } });
  edge = await Edge.start({ config, cluster: config.cluster!, store, log: silentLogger, clock, id: 'edge-r', httpPort: 0, mqttPort: 0 });
}, 120_000);

afterAll(async () => {
  delete process.env.LW_TEST_NATS_PASSWORD;
  delete process.env.LW_TEST_RELAY_KEY;
  await edge?.stop();
  await store?.close();
  await stopNatsClusters();
  rmSync(dir, { recursive: true, force: true });
});

/** Connects as the phone would; resolves with the client, or the CONNACK's refusal code. */
async function relay(clientId: string, password: string): Promise<MqttClient | number> {
  return mqtt
    .connectAsync(`ws://127.0.0.1:${edge.httpPort}/mqtt`, { clientId, username: 'fob-1', password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 })
    .catch((err: { code?: number }) => err.code ?? -1);
}

describe('an edge checks companion relay tokens issued elsewhere', () => {
  it('lets a token of the shared key in, PUBACKs its SOS; refuses another key, an expired token and a signed-out phone', async () => {
    const t = issuer.issue('fob-1', 'w-sam', sha256(session));
    const client = await relay(t.clientId, t.token);
    expect(typeof client).not.toBe('number');
    const c = client as MqttClient;
    await c.publishAsync(eventTopic('fob-1'), JSON.stringify({ i: 'z1-1', k: 'sos', ag: 0 }), { qos: 1 });
    expect(edge.counters.streamed).toBe(1);

    // The same body signed with another key (a single hub's own random key, say): CONNACK 4.
    const other = new RelayTokens(clock, RELAY_TOKEN_TTL_MS, Buffer.from('another-key-another-key-another-key!')).issue('fob-1', 'w-sam', sha256(session));
    expect(await relay(other.clientId, other.token)).toBe(4);
    // A token for a session the store does not have (forged session reference, or never signed in).
    const noSession = issuer.issue('fob-1', 'w-sam', sha256('some-other-session'));
    expect(await relay(noSession.clientId, noSession.token)).toBe(4);
    // The live relay is left alone by a sweep while its session holds.
    expect(await edge.sweepRelays()).toEqual([]);
    expect(c.connected).toBe(true);

    // Signed out (a manager ends the lost phone's session): the sweep closes the live relay, and the
    // token, though unexpired, lets nobody in again.
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    await store.transaction((tx) => tx.deleteSession(sha256(session)));
    expect(await edge.sweepRelays()).toEqual(['fob-1']);
    await closed;
    expect(await relay(t.clientId, t.token)).toBe(4);
    await c.endAsync(true);

    // Expired: signed in again, a token stops working after RELAY_TOKEN_TTL_MS of the clock.
    await store.transaction((tx) => tx.insertSession({ idHash: sha256(session), username: 'sam', csrf: 'unused', createdAt: clock.now(), expiresAt: clock.now() + 30 * 24 * 3600_000 }));
    const fresh = issuer.issue('fob-1', 'w-sam', sha256(session));
    clock.advance(RELAY_TOKEN_TTL_MS + 1);
    expect(await relay(fresh.clientId, fresh.token)).toBe(4);
    const again = issuer.issue('fob-1', 'w-sam', sha256(session));
    const ok = await relay(again.clientId, again.token);
    expect(typeof ok).not.toBe('number');
    await (ok as MqttClient).endAsync(true);
  }, 120_000);

  it('refuses to start with the relay key missing or short', () => {
    const cluster = testConfig(dir, { cluster: { servers: nats.urls, relay_key_env: 'LW_TEST_RELAY_KEY_UNSET' } }).cluster!;
    expect(() => relayKey(cluster, {})).toThrow(ClusterConfigError);
    expect(() => relayKey(cluster, { LW_TEST_RELAY_KEY_UNSET: 'short' })).toThrow(/at least 32/);
    expect(relayKey(cluster, { LW_TEST_RELAY_KEY_UNSET: KEY })?.toString()).toBe(KEY);
  });
});
