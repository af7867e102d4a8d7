// TLS on a cluster edge (issue 19): the same [tls] as the single hub, through the same module
// (hub/tls/mqtt-transports.ts). On a real three-node NATS cluster with certificates made by openssl:
// a real mqtt.js fob trusting the CA connects over MQTTS (and wss), is authenticated, and its SOS's
// PUBACK comes only once the stream holds it; a client trusting another CA, or none, is refused in
// the handshake; the plain listener is off (as on the single hub), so a plain fob is refused; with
// client_certs = "required" a fob without its certificate gets CONNACK 5.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsCluster, stopNatsClusters, type LocalNatsCluster } from '../helpers/nats-cluster.js';
import { testConfig } from '../helpers/hub-harness.js';
import { connectFob, type FobTls } from '../helpers/mqtt-fob.js';
import { makeTestPki, type TestPki } from '../helpers/test-certs.js';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { addDevice } from '../../hub/admin/admin-service.js';
import { Edge } from '../../hub/cluster/edge.js';
import { decodeInbound, inboundSubject } from '../../hub/cluster/inbound.js';
import { silentLogger } from '../../hub/logger.js';
import { ManualClock } from '../../hub/clock.js';
import { makeEventId } from '../../shared/protocol-core.js';

let nats: LocalNatsCluster;
let pki: TestPki;
let store: SqliteStore;
let nc: NatsConnection;
let secret: string;
const edges: Edge[] = [];
const dir = mkdtempSync(join(tmpdir(), 'lw-edge-tls-'));
const clock = new ManualClock(Date.parse('2026-03-02T10:00:00Z'));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function startEdge(id: string, tls: Record<string, unknown>, mqttPort?: number): Promise<Edge> {
  const config = testConfig(dir, {
    cluster: { servers: nats.urls, user: nats.user, password_env: 'LW_TEST_NATS_PASSWORD', publish_timeout_ms: 2000 },
    tls: { cert_file: pki.server.cert, key_file: pki.server.key, mqtts_port: 0, ...tls },
    ...(mqttPort ? { mqtt: { port: mqttPort } } : {}),
  });
  const edge = await Edge.start({ config, cluster: config.cluster!, store, log: silentLogger, clock, id, httpPort: 0 });
  edges.push(edge);
  return edge;
}

const trustCa = (): FobTls => ({ ca: pki.read(pki.caCert) });

/** Connecting fails: resolves with the error (the handshake's, or the CONNACK's code). */
async function refused(url: string, deviceId: string, password: string, tls: FobTls): Promise<Error & { code?: number | string }> {
  const err = (await connectFob(url, deviceId, password, { tls }).then(
    async (f) => {
      await f.close();
      return null;
    },
    (e: unknown) => e,
  )) as (Error & { code?: number | string }) | null;
  expect(err).toBeInstanceOf(Error);
  return err!;
}

beforeAll(async () => {
  pki = makeTestPki();
  nats = await startNatsCluster();
  process.env.LW_TEST_NATS_PASSWORD = nats.password;
  store = new SqliteStore(join(dir, 'lonewatch.db'));
  secret = (await addDevice(store, 'fob-1', { now: clock.now() })).secret;
  nc = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
}, 120_000);

