/**
 * Issue 17: the emitted RAK5010 bundle UNMODIFIED on the REAL Espruino 2v29 interpreter, its Serial1
 * on a pty to the simulated BG96, which terminates real TLS to a real hub that requires client
 * certificates (tls.client_certs = "required"). The CA is in Storage (lw.ca, uploaded by the
 * firmware); the client certificate and key are on the modem's file system, as `lonewatch flash
 * --client-cert` leaves them (test/flash/flash-client-cert.test.ts). Certificates are made with
 * openssl at test time; the test waits for what the hub records, never for a fixed time.
 */
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { RealFob, realEspruinoMissing } from '../helpers/real-espruino.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { makeTestPki, type TestPki } from '../helpers/test-certs.js';
import { caFileName } from '../../firmware/flash/wire.js';
import { FIRMWARE_VERSION } from '../../firmware/src/version.js';
import { RAK5010_WIRING } from '../../firmware/src/wiring.js';

const missing = realEspruinoMissing('RAK5010');
if (missing) console.warn(`real-espruino-rak5010-tls: skipped, ${missing}`);

/** Pins the Linux build has (it stops at D32), as test/firmware/real-espruino-rak5010.test.ts. */
const LINUX_WIRING = { motor: 'D31', gps: 'D30' };
const BASE = 'lw5a17c3';

// Concurrent (issue 18): each test has its own interpreter, modem and device id on the one hub, and
// waits mostly on the interpreter's own timers (the gesture, the modem's TLS answers), so the tests
// wait side by side rather than one after the other; nothing they check is timed by the test. Each interpreter is powered off when its
// own test ends (`onTestFinished`, the test context's: a shared afterEach would end the others'
// fobs), and each test asserts with its context's `expect` (vitest: "Running tests concurrently").
describe.skipIf(!!missing)('RAK5010 bundle on the real interpreter with a client certificate, to a hub that requires one', { concurrent: true, timeout: 90_000 }, () => {
  let bundle = '';
  let pki: TestPki;
  let hub: TestHub;
  const msgs: { msg: string }[] = [];

  beforeAll(async () => {
    const b = await cachedFirmwareBuild('rak5010');
    expect(b.ok).toBe(true);
    bundle = b.code;
    pki = makeTestPki();
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const t of chunk.toString().split('\n').filter(Boolean)) msgs.push(JSON.parse(t) as { msg: string });
        cb();
      },
    });
    hub = await startTestHub({
      log: pino({ level: 'info' }, stream),
      config: { tls: { cert_file: pki.server.cert, key_file: pki.server.key, mqtts_port: 0, client_certs: 'required', client_ca_file: pki.caCert } },
    });
  });
  afterAll(async () => {
    await hub?.stop();
    pki?.cleanup();
  });

  async function start(ctx: TestContext, id: string, withCert: boolean): Promise<RealFob> {
    const { secret } = await hub.addDevice(id, { workerId: `w-${id}` });
    const ca = pki.read(pki.caCert);
    const client = pki.client(id);
    const fob = new RealFob({
      board: 'RAK5010',
      bundle,
      identity: { id, pw: secret, h: 'localhost', p: hub.hub.mqttsPort, w: LINUX_WIRING, t: caFileName(ca), ...(withCert ? { c: BASE } : {}) },
      files: { 'lw.ca': ca },
      onModem: (modem) => {
        // The fob dials "localhost" (the name in the hub's certificate); the simulated network takes it to loopback.
        modem.redirect('127.0.0.1');
        if (withCert) {
          modem.files[`${BASE}.crt`] = pki.read(client.cert);
          modem.files[`${BASE}.key`] = pki.read(client.key);
        }
      },
    });
    ctx.onTestFinished(() => fob.destroy());
    await fob.boot();
    await fob.waitForConsole(/^LW:(up|fault)/, 10_000);
    return fob;
  }

  it('presents its certificate through the modem, says hello, and its SOS is stored', async (ctx) => {
    const { expect } = ctx;
    const fob = await start(ctx, 'rak-rc', true);
    expect(fob.consoleLines).toEqual([`LW:up ${FIRMWARE_VERSION} rak5010 rak-rc`]);
    await expect.poll(async () => (await hub.hub.store.read((tx) => tx.getDevice('rak-rc')))?.firmware, { timeout: 30_000 }).toBe(FIRMWARE_VERSION);
    expect(fob.modem!.commands).toEqual(expect.arrayContaining(['AT+QSSLCFG="seclevel",1,2', `AT+QSSLCFG="clientcert",1,"${BASE}.crt"`, `AT+QSSLCFG="clientkey",1,"${BASE}.key"`]));
    await fob.gesture(RAK5010_WIRING.btn, 'H');
    await expect.poll(async () => (await hub.alarms()).filter((a) => a.deviceId === 'rak-rc').map((a) => a.kind), { timeout: 20_000 }).toEqual(['sos']);
    expect(fob.errors).toEqual([]);
  });

  it('without one the hub refuses it at CONNECT and logs why; no hello is recorded', async (ctx) => {
    const { expect } = ctx;
    const fob = await start(ctx, 'rak-rn', false);
    const why = 'device rak-rn presented no client certificate (tls.client_certs = "required")';
    await expect.poll(() => msgs.some((m) => String(m.msg).includes(why)), { timeout: 30_000 }).toBe(true);
    expect((await hub.hub.store.read((tx) => tx.getDevice('rak-rn')))?.firmware ?? null).toBeNull();
    expect(fob.errors).toEqual([]);
  });
});
