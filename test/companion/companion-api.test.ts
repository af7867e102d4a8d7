/**
 * The companion's API and relay credentials against a real hub: sign-in, the worker's day, the
 * relay token scoped to the worker's own fob (over the real MQTT-over-WebSocket), unplanned visits,
 * and the PWA's files (manifest, CSP).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { addWorkerAccount, PASSWORD, startCompanionHub } from './companion-harness.js';
import type { TestHub } from '../helpers/hub-harness.js';
import { createUser } from '../../hub/http/users.js';
import { TEST_PASSWORD_COST } from '../dashboard/api-client.js';
import { RELAY_TOKEN_TTL_MS } from '../../hub/companion/relay-tokens.js';

let t: TestHub;

beforeEach(async () => {
  t = await startCompanionHub();
  await addWorkerAccount(t, 'sam', 'w-a', 'Sam Carter');
  await addWorkerAccount(t, 'bo', 'w-b');
  await addWorkerAccount(t, 'cy', 'w-c');
  await t.addDevice('fob-a', { workerId: 'w-a' });
  await t.addDevice('fob-b', { workerId: 'w-b' });
});
afterEach(async () => {
  await t.stop();
});

async function call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${t.httpUrl}/api/companion${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function signIn(username: string, password = PASSWORD): Promise<string> {
  const r = await call('POST', '/sign-in', undefined, { username, password });
  expect(r.status).toBe(200);
  return r.json.token as string;
}

function wsConnect(clientId: string, username: string, password: string): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(`${t.httpUrl.replace('http', 'ws')}/mqtt`, { clientId, username, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
}

describe('companion API', () => {
  it('signs a worker in and shows their fob and their day', async () => {
    expect((await call('POST', '/sign-in', undefined, { username: 'sam', password: 'wrong' })).status).toBe(401);
    expect((await call('GET', '/me')).status).toBe(401);
    // Office accounts are not for the phone.
    await createUser(t.hub.store, { username: 'dana', role: 'duty_officer', password: PASSWORD }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
    expect((await call('POST', '/sign-in', undefined, { username: 'dana', password: PASSWORD })).status).toBe(403);
    const token = await signIn('sam');
    const me = await call('GET', '/me', token);
    expect(me.json).toMatchObject({ worker: { id: 'w-a', name: 'Sam Carter' }, device: { id: 'fob-a' } });
    const now = t.clock.now();
    await t.addWorker('w-second');
    await t.addVisit({ workerId: 'w-a', ref: 'V-2', scheduledStart: now + 2 * 3600_000, expectedEnd: now + 3 * 3600_000, riskCategory: 2, rag: 'amber', secondWorkerId: 'w-second' });
    await t.addVisit({ workerId: 'w-a', ref: 'V-1', scheduledStart: now + 3600_000, expectedEnd: now + 2 * 3600_000 });
    await t.addVisit({ workerId: 'w-b', ref: 'OTHER', scheduledStart: now + 3600_000, expectedEnd: now + 2 * 3600_000 });
    const today = await call('GET', '/today', token);
    expect((today.json.visits as { ref: string }[]).map((v) => v.ref)).toEqual(['V-1', 'V-2']);
    expect(today.json.visits).toContainEqual(expect.objectContaining({ ref: 'V-2', riskCategory: 2, status: 'planned' }));
  });

  it('a relay token lets the phone connect as its own fob only, over MQTT-over-WebSocket, and only until it expires', async () => {
    const token = await signIn('sam');
    const cred = (await call('POST', '/relay-token', token)).json as { deviceId: string; clientId: string; username: string; password: string; path: string };
    expect(cred).toMatchObject({ deviceId: 'fob-a', username: 'fob-a', path: '/mqtt', clientId: expect.stringMatching(/^fob-a\.relay-[0-9a-f]{12}$/) });
    // Not the fob's secret, not valid for another fob, and not under the fob's own client id (so a
    // relay never takes over the fob's own connection) nor another relay's.
    await expect(wsConnect(cred.clientId.replace('fob-a', 'fob-b'), 'fob-b', cred.password)).rejects.toThrow();
    await expect(wsConnect('fob-a', 'fob-a', cred.password)).rejects.toThrow();
    await expect(wsConnect('fob-a.relay-000000000000', 'fob-a', cred.password)).rejects.toThrow();
    const client = await wsConnect(cred.clientId, 'fob-a', cred.password);
    await client.publishAsync('lw/fob-a/ev', JSON.stringify({ i: 'z1-1', k: 'cov', ag: 0 }), { qos: 1 });
    await expect.poll(async () => (await t.alarms()).map((a) => [a.kind, a.deviceId, a.workerId])).toEqual([['covert_sos', 'fob-a', 'w-a']]);
    // The device ACL still holds: another fob's topics are refused (the broker drops the client).
    client.publish('lw/fob-b/ev', JSON.stringify({ i: 'z1-2', k: 'cov', ag: 0 }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(await t.eventCount('fob-b')).toBe(0);
    client.end(true);
    // Expired tokens are refused.
    await t.advance(RELAY_TOKEN_TTL_MS + 1000);
    await expect(wsConnect(cred.clientId, 'fob-a', cred.password)).rejects.toThrow();
    // A revoked fob is refused whatever the token.
    const fresh = (await call('POST', '/relay-token', token)).json as { clientId: string; password: string };
    await t.hub.store.transaction((tx) => tx.updateDevice('fob-a', { revokedAt: t.clock.now() }));
    await expect(wsConnect(fresh.clientId, 'fob-a', fresh.password)).rejects.toThrow();
  });

  it('a worker with no fob gets no relay token; a signed-out phone gets nothing', async () => {
    const cy = await signIn('cy');
    const r = await call('POST', '/relay-token', cy);
    expect(r.status).toBe(404);
    expect(r.json.error).toMatch(/no fob is assigned/);
    const sam = await signIn('sam');
    // A manager signs the lost phone out.
    expect(await t.hub.http.lonewatchAuth.revokeSessions('sam', 'user:manager')).toBe(1);
    expect((await call('POST', '/relay-token', sam)).status).toBe(401);
    expect((await call('GET', '/today', sam)).status).toBe(401);
  });

  it("the phone relays beside the fob's own connection (a RAK5010 worker using the companion): neither takes the other over", async () => {
    const { secret } = await t.addDevice('rak-c', { workerId: 'w-c' });
    const rak = await mqtt.connectAsync(t.mqttUrl, { clientId: 'rak-c', username: 'rak-c', password: secret, protocolVersion: 4, reconnectPeriod: 0 });
    const cy = await signIn('cy');
    const cred = (await call('POST', '/relay-token', cy)).json as { clientId: string; password: string };
    const phone = await wsConnect(cred.clientId, 'rak-c', cred.password);
    await phone.subscribeAsync('lw/rak-c/cmd', { qos: 1 });
    const acks: string[] = [];
    phone.on('message', (_topic, payload) => acks.push(payload.toString()));
    await phone.publishAsync('lw/rak-c/ev', JSON.stringify({ i: 'zabc-1', k: 'chk', ag: 0 }), { qos: 1 });
    await expect.poll(() => acks).toContainEqual(JSON.stringify({ k: 'ack', i: 'zabc-1' }));
    expect(rak.connected).toBe(true);
    expect(phone.connected).toBe(true);
    rak.end(true);
    phone.end(true);
  });

  it('a manager signing out a lost phone also ends its live relay connection', async () => {
    const token = await signIn('sam');
    const cred = (await call('POST', '/relay-token', token)).json as { clientId: string; password: string };
    const client = await wsConnect(cred.clientId, 'fob-a', cred.password);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect(await t.hub.http.lonewatchCompanion.sweep()).toEqual([]);
    expect(client.connected).toBe(true);
    await t.hub.http.lonewatchAuth.revokeSessions('sam', 'user:manager');
    expect(await t.hub.http.lonewatchCompanion.sweep()).toEqual(['fob-a']);
    await closed;
    // And the phone cannot come back: no session, no token.
    expect((await call('POST', '/relay-token', token)).status).toBe(401);
    client.end(true);
  });

  it('with two phones relaying, signing one out leaves the other', async () => {
    const lost = await signIn('sam');
    const kept = await signIn('sam');
    const c1 = (await call('POST', '/relay-token', lost)).json as { clientId: string; password: string };
    const c2 = (await call('POST', '/relay-token', kept)).json as { clientId: string; password: string };
    const p1 = await wsConnect(c1.clientId, 'fob-a', c1.password);
    const p2 = await wsConnect(c2.clientId, 'fob-a', c2.password);
    await call('POST', '/sign-out', lost);
    expect(await t.hub.http.lonewatchCompanion.sweep()).toEqual(['fob-a']);
    await expect.poll(() => p1.connected).toBe(false);
    expect(p2.connected).toBe(true);
    p1.end(true);
    p2.end(true);
  });

  it('R7, R8, R9: records an unplanned visit before it starts, with the visit policy checks', async () => {
    const token = await signIn('sam');
    const r = await call('POST', '/visits', token, { ref: 'U-77', minutes: 45 });
    expect(r.status).toBe(200);
    expect(r.json.visit).toMatchObject({ ref: 'U-77', unplanned: true, status: 'planned', expectedEnd: t.clock.now() + 45 * 60_000 });
    expect((await call('POST', '/visits', token, { ref: '12 High Street', minutes: 45 })).status).toBe(400);
    expect((await call('POST', '/visits', token, { ref: 'U-78', minutes: 2 })).json.field).toBe('minutes');
    await t.hub.store.transaction(async (tx) => tx.upsertWorker({ ...(await tx.getWorker('w-a'))!, newStarter: true }));
    const refused = await call('POST', '/visits', token, { ref: 'U-79', minutes: 30, riskCategory: 2 });
    expect(refused.status).toBe(422);
    const today = await call('GET', '/today', token);
    expect((today.json.visits as { ref: string }[]).map((v) => v.ref)).toEqual(['U-77']);
  });

  it('serves the PWA with a strict CSP, a valid manifest and the MQTT client from the hub', async () => {
    const page = await fetch(`${t.httpUrl}/companion/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=/);
    const res = await fetch(`${t.httpUrl}/companion/manifest.webmanifest`);
    expect(res.headers.get('content-type')).toContain('application/manifest+json');
    const manifest = (await res.json()) as Record<string, unknown> & { icons: { src: string; type: string }[] };
    expect(manifest).toMatchObject({ name: expect.any(String), short_name: expect.any(String), start_url: '/companion/', scope: '/companion/', display: 'standalone' });
    // Installable: PNG icons of 192 and 512 pixels (what Chrome asks for), and a maskable one.
    const pngSize = (buf: Buffer) => [buf.readUInt32BE(16), buf.readUInt32BE(20)];
    for (const size of [192, 512]) {
      const icon = manifest.icons.find((i) => i.type === 'image/png' && (i as { sizes?: string }).sizes === `${size}x${size}`)!;
      expect(icon).toBeDefined();
      const buf = Buffer.from(await (await fetch(`${t.httpUrl}${icon.src}`)).arrayBuffer());
      expect(buf.subarray(1, 4).toString()).toBe('PNG');
      expect(pngSize(buf)).toEqual([size, size]);
    }
    expect(manifest.icons.some((i) => (i as { purpose?: string }).purpose === 'maskable')).toBe(true);
    expect(manifest).toMatchObject({ theme_color: expect.stringMatching(/^#/), background_color: expect.stringMatching(/^#/), id: '/companion/' });
    for (const icon of manifest.icons) {
      const r = await fetch(`${t.httpUrl}${icon.src}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe(icon.type);
    }
    const sw = await fetch(`${t.httpUrl}/companion/sw.js`);
    expect(sw.status).toBe(200);
    const vendor = await fetch(`${t.httpUrl}/companion/vendor/mqtt.js`);
    expect(vendor.status).toBe(200);
    expect((await vendor.text()).length).toBeGreaterThan(100_000);
    expect((await fetch(`${t.httpUrl}/companion/../hub.ts`)).status).toBe(404);
    expect((await fetch(`${t.httpUrl}/companion/secrets.json`)).status).toBe(404);
  });
});