afterAll(async () => {
  delete process.env.LW_TEST_NATS_PASSWORD;
  await nc?.close();
  for (const e of edges) await e.stop().catch(() => undefined);
  await store?.close();
  await stopNatsClusters();
  pki?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('edge with [tls]', () => {
  it('an SOS over MQTTS is on the stream when its PUBACK arrives, and acked; wss works the same; the plain listener is off', async () => {
    const plainPort = await freePort();
    const edge = await startEdge('edge-tls', {}, plainPort);
    expect(edge.mqttsPort).toBeGreaterThan(0);
    // As on the single hub (docs/hub.md "Transport security"): [tls] without keep_plain_mqtt turns plain MQTT off.
    expect(edge.mqttPort).toBe(0);
    expect(edge.listeners()).toMatchObject({ mqtt: null, mqtts: `mqtts://127.0.0.1:${edge.mqttsPort}`, http: null, ws: null, wss: `wss://127.0.0.1:${edge.httpPort}/mqtt` });
    expect(edge.health().tls).toMatchObject({ subject: expect.stringContaining('hub.test'), clientCerts: 'off' });

    const jsm = await jetstreamManager(nc);
    for (const [url, seq] of [
      [`mqtts://127.0.0.1:${edge.mqttsPort}`, 1],
      [`wss://127.0.0.1:${edge.httpPort}/mqtt`, 2],
    ] as const) {
      const fob = await connectFob(url, 'fob-1', secret, { tls: trustCa() });
      const id = makeEventId(1, seq);
      await fob.send({ i: id, k: 'sos', ag: 0 });
      // Read the moment the PUBACK arrived: the stream already holds it.
      const stored = await jsm.streams.getMessage('LW_IN', { last_by_subj: inboundSubject('lw.in', 16, 'fob-1', 'ev') });
      const m = decodeInbound(stored!.header, stored!.data);
      expect(m).toMatchObject({ deviceId: 'fob-1', leaf: 'ev', edgeId: 'edge-tls' });
      expect(JSON.parse(Buffer.from(m.payload).toString())).toEqual({ i: id, k: 'sos', ag: 0 });
      // The application ack a worker sends over NATS reaches the fob over the TLS connection.
      nc.publish('lw.cmd.fob-1', JSON.stringify({ k: 'ack', i: id }));
      expect(await fob.waitFor((c) => c.k === 'ack' && c.i === id)).toEqual({ k: 'ack', i: id });
      await fob.close();
    }
    const lastEv = async () => {
      const stored = await jsm.streams.getMessage('LW_IN', { last_by_subj: inboundSubject('lw.in', 16, 'fob-1', 'ev') });
      return stored!.seq;
    };
    const before = await lastEv();

    // Authenticated over TLS as over TCP: a wrong secret is CONNACK 4 (bad user name or password).
    expect((await refused(`mqtts://127.0.0.1:${edge.mqttsPort}`, 'fob-1', 'not-the-secret', trustCa())).code).toBe(4);

    // A client that trusts another CA, or only the system's, fails the handshake: no MQTT at all.
    const otherCa = await refused(`mqtts://127.0.0.1:${edge.mqttsPort}`, 'fob-1', secret, { ca: pki.read(pki.otherCaCert) });
    expect(otherCa.message).toMatch(/certificate/i);
    const noCa = await refused(`mqtts://127.0.0.1:${edge.mqttsPort}`, 'fob-1', secret, {});
    expect(noCa.message).toMatch(/certificate/i);

    // A plain fob: the configured [mqtt] port is not listened on, and plain MQTT to the MQTTS port gets no CONNACK.
    const tcp = await new Promise<string>((resolve) => {
      const s = netConnect(plainPort, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve('connected')));
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(tcp).toBe('ECONNREFUSED');
    // mqtt.js's connectAsync does not settle when the connection closes before a CONNACK: race the events.
    const plain = await new Promise<string>((resolve) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${edge.mqttsPort}`, { clientId: 'fob-1', username: 'fob-1', password: secret, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 });
      c.once('connect', () => (c.end(true), resolve('connected')));
      c.once('close', () => (c.end(true), resolve('refused')));
      c.once('error', () => (c.end(true), resolve('refused')));
    });
    expect(plain).toBe('refused');
    // None of the refused clients put an event on the stream.
    expect(await lastEv()).toBe(before);
  }, 120_000);

  it('client_certs = "required": a fob without its certificate gets CONNACK 5; with it, its SOS is PUBACKed after JetStream', async () => {
    const edge = await startEdge('edge-certs', { client_certs: 'required', client_ca_file: pki.caCert });
    const url = `mqtts://127.0.0.1:${edge.mqttsPort}`;
    expect((await refused(url, 'fob-1', secret, trustCa())).code).toBe(5);
    const other = pki.client('fob-2');
    expect((await refused(url, 'fob-1', secret, { ...trustCa(), cert: pki.read(other.cert), key: pki.read(other.key) })).code).toBe(5);
    // Refused at CONNECT: nothing of theirs (not even a will) went to the stream.
    expect(edge.counters.streamed).toBe(0);

    const own = pki.client('fob-1');
    const fob = await connectFob(url, 'fob-1', secret, { tls: { ...trustCa(), cert: pki.read(own.cert), key: pki.read(own.key) } });
    const id = makeEventId(2, 1);
    await fob.send({ i: id, k: 'sos', ag: 0 });
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage('LW_IN', { last_by_subj: inboundSubject('lw.in', 16, 'fob-1', 'ev') });
    expect(decodeInbound(stored!.header, stored!.data)).toMatchObject({ edgeId: 'edge-certs' });
    expect(JSON.parse(Buffer.from(decodeInbound(stored!.header, stored!.data).payload).toString())).toMatchObject({ i: id });
    await fob.close();
  }, 120_000);
});
