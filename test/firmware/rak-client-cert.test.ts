/**
 * Issue 17: the EMITTED RAK5010 bundle with a client certificate, against the REAL hub with [tls]
 * client_certs = "required" (fob certificates signed by the test CA, CN = device id). The
 * certificate and key are on the simulated BG96's file system as `lonewatch flash` leaves them
 * (test/flash/flash-client-cert.test.ts flashes them there); the firmware names them with
 * AT+QSSLCFG "clientcert"/"clientkey" and seclevel 2, and the simulator presents them in its real
 * TLS handshake (node:tls). Certificates are made with openssl at test time.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import type vm from 'node:vm';
import pino from 'pino';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { SimulatedRak } from '../../firmware/sim/rak-sim.js';
import { caFileName } from '../../firmware/flash/wire.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { makeTestPki, type TestPki } from '../helpers/test-certs.js';
import { tlsRakStorage } from '../helpers/rak-tls-storage.js';
import { outboxEntries } from '../../firmware/sim/outbox-files.js';

let script: vm.Script;
let pki: TestPki;
let hub: TestHub | null = null;
let rak: SimulatedRak | null = null;

beforeAll(async () => {
  const b = await cachedFirmwareBuild('rak5010');
  expect(b.problems).toEqual([]);
  script = SimulatedBoard.compile(b.code, 'rak5010.js');
  pki = makeTestPki();
});
afterAll(() => pki.cleanup());
afterEach(async () => {
  rak?.stop();
  rak = null;
  await hub?.stop();
  hub = null;
});

/** The hub's log lines, to read why it refused a fob. */
function logLines(): { log: pino.Logger; msgs: { msg: string; [k: string]: unknown }[] } {
  const msgs: { msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const t of chunk.toString().split('\n').filter(Boolean)) msgs.push(JSON.parse(t) as { msg: string });
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), msgs };
}

async function certHub(log: pino.Logger): Promise<TestHub> {
  hub = await startTestHub({
    log,
    config: { tls: { cert_file: pki.server.cert, key_file: pki.server.key, mqtts_port: 0, client_certs: 'required', client_ca_file: pki.caCert } },
  });
  return hub;
}

const BASE = 'lw0c1e17';

/** Provisioned as `lonewatch flash --client-cert` leaves it: lw.json c, the files on the modem. */
function certRak(h: TestHub, deviceId: string, secret: string, client: { cert: string; key: string } | null): SimulatedRak {
  const ca = pki.read(pki.caCert);
  const r = new SimulatedRak(script, tlsRakStorage({ id: deviceId, pw: secret, port: h.hub.mqttsPort, ca, ...(client ? { clientBase: BASE } : {}) }));
  if (client) {
    r.modem.files[`${BASE}.crt`] = pki.read(client.cert);
    r.modem.files[`${BASE}.key`] = pki.read(client.key);
  }
  r.modem.redirect('127.0.0.1');
  rak = r;
  r.boot();
  return r;
}

