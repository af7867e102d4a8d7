/**
 * Transport security (issue 17) end to end: a real hub with certificates made by openssl at test
 * time, real mqtt.js fobs over MQTTS and WSS, real HTTPS requests, a real SIGHUP.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type AddressInfo } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import TOML from '@iarna/toml';
import { startTestHub, testConfig, type TestHub } from '../helpers/hub-harness.js';
import { connectFob, type FobTls, type TestFob } from '../helpers/mqtt-fob.js';
import { makeTestPki, type TestPki } from '../helpers/test-certs.js';
import { makeEventId } from '../../shared/protocol-core.js';
import { Hub } from '../../hub/hub.js';
import { ManualClock } from '../../hub/clock.js';
import { ConfigError } from '../../hub/config/load-config.js';
import { TlsMaterialError } from '../../hub/tls/tls-material.js';
import { reloadTlsOnSighup } from '../../hub/cli/hub-command.js';
import { createUser } from '../../hub/http/users.js';
import { TEST_PASSWORD_COST } from '../dashboard/api-client.js';
import type { Logger } from '../../hub/logger.js';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => pki.cleanup());

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

/** A logger whose lines the test can read. */
function capturingLogger(): { log: Logger; lines: { level: number; msg: string; [k: string]: unknown }[]; next(pred: (msg: string) => boolean): Promise<string> } {
  const lines: { level: number; msg: string }[] = [];
  const waiters: { pred: (m: string) => boolean; resolve: (m: string) => void }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const text of chunk.toString().split('\n').filter(Boolean)) {
        const line = JSON.parse(text) as { level: number; msg: string };
        lines.push(line);
        for (const w of [...waiters]) {
          if (!w.pred(line.msg)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line.msg);
        }
      }
      cb();
    },
  });
  return {
    log: pino({ level: 'debug' }, stream),
    lines,
    next: (pred) => new Promise((resolve) => waiters.push({ pred, resolve })),
  };
}

// mqtts_port 0: an ephemeral port, never the real 8883 (other tests and hubs share this machine).
const tlsFiles = (pair = pki.server) => ({ cert_file: pair.cert, key_file: pair.key, mqtts_port: 0 });
const trustTestCa = (): FobTls => ({ ca: pki.read(pki.caCert) });

async function hubWith(tls: Record<string, unknown>, extra: { mqtt?: Record<string, unknown>; hub?: Record<string, unknown>; log?: Logger; clock?: ManualClock } = {}): Promise<TestHub> {
  const t = await startTestHub({
    config: { tls, ...(extra.mqtt ? { mqtt: extra.mqtt } : {}), ...(extra.hub ? { hub: extra.hub } : {}) },
    ...(extra.log ? { log: extra.log } : {}),
    ...(extra.clock ? { clock: extra.clock } : {}),
  });
  cleanup.push(() => t.stop());
  return t;
}

async function fob(url: string, deviceId: string, secret: string, tls: FobTls): Promise<TestFob> {
  const f = await connectFob(url, deviceId, secret, { tls });
  cleanup.push(() => f.close());
  return f;
}

/** An SOS over `f` is stored before its PUBACK and acknowledged with its event id. */
async function sosIsStoredAndAcked(t: TestHub, f: TestFob, seq: number): Promise<void> {
  const id = makeEventId(1, seq);
  await f.send({ i: id, k: 'sos', ag: 0 });
  expect((await t.alarms()).some((a) => a.sourceEventId === id && a.deviceId === f.deviceId)).toBe(true);
  expect(await f.waitFor((c) => c.k === 'ack' && c.i === id)).toEqual({ k: 'ack', i: id });
}

function peerFingerprint(f: TestFob): string {
  return (f.client.stream as unknown as TLSSocket).getPeerCertificate().fingerprint256;
}

function fingerprintOf(certFile: string): string {
  return new X509Certificate(pki.read(certFile)).fingerprint256;
}

