/**
 * Issue 17: the EMITTED RAK5010 bundle over TLS through the BG96's own SSL stack, against the REAL
 * hub with [tls] (MQTTS only: its plain MQTT listener is off). The simulated BG96 terminates real
 * TLS (node:tls) and verifies the hub's certificate against the CA file the firmware uploaded to it
 * (AT+QFUPL) from the Storage file the flashing tool writes (lw.ca). Certificates are made with
 * openssl at test time. Board time is virtual; the sockets are real.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type vm from 'node:vm';
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

async function tlsHub(): Promise<TestHub> {
  // mqtts_port 0: an ephemeral port, never the real 8883 (other hubs share this machine).
  hub = await startTestHub({ config: { tls: { cert_file: pki.server.cert, key_file: pki.server.key, mqtts_port: 0 } } });
  return hub;
}

/** A RAK5010 provisioned as the flashing tool does for TLS: identity with t (the CA's file name on the modem) and lw.ca. */
function tlsRak(h: TestHub, deviceId: string, secret: string, caPem: string): SimulatedRak {
  const r = new SimulatedRak(script, tlsRakStorage({ id: deviceId, pw: secret, port: h.hub.mqttsPort, ca: caPem }));
  // The fob dials "localhost" (the name in the hub's certificate); the simulated network takes it to loopback.
  r.modem.redirect('127.0.0.1');
  rak = r;
  r.boot();
  return r;
}

const outbox = (r: SimulatedRak): { i: string; k: string }[] => outboxEntries(r.storage);
const count = (r: SimulatedRak, prefix: string): number => r.modem.commands.filter((c) => c.startsWith(prefix)).length;

describe('RAK5010 bundle over the BG96 SSL stack to a hub with [tls]', () => {
  it('uploads the pinned CA, opens TLS with it, and an SOS reaches the hub and is acked; a reboot does not upload it again', async () => {
    const h = await tlsHub();
    expect(h.mqttPort).toBe(0);
    const { secret } = await h.addDevice('rak-t', { workerId: 'w-t' });
    const ca = pki.read(pki.caCert);
    const r = tlsRak(h, 'rak-t', secret, ca);
    expect(await r.until(() => (h.hub.metrics().connectedFobs as number) > 0, 30_000)).toBe(true);
    const name = caFileName(ca);
    // The modem got the CA byte for byte and the SSL context points at it.
    expect(r.modem.files[name]).toBe(ca);
    expect(r.modem.commands).toEqual(
      expect.arrayContaining([
        `AT+QFLST="${name}"`,
        `AT+QFUPL="${name}",${ca.length},10`,
        'AT+QSSLCFG="seclevel",1,1',
        `AT+QSSLCFG="cacert",1,"${name}"`,
        `AT+QSSLOPEN=1,1,0,"localhost",${h.hub.mqttsPort},1`,
      ]),
    );
    // Upload only after the modem said it lacks the file, and before the SSL context names it.
    const at = (c: string): number => r.modem.commands.findIndex((x) => x.startsWith(c));
    expect(at('AT+QFLST')).toBeLessThan(at('AT+QFUPL'));
    expect(at('AT+QFUPL')).toBeLessThan(at('AT+QSSLCFG="cacert"'));
    // Nothing went over plain TCP, and the bytes went through QSSLSEND.
    expect(count(r, 'AT+QIOPEN')).toBe(0);
    expect(count(r, 'AT+QISEND')).toBe(0);
    expect(count(r, 'AT+QSSLSEND=0,')).toBeGreaterThan(0);
    expect(r.modem.sslFailures).toEqual([]);
    await r.until(() => outbox(r).length === 0, 10_000);

    await r.gesture('H');
    expect(r.board.buzzerOnCount()).toBeGreaterThan(0);
    let sos = false;
    for (let t = 0; t < 15_000 && !sos; t += 200) {
      await r.run(200);
      sos = (await h.alarms()).some((a) => a.kind === 'sos' && a.deviceId === 'rak-t');
    }
    expect(sos).toBe(true);
    // The hub's ack came back over the same TLS link: the outbox is empty.
    expect(await r.until(() => outbox(r).length === 0, 10_000)).toBe(true);

    // A reboot (the modem keeps its files): QFLST finds the CA with its size, no second upload.
    const uploads = count(r, 'AT+QFUPL');
    const opens = count(r, 'AT+QSSLOPEN');
    r.reboot();
    expect(await r.until(() => count(r, 'AT+QSSLOPEN') > opens && (h.hub.metrics().connectedFobs as number) > 0, 30_000)).toBe(true);
    expect(count(r, 'AT+QFUPL')).toBe(uploads);
    expect(r.modem.refused).toEqual([]);
    expect(r.board.errors).toEqual([]);
  }, 120_000);

  it('with a CA that did not sign the hub the TLS open fails, the fob keeps retrying with the SOS in its outbox, and a re-provisioned CA gets it through', async () => {
    const h = await tlsHub();
    const { secret } = await h.addDevice('rak-w', { workerId: 'w-w' });
    const wrong = pki.read(pki.otherCaCert);
    const r = tlsRak(h, 'rak-w', secret, wrong);
    const opensAt: number[] = [];
    let seen = 0;
    const watch = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 100) {
        await r.run(100, 20);
        for (; seen < count(r, 'AT+QSSLOPEN'); seen++) opensAt.push(r.board.clock.now());
      }
    };
    await watch(5_000);
    await r.gesture('H');
    // The worker hears the loud alarm locally; nothing tells her the hub has not got it.
    expect(r.board.buzzerOnCount()).toBeGreaterThan(0);
    await watch(40_000);
    // Every open failed on the hub's certificate (node's reason: not signed by the pinned CA) ...
    expect(r.modem.sslFailures.length).toBeGreaterThanOrEqual(4);
    expect(new Set(r.modem.sslFailures)).toEqual(new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE']));
    expect(r.modem.commands.filter((c) => c.startsWith('AT+QSSLOPEN')).length).toBe(opensAt.length);
    // ... and was retried within seconds (the hub's side: 2-3 s, doubling to at most 6-9 s).
    const gaps = opensAt.slice(1).map((t, i) => t - opensAt[i]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(9_500);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(2_000);
    // No MQTT session, no alarm at the hub; the SOS waits in the fob's outbox.
    expect(h.hub.metrics().connectedFobs).toBe(0);
    expect((await h.alarms()).filter((a) => a.deviceId === 'rak-w')).toEqual([]);
    expect(outbox(r).some((e) => e.k === 'sos')).toBe(true);
    expect(count(r, 'AT+QSSLSEND')).toBe(0);

    // Re-provisioned with the hub's CA (a new file name, so the modem gets the new content), the
    // SOS raised before arrives after the reboot.
    const right = pki.read(pki.caCert);
    Object.assign(r.storage, tlsRakStorage({ id: 'rak-w', pw: secret, port: h.hub.mqttsPort, ca: right }));
    r.reboot();
    let sos = false;
    for (let t = 0; t < 30_000 && !sos; t += 200) {
      await r.run(200);
      sos = (await h.alarms()).some((a) => a.kind === 'sos' && a.deviceId === 'rak-w');
    }
    expect(sos).toBe(true);
    expect(r.modem.files[caFileName(right)]).toBe(right);
    expect(await r.until(() => !outbox(r).some((e) => e.k === 'sos'), 10_000)).toBe(true);
    expect(r.board.errors).toEqual([]);
  }, 120_000);
});