describe('RAK5010 with a client certificate, to a hub that requires one', () => {
  it('presents its certificate in the handshake (seclevel 2), connects, and its SOS is stored', async () => {
    const { log } = logLines();
    const h = await certHub(log);
    const { secret } = await h.addDevice('rak-c', { workerId: 'w-c' });
    const r = certRak(h, 'rak-c', secret, pki.client('rak-c'));
    expect(await r.until(() => (h.hub.metrics().connectedFobs as number) > 0, 30_000)).toBe(true);
    expect(r.modem.commands).toEqual(
      expect.arrayContaining([
        'AT+QSSLCFG="seclevel",1,2',
        `AT+QSSLCFG="clientcert",1,"${BASE}.crt"`,
        `AT+QSSLCFG="clientkey",1,"${BASE}.key"`,
        `AT+QSSLCFG="cacert",1,"${caFileName(pki.read(pki.caCert))}"`,
      ]),
    );
    // In this order, between the SIM check and the registration check: the CA's file (uploaded, the
    // modem had none), then the SSL context, the client files named before the CA.
    const ca = pki.read(pki.caCert);
    const name = caFileName(ca);
    const from = r.modem.commands.indexOf(`AT+QFLST="${name}"`);
    expect(r.modem.commands.slice(from - 1, from + 8)).toEqual([
      'AT+CPIN?',
      `AT+QFLST="${name}"`,
      `AT+QFDEL="${name}"`,
      `AT+QFUPL="${name}",${ca.length},10`,
      'AT+QSSLCFG="seclevel",1,2',
      `AT+QSSLCFG="clientcert",1,"${BASE}.crt"`,
      `AT+QSSLCFG="clientkey",1,"${BASE}.key"`,
      `AT+QSSLCFG="cacert",1,"${name}"`,
      'AT+CEREG?',
    ]);
    // The firmware does not upload the client files (the flashing tool did): no QFUPL for them.
    expect(r.modem.commands.filter((c) => c.includes(BASE) && c.startsWith('AT+QF'))).toEqual([]);
    await r.gesture('H');
    expect(await r.until(() => outboxEntries(r.storage).length === 0, 30_000)).toBe(true);
    const alarms = await h.alarms();
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ kind: 'sos', deviceId: 'rak-c' });
  }, 90_000);

  it('without a client certificate it is refused at CONNECT, the hub logs why, and the SOS waits in the outbox', async () => {
    const { log, msgs } = logLines();
    const h = await certHub(log);
    const { secret } = await h.addDevice('rak-n', { workerId: 'w-n' });
    const r = certRak(h, 'rak-n', secret, null);
    await r.gesture('H');
    const why = 'device rak-n presented no client certificate (tls.client_certs = "required")';
    expect(await r.until(() => msgs.some((m) => String(m.msg).includes(why)), 30_000)).toBe(true);
    // seclevel 1, no client certificate named; the TLS session itself opened (the hub refuses at CONNECT).
    expect(r.modem.commands).toContain('AT+QSSLCFG="seclevel",1,1');
    expect(r.modem.commands.some((c) => c.includes('clientcert'))).toBe(false);
    expect(h.hub.metrics().connectedFobs).toBe(0);
    expect(await h.alarms()).toEqual([]);
    expect(outboxEntries(r.storage).map((e) => e.k)).toContain('sos');
  }, 90_000);

  it('a certificate for another device is refused, and so is one the modem does not hold (the simulator answers +CME ERROR: 405)', async () => {
    const { log, msgs } = logLines();
    const h = await certHub(log);
    const { secret } = await h.addDevice('rak-o', { workerId: 'w-o' });
    const r = certRak(h, 'rak-o', secret, pki.client('rak-someone-else'));
    const why = 'device rak-o presented a client certificate for "rak-someone-else", not for rak-o';
    expect(await r.until(() => msgs.some((m) => String(m.msg).includes(why)), 30_000)).toBe(true);
    r.stop();
    // Identity names a client certificate whose files were never uploaded to this modem.
    const bare = new SimulatedRak(script, tlsRakStorage({ id: 'rak-o', pw: secret, port: h.hub.mqttsPort, ca: pki.read(pki.caCert), clientBase: BASE }));
    bare.modem.redirect('127.0.0.1');
    rak = bare;
    // What the modem answers the board, byte for byte.
    let answers = '';
    const input = bare.board.serialReceive.bind(bare.board);
    bare.board.serialReceive = (d: string) => {
      answers += d;
      input(d);
    };
    bare.boot();
    expect(await bare.until(() => answers.includes('+CME ERROR: 405'), 30_000)).toBe(true);
    // The connect stopped at the refused QSSLCFG and is retried: no QSSLOPEN is ever tried.
    await bare.run(10_000);
    expect(bare.modem.commands.filter((c) => c === `AT+QSSLCFG="clientcert",1,"${BASE}.crt"`).length).toBeGreaterThanOrEqual(2);
    expect(bare.modem.commands.filter((c) => c.startsWith('AT+QSSLOPEN'))).toEqual([]);
  }, 90_000);
});