/** One HTTPS request trusting the test CA; resolves with status, body and the server's certificate. */
function httpsFetch(url: string, opts: { method?: string; body?: unknown; headers?: Record<string, string>; ca?: string } = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined>; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = httpsRequest(url, { method: opts.method ?? 'GET', ca: opts.ca ?? pki.read(pki.caCert), agent: false, headers: { ...opts.headers, ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers, fingerprint }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function tcpConnects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('MQTT over TLS and secure WebSocket', () => {
  it('a fob trusting the test CA connects over MQTTS and over WSS; its SOS is stored and acknowledged', async () => {
    const t = await hubWith(tlsFiles());
    const { secret } = await t.addDevice('fob-001', { workerId: 'w-1' });
    const overTls = await fob(t.mqttsUrl, 'fob-001', secret, trustTestCa());
    expect(peerFingerprint(overTls)).toBe(fingerprintOf(pki.server.cert));
    await sosIsStoredAndAcked(t, overTls, 1);
    await overTls.close();

    const wssUrl = `${t.httpUrl.replace(/^https/, 'wss')}/mqtt`;
    expect(wssUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    const overWss = await fob(wssUrl, 'fob-001', secret, trustTestCa());
    await sosIsStoredAndAcked(t, overWss, 2);
    expect(await t.alarms()).toHaveLength(2);
  });

  it('a fob that trusts another CA refuses the hub (its own verification fails), and nothing is stored', async () => {
    const t = await hubWith(tlsFiles());
    const { secret } = await t.addDevice('fob-001', { workerId: 'w-1' });
    const err = (await connectFob(t.mqttsUrl, 'fob-001', secret, { tls: { ca: pki.read(pki.otherCaCert) } }).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toMatch(/^(UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
    expect(t.hub.broker.connectedClients).toBe(0);
    expect(await t.alarms()).toHaveLength(0);
  });

  it('a hub serving an expired certificate starts with an error saying so, and fobs refuse it', async () => {
    const cap = capturingLogger();
    const t = await hubWith(tlsFiles(pki.serverExpired), { log: cap.log });
    expect(cap.lines.some((l) => l.level === 50 && /expired on .*fobs and browsers will refuse/.test(l.msg))).toBe(true);
    const { secret } = await t.addDevice('fob-001');
    const err = (await connectFob(t.mqttsUrl, 'fob-001', secret, { tls: trustTestCa() }).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toBe('CERT_HAS_EXPIRED');
  });

  it('with [tls] the plain MQTT listener is off unless kept; /healthz and the start-up log say which listeners are on', async () => {
    const port = await freePort();
    const cap = capturingLogger();
    const t = await hubWith(tlsFiles(), { mqtt: { port }, log: cap.log });
    // HTTPS with an http public_url: told at start-up that cookies are not Secure.
    expect(cap.lines.some((l) => l.level === 40 && l.msg.startsWith('the hub serves HTTPS but hub.public_url is not https'))).toBe(true);
    expect(t.hub.mqttPort).toBe(0);
    expect(await tcpConnects(port)).toBe(false);
    const health = JSON.parse((await httpsFetch(`${t.httpUrl}/healthz`)).body) as { listeners: Record<string, string | null>; tls: Record<string, unknown> };
    expect(health.listeners).toEqual({
      mqtt: null,
      mqtts: `mqtts://127.0.0.1:${t.hub.mqttsPort}`,
      http: null,
      https: `https://127.0.0.1:${t.hub.httpPort}`,
      ws: null,
      wss: `wss://127.0.0.1:${t.hub.httpPort}/mqtt`,
    });
    expect(health.tls).toMatchObject({ subject: 'CN=hub.test', fingerprint256: fingerprintOf(pki.server.cert), clientCerts: 'off' });
    expect(health.tls.daysLeft).toBeGreaterThan(360);
    const started = cap.lines.find((l) => l.msg.startsWith('hub listening'))!;
    expect(started.msg).toContain(`MQTTS mqtts://127.0.0.1:${t.hub.mqttsPort}`);
    expect(started.msg).toContain('TLS certificate CN=hub.test, valid to');
    expect(started.msg).not.toMatch(/\bMQTT mqtt:/);

    const kept = await hubWith({ ...tlsFiles(), keep_plain_mqtt: true, https: false }, { mqtt: { port: await freePort() } });
    expect(kept.hub.mqttPort).toBeGreaterThan(0);
    const { secret } = await kept.addDevice('fob-002', { workerId: 'w-2' });
    const plain = await fob(kept.mqttUrl, 'fob-002', secret, {});
    await sosIsStoredAndAcked(kept, plain, 1);
    const keptHealth = (await (await fetch(`${kept.httpUrl}/healthz`)).json()) as { listeners: Record<string, string | null> };
    expect(keptHealth.listeners).toMatchObject({ mqtt: `mqtt://127.0.0.1:${kept.hub.mqttPort}`, http: `http://127.0.0.1:${kept.hub.httpPort}`, https: null, wss: null });
  });

  it('without [tls] nothing changes: plain MQTT and HTTP, and the start-up log says nothing is encrypted', async () => {
    const cap = capturingLogger();
    const t = await startTestHub({ log: cap.log });
    cleanup.push(() => t.stop());
    expect(t.hub.mqttsPort).toBe(0);
    expect(cap.lines.find((l) => l.msg.startsWith('hub listening'))!.msg).toContain('no TLS ([tls] not configured)');
    const health = (await (await fetch(`${t.httpUrl}/healthz`)).json()) as { ok: boolean; tls: unknown; listeners: Record<string, unknown> };
    expect(health).toMatchObject({ ok: true, tls: null, listeners: { mqtts: null, https: null, wss: null } });
  });
});

describe('client certificates', () => {
  const required = () => ({ ...tlsFiles(), client_certs: 'required', client_ca_file: pki.caCert });

  it('required: a fob without one, with another device\'s, or with one from another CA is refused; with its own it connects', async () => {
    const cap = capturingLogger();
    const t = await hubWith(required(), { log: cap.log });
    const { secret } = await t.addDevice('fob-001', { workerId: 'w-1' });
    const refusal = async (tls: FobTls, url = t.mqttsUrl) => {
      const err = (await connectFob(url, 'fob-001', secret, { tls }).catch((e: unknown) => e)) as Error & { code?: number };
      expect(err).toBeInstanceOf(Error);
      return err;
    };
    expect((await refusal(trustTestCa())).code).toBe(5);
    expect(cap.lines.some((l) => l.msg === 'connection refused: device fob-001 presented no client certificate (tls.client_certs = "required")')).toBe(true);

    const other = pki.client('fob-002');
    expect((await refusal({ ...trustTestCa(), cert: pki.read(other.cert), key: pki.read(other.key) })).code).toBe(5);
    expect(cap.lines.some((l) => l.msg === 'connection refused: device fob-001 presented a client certificate for "fob-002", not for fob-001')).toBe(true);

    const foreign = pki.client('fob-001', { ca: 'other' });
    expect((await refusal({ ...trustTestCa(), cert: pki.read(foreign.cert), key: pki.read(foreign.key) })).code).toBe(5);
    expect(cap.lines.some((l) => /presented a client certificate that tls.client_ca_file does not vouch for/.test(l.msg))).toBe(true);

    // WSS is no way round: the fob's own client id must come over MQTTS.
    expect((await refusal(trustTestCa(), `${t.httpUrl.replace(/^https/, 'wss')}/mqtt`)).code).toBe(5);
    expect(cap.lines.some((l) => /must connect over MQTTS with its client certificate/.test(l.msg))).toBe(true);
    expect(await t.alarms()).toHaveLength(0);

    const own = pki.client('fob-001');
    const f = await fob(t.mqttsUrl, 'fob-001', secret, { ...trustTestCa(), cert: pki.read(own.cert), key: pki.read(own.key) });
    await sosIsStoredAndAcked(t, f, 1);
  });

  it('required: the certificate does not replace the secret', async () => {
    const t = await hubWith(required());
    await t.addDevice('fob-001', { workerId: 'w-1' });
    const own = pki.client('fob-001');
    const err = (await connectFob(t.mqttsUrl, 'fob-001', 'not-the-secret', { tls: { ...trustTestCa(), cert: pki.read(own.cert), key: pki.read(own.key) } }).catch((e: unknown) => e)) as Error & { code?: number };
    expect(err.code).toBe(4);
  });

  it('optional: a fob without one connects with its secret; one presenting another device\'s is refused', async () => {
    const t = await hubWith({ ...tlsFiles(), client_certs: 'optional', client_ca_file: pki.caCert });
    const { secret } = await t.addDevice('fob-001', { workerId: 'w-1' });
    const other = pki.client('fob-002');
    const err = (await connectFob(t.mqttsUrl, 'fob-001', secret, { tls: { ...trustTestCa(), cert: pki.read(other.cert), key: pki.read(other.key) } }).catch((e: unknown) => e)) as Error & { code?: number };
    expect(err.code).toBe(5);
    const f = await fob(t.mqttsUrl, 'fob-001', secret, trustTestCa());
    await sosIsStoredAndAcked(t, f, 1);
  });
});

describe('certificate reload on SIGHUP', () => {
  it('swaps the certificate for new connections while a connected fob stays; a bad or expired new set is refused and the old kept', async () => {
    // The hub reads its certificate from files the test can replace, as a renewal would.
    const cert = join(pki.dir, 'live.crt');
    const key = join(pki.dir, 'live.key');
    copyFileSync(pki.server.cert, cert);
    copyFileSync(pki.server.key, key);
    const cap = capturingLogger();
    const t = await hubWith({ cert_file: cert, key_file: key, mqtts_port: 0 }, { log: cap.log });
    cleanup.push(reloadTlsOnSighup(t.hub));
    const { secret } = await t.addDevice('fob-001', { workerId: 'w-1' });
    const second = await t.addDevice('fob-002', { workerId: 'w-2' });
    const before = await fob(t.mqttsUrl, 'fob-001', secret, trustTestCa());
    const oldPrint = fingerprintOf(pki.server.cert);
    const newPrint = fingerprintOf(pki.serverRenewed.cert);
    expect(peerFingerprint(before)).toBe(oldPrint);

    copyFileSync(pki.serverRenewed.cert, cert);
    copyFileSync(pki.serverRenewed.key, key);
    const reloaded = cap.next((m) => m.startsWith('TLS certificate reloaded'));
    process.kill(process.pid, 'SIGHUP');
    expect(await reloaded).toContain('CN=hub-renewed.test');

    // The fob connected before the reload kept its connection and still works.
    expect(before.client.connected).toBe(true);
    expect(peerFingerprint(before)).toBe(oldPrint);
    await sosIsStoredAndAcked(t, before, 1);
    const after = await fob(t.mqttsUrl, 'fob-002', second.secret, trustTestCa());
    expect(peerFingerprint(after)).toBe(newPrint);
    expect((await httpsFetch(`${t.httpUrl}/healthz`)).fingerprint).toBe(newPrint);

    // A key that does not belong to the certificate: refused, the renewed certificate stays.
    copyFileSync(pki.server.key, key);
    let refused = cap.next((m) => m.startsWith('TLS reload refused'));
    process.kill(process.pid, 'SIGHUP');
    expect(await refused).toMatch(/is not the key of the certificate .* they do not match\. Still serving the certificate CN=hub-renewed\.test/);
    // A file that is not PEM at all.
    writeFileSync(cert, 'not a certificate');
    refused = cap.next((m) => m.startsWith('TLS reload refused'));
    process.kill(process.pid, 'SIGHUP');
    expect(await refused).toContain('is not a PEM file');
    // An expired certificate with its own key.
    copyFileSync(pki.serverExpired.cert, cert);
    copyFileSync(pki.serverExpired.key, key);
    refused = cap.next((m) => m.startsWith('TLS reload refused'));
    process.kill(process.pid, 'SIGHUP');
    expect(await refused).toMatch(/expired on/);

    const later = await connectFob(t.mqttsUrl, 'fob-002', second.secret, { tls: trustTestCa() });
    cleanup.push(() => later.close());
    expect(peerFingerprint(later)).toBe(newPrint);
    expect(t.hub.certificateStatus()!.fingerprint256).toBe(newPrint);
    await sosIsStoredAndAcked(t, before, 2);
  });
});

describe('certificate reload with client certificates', () => {
  it('after a reload the MQTTS listener still verifies fobs\' certificates against the client CA', async () => {
    const cert = join(pki.dir, 'live-cc.crt');
    const key = join(pki.dir, 'live-cc.key');
    copyFileSync(pki.server.cert, cert);
    copyFileSync(pki.server.key, key);
    const t = await hubWith({ cert_file: cert, key_file: key, mqtts_port: 0, client_certs: 'required', client_ca_file: pki.caCert });
    const { secret } = await t.addDevice('fob-001', { workerId: 'w-1' });
    copyFileSync(pki.serverRenewed.cert, cert);
    copyFileSync(pki.serverRenewed.key, key);
    expect(t.hub.reloadTls()).toMatchObject({ ok: true, certificate: { subject: 'CN=hub-renewed.test' } });
    const own = pki.client('fob-001');
    const f = await fob(t.mqttsUrl, 'fob-001', secret, { ...trustTestCa(), cert: pki.read(own.cert), key: pki.read(own.key) });
    expect(peerFingerprint(f)).toBe(fingerprintOf(pki.serverRenewed.cert));
    await sosIsStoredAndAcked(t, f, 1);
    await f.close();
    const other = pki.client('fob-001', { ca: 'other' });
    const err = (await connectFob(t.mqttsUrl, 'fob-001', secret, { tls: { ...trustTestCa(), cert: pki.read(other.cert), key: pki.read(other.key) } }).catch((e: unknown) => e)) as Error & { code?: number };
    expect(err.code).toBe(5);
  });
});

describe('HTTPS from the hub', () => {
  it('serves the dashboard, the companion and the API over HTTPS, with Secure cookies and HSTS under an https public_url', async () => {
    const t = await hubWith(tlsFiles(), { hub: { public_url: 'https://hub.test:8443' } });
    expect(t.httpUrl).toMatch(/^https:/);
    const page = await httpsFetch(`${t.httpUrl}/`);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<html/i);
    expect((await httpsFetch(`${t.httpUrl}/companion/`)).status).toBe(200);

    await createUser(t.hub.store, { username: 'ada', role: 'admin', password: 'correct horse battery', name: 'Ada', workerId: null }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
    const signIn = await httpsFetch(`${t.httpUrl}/api/auth/sign-in`, { method: 'POST', body: { username: 'ada', password: 'correct horse battery' } });
    expect(signIn.status).toBe(200);
    expect(String(signIn.headers['set-cookie'])).toMatch(/;\s*Secure/i);
    expect(page.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const alarms = await httpsFetch(`${t.httpUrl}/api/alarms`, { headers: { cookie } });
    expect(alarms.status).toBe(200);
    expect(JSON.parse(alarms.body)).toBeDefined();
    expect((await httpsFetch(`${t.httpUrl}/api/alarms`)).status).toBe(401);
  });
});

describe('stopping a hub that serves HTTPS', () => {
  it('drops HTTPS connections that never sent a request, so the stop does not wait on them', async () => {
    const cap = capturingLogger();
    const t = await startTestHub({ config: { tls: tlsFiles() }, log: cap.log });
    t.hub.stopStepMs = 10_000;
    const idle = tlsConnect({ host: '127.0.0.1', port: t.hub.httpPort, ca: pki.read(pki.caCert), servername: 'localhost' });
    await new Promise<void>((resolve, reject) => idle.once('secureConnect', resolve).once('error', reject));
    const closed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    await t.stop();
    await closed;
    expect(cap.lines.filter((l) => /did not finish within/.test(l.msg)).map((l) => l.msg)).toEqual([]);
  });
});

describe('lonewatch.example.toml [tls]', () => {
  it('comments every key of [tls], and the commented example is valid config with the defaults shown', () => {
    const text = readFileSync(new URL('../../lonewatch.example.toml', import.meta.url), 'utf8');
    const lines = text.split('\n');
    const start = lines.indexOf('# [tls]');
    expect(start).toBeGreaterThan(0);
    const block: string[] = [];
    for (let i = start + 1; i < lines.length && lines[i]!.startsWith('#'); i++) block.push(lines[i]!);
    const keys = block.filter((l) => /^# \w+ = /.test(l)).map((l) => l.slice(2));
    const parsed = testConfig(pki.dir, { tls: TOML.parse(keys.join('\n')) }).tls!;
    expect(Object.keys(parsed).sort()).toEqual(['cert_file', 'chain_file', 'client_ca_file', 'client_certs', 'fob_ca_file', 'https', 'keep_plain_mqtt', 'key_file', 'mqtts_port']);
    expect(parsed).toMatchObject({ mqtts_port: 8883, https: true, keep_plain_mqtt: false, client_certs: 'off' });
    // Each key (or group of neighbouring keys) sits under a comment that explains it.
    for (const k of keys) {
      let j = block.indexOf(`# ${k}`) - 1;
      while (j >= 0 && /^# \w+ = /.test(block[j]!)) j--;
      expect(j, k).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('start-up checks of the [tls] files', () => {
  async function startFails(tls: Record<string, unknown>): Promise<TlsMaterialError> {
    const config = testConfig(pki.dir, { tls });
    const err = await Hub.start({ config, log: pino({ level: 'silent' }) }).then(
      (hub) => (cleanup.push(() => hub.stop()), null),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TlsMaterialError);
    return err as TlsMaterialError;
  }

  it('a missing file, a key of another certificate and a non-PEM chain are refused with the key that names them', async () => {
    expect((await startFails({ ...tlsFiles(), cert_file: join(pki.dir, 'nope.crt') })).problems).toEqual([`tls.cert_file: cannot read ${join(pki.dir, 'nope.crt')}: no such file`]);
    expect((await startFails({ ...tlsFiles(), key_file: pki.serverRenewed.key })).problems[0]).toMatch(/^tls\.key_file: .* is not the key of the certificate in .* \(CN=hub\.test\): they do not match$/);
    const junk = join(pki.dir, 'junk.pem');
    writeFileSync(junk, 'hello');
    expect((await startFails({ ...tlsFiles(), chain_file: junk })).problems).toEqual([`tls.chain_file: ${junk} is not a PEM file (no "-----BEGIN" line)`]);
  });

  it('the schema refuses client certificates without a CA, and a kept plain listener with required client certificates', () => {
    const err = (() => {
      try {
        testConfig(pki.dir, { tls: { ...tlsFiles(), client_certs: 'required', keep_plain_mqtt: true } });
        return null;
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems).toEqual([
      expect.stringMatching(/^tls\.client_ca_file: client_certs = "required" needs client_ca_file/),
      expect.stringMatching(/^tls\.keep_plain_mqtt: cannot be true with client_certs = "required"/),
    ]);
  });

  it('a certificate expiring within 30 days is a start-up warning', async () => {
    const cap = capturingLogger();
    await hubWith(tlsFiles(pki.serverSoon), { log: cap.log, clock: new ManualClock(Date.now()) });
    const warning = cap.lines.find((l) => l.level === 40 && l.msg.includes('CN=hub-soon.test'));
    expect(warning?.msg).toMatch(/expires on .*, in (9|10) days: renew it and send the hub SIGHUP/);
  });
});
