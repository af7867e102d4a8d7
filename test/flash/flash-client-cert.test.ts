/**
 * Issue 17: `lonewatch flash --client-cert --client-key` for a RAK5010. The REAL command (in
 * process) through a REAL pty to the virtual RAK5010, whose simulated BG96 gets the certificate and
 * key on its file system by AT+QFUPL from the tool's console uploader; then the flashed firmware
 * presents them in a real TLS handshake to a real hub that requires client certificates, and the
 * fob's SOS is stored. Bad certificate arguments are refused before any board is touched.
 * Certificates are made with openssl at test time.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPty, startVirtualBoard, type Pty, type VirtualBoardProcess } from '../helpers/virtual-espruino/harness.js';
import { flash } from '../helpers/virtual-espruino/flash-in-process.js';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { makeTestPki, type TestPki } from '../helpers/test-certs.js';
import { checkUpload, qfuplChecksum } from '../../firmware/flash/modem-files.js';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => pki.cleanup());

let hub: TestHub | null = null;
let pty: Pty | null = null;
let vb: VirtualBoardProcess | null = null;
afterEach(async () => {
  await vb?.stop();
  await pty?.stop();
  await hub?.stop();
  vb = null;
  pty = null;
  hub = null;
});

async function bench(): Promise<{ hub: TestHub; pty: Pty }> {
  hub = await startTestHub({ config: { tls: { cert_file: pki.server.cert, key_file: pki.server.key, mqtts_port: 0, client_certs: 'required', client_ca_file: pki.caCert } } });
  pty = await startPty();
  return { hub, pty };
}

const rakArgs = (p: Pty, h: TestHub, device: string): string[] => [
  '--port', p.host, '--board', 'rak5010', '--device', device, '--hub-host', 'localhost', '--allow-localhost',
  '--hub-port', String(h.hub.mqttsPort), '--ca-file', pki.caCert,
];

describe('lonewatch flash: a RAK5010 client certificate', () => {
  it('uploads the certificate and key to the modem, and the flashed fob connects with them and raises an SOS', async () => {
    const { hub: h, pty: p } = await bench();
    await h.addWorker('sam');
    vb = await startVirtualBoard(p.board, { board: 'RAK5010', modemRedirect: '127.0.0.1' });
    const client = pki.client('rak-f');
    const { code, stdout, stderr } = await flash([...rakArgs(p, h, 'rak-f'), '--worker', 'sam', '--client-cert', client.cert, '--client-key', client.key, '--wait', '30'], { LONEWATCH_DATA_DIR: h.dataDir });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const base = /on the modem as (lw[0-9a-f]{6})\.crt and \1\.key \(AT\+QFUPL, checked\), presented to the hub \(lw\.json c\)/.exec(stdout);
    expect(base, stdout).not.toBeNull();
    expect(stdout).toContain('client cert   CN=rak-f, valid until');
    expect(stdout).toMatch(/hub\s+hello received after/);
    // EspruinoTools sets NODE_TLS_REJECT_UNAUTHORIZED=0 as it loads; the tool puts it back.
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
    // The key never went to the board's Storage, and never to the screen.
    const files = await vb.files();
    expect(Object.values(files).some((f) => f.includes('PRIVATE KEY'))).toBe(false);
    expect(JSON.parse(files['lw.json']!)).toMatchObject({ id: 'rak-f', c: base![1] });
    const keyLine = pki.read(client.key).split('\n')[1]!;
    expect(stdout).not.toContain(keyLine);

    vb.send({ cmd: 'press', ms: 3300 });
    const deadline = Date.now() + 20_000;
    let alarms = await h.alarms();
    while (alarms.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      alarms = await h.alarms();
    }
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ kind: 'sos', deviceId: 'rak-f' });
  }, 120_000);

  it('refuses a certificate for another device, a key that does not match, or half of the pair, before anything is registered', async () => {
    const { hub: h, pty: p } = await bench();
    const mine = pki.client('rak-g');
    const other = pki.client('rak-other');
    const junk = join(pki.dir, 'junk-key.pem');
    writeFileSync(junk, 'not a key\n');
    for (const [extra, words] of [
      [['--client-cert', other.cert, '--client-key', other.key], 'is for "rak-other", not for rak-g: the hub refuses a fob whose certificate does not name its device id'],
      [['--client-cert', mine.cert, '--client-key', other.key], 'is not the key of the certificate'],
      [['--client-cert', mine.cert], 'give both --client-cert <pem> and --client-key <pem>'],
      [['--client-cert', mine.cert, '--client-key', junk], 'holds no unencrypted PEM private key'],
    ] as const) {
      const r = await flash([...rakArgs(p, h, 'rak-g'), ...extra], { LONEWATCH_DATA_DIR: h.dataDir });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(words);
    }
    const puck = await flash(['--port', p.host, '--board', 'puck', '--device', 'puck-g', '--hub-host', '127.0.0.1', '--allow-localhost', '--client-cert', mine.cert, '--client-key', mine.key], { LONEWATCH_DATA_DIR: h.dataDir });
    expect(puck.code).toBe(2);
    expect(puck.stderr).toContain('--client-cert is for a RAK5010');
    expect(await h.hub.store.read((tx) => tx.getDevice('rak-g'))).toBeNull();
  }, 120_000);

  it('checks the modem\'s answers: the whole size and the [FILE] §2.4 checksum of each file', () => {
    const files = [
      { name: 'a.crt', content: 'abc' },
      { name: 'a.key', content: 'de' },
    ];
    // 'ab' = 0x6162, 'c' high = 0x6300: 0x6162 ^ 0x6300 = 0x0262.
    expect(qfuplChecksum('abc')).toBe('262');
    expect(checkUpload(['+QFUPL: 3,262', 'OK', '+QFUPL: 2,' + qfuplChecksum('de'), 'OK'], files)).toBeNull();
    expect(checkUpload(['+QFUPL: 2,6162', 'OK'], files)).toContain('a.crt: the modem answered "+QFUPL: 2,6162" where "+QFUPL: 3,262" was due');
    expect(checkUpload(['+QFUPL: 3,262'], files)).toContain('a.key: the modem answered no +QFUPL');
  });
});
