/**
 * Issue 17: what the flashing tool does for a RAK5010 over TLS. The pinned CA is checked against
 * the hub's certificate before anything is written (certificates made with openssl at test time),
 * and a flash session writes it to Storage lw.ca with the identity's t (its file name on the modem),
 * on the in-process virtual Espruino board whose Storage has Espruino's semantics.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../bin/command.js';
import { loadPinnedCa } from '../../firmware/flash/pinned-ca.js';
import { flashBoard } from '../../firmware/flash/flash-session.js';
import type { ConsoleLink } from '../../firmware/flash/espruino-link.js';
import { caFileName, findAnswer, requestLine } from '../../firmware/flash/wire.js';
import { FIRMWARE_VERSION } from '../../firmware/src/version.js';
import { VirtualEspruino } from '../helpers/virtual-espruino/virtual-board.js';
import { flash as flashInProcess } from '../helpers/virtual-espruino/flash-in-process.js';
import { makeTestPki, type TestPki } from '../helpers/test-certs.js';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => pki.cleanup());

let board: VirtualEspruino | null = null;
afterEach(() => board?.shutdown());

const usage = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('the CA a RAK5010 pins for the hub', () => {
  it('the CA that signed the hub\'s certificate is accepted and named 8.3 from its content', () => {
    const ca = loadPinnedCa(pki.caCert, [pki.server.cert]);
    expect(ca.pem).toBe(pki.read(pki.caCert));
    expect(ca.name).toMatch(/^lw[0-9a-f]{6}\.pem$/);
    expect(ca.name).toBe(caFileName(ca.pem));
    expect(ca.subject).toBe('CN=Lonewatch Test CA');
    expect(ca.checked).toBe("it signed the hub's certificate (CN=hub.test)");
    // Another CA's content is another name: the firmware's QFLST check sees the modem lacks it.
    expect(loadPinnedCa(pki.otherCaCert, []).name).not.toBe(ca.name);
  });

  it('refuses, before any board is touched, a CA that did not sign the hub, a non-CA, a missing or non-PEM file', () => {
    expect(usage(() => loadPinnedCa(pki.otherCaCert, [pki.server.cert]))).toMatch(/CN=Some Other CA.*did not sign the hub's certificate.*CN=hub\.test, issued by CN=Lonewatch Test CA.*could never connect/);
    expect(usage(() => loadPinnedCa(pki.server.cert, [pki.server.cert]))).toMatch(/not a CA .*pin the CA that signed the hub's certificate, not the hub's certificate itself/);
    expect(usage(() => loadPinnedCa(join(pki.dir, 'nope.pem'), []))).toMatch(/cannot read the CA file .*nope\.pem \(ENOENT\)/);
    const junk = join(pki.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    expect(usage(() => loadPinnedCa(junk, []))).toMatch(/holds no PEM certificate/);
  });

  it('where the hub\'s certificate cannot be read (flashing on another machine) the CA is taken and the check said to be skipped', () => {
    expect(loadPinnedCa(pki.caCert, [join(pki.dir, 'elsewhere.crt')]).checked).toBe("not checked: the hub's certificate file is not readable here");
  });
});

/** A ConsoleLink to the in-process virtual board: each request line is typed and its answer read. */
function linkTo(b: VirtualEspruino, out: () => string): ConsoleLink {
  let n = 1;
  return {
    dryRun: false,
    send: async (raw) => void b.input(raw),
    request: async <T,>(expr: string) => {
      const k = n++;
      b.input(requestLine(k, expr));
      const a = findAnswer(out(), k);
      if (!a) throw new Error(`no answer to ${expr.slice(0, 60)}`);
      if (!a.ok) throw new Error(a.error);
      return a.value as T;
    },
    drain: async () => '',
    close: async () => undefined,
    path: 'in-process',
    mark: () => out().length,
    watch: async (since, ms, done) => {
      const end = Date.now() + ms;
      while (!done(out().slice(since)) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      return out().slice(since);
    },
  };
}

describe('flash session for a RAK5010 over TLS', () => {
  it('writes the pinned CA to lw.ca (verified) and the identity with t and the MQTTS port', async () => {
    let out = '';
    board = new VirtualEspruino({ board: 'RAK5010', version: '2v29', out: (s) => (out += s) });
    board.powerOn();
    const ca = loadPinnedCa(pki.caCert, [pki.server.cert]);
    const res = await flashBoard(linkTo(board, () => out), {
      board: 'rak5010',
      deviceId: 'rak-t',
      // A stand-in bundle: what is checked here is the files, not the firmware.
      code: `LW={v:${JSON.stringify(FIRMWARE_VERSION)},id:"rak-t",up:1};console.log("LW:up ${FIRMWARE_VERSION} rak5010 rak-t");`,
      timeoutS: 2,
      ca: ca.pem,
      identity: async () => ({ id: 'rak-t', pw: 's3cret', h: 'hub.example.org', p: 8883, t: ca.name }),
    });
    expect(res.start?.readback).toMatchObject({ v: FIRMWARE_VERSION, id: 'rak-t' });
    expect(board.storage['lw.ca']).toBe(ca.pem);
    expect(JSON.parse(board.storage['lw.json'])).toEqual({ id: 'rak-t', pw: 's3cret', h: 'hub.example.org', p: 8883, t: ca.name });
  });
});

describe('lonewatch flash for a hub with [tls]', () => {
  const config = (extra: string): string => {
    const file = join(pki.dir, `lonewatch-${Math.random().toString(36).slice(2)}.toml`);
    writeFileSync(
      file,
      [`[hub]`, `data_dir = "${join(pki.dir, 'data')}"`, `public_url = "https://hub.example.org"`, `[tls]`, `cert_file = "${pki.server.cert}"`, `key_file = "${pki.server.key}"`, 'mqtts_port = 8883', extra].join('\n'),
    );
    return file;
  };
  const flash = (cfg: string, more: string[] = []) =>
    // The real flash command, in-process (flash-in-process.ts: a child adds a Node, tsx and TypeScript start and shows nothing more).
    flashInProcess(['--board', 'rak5010', '--device', 'rak-t', '--dry-run', join(pki.dir, 'dry.bin'), '--config', cfg, ...more]);

  it('a RAK5010 without a CA to pin is refused before any board is touched, saying how to give one', async () => {
    const { code, stderr } = await flash(config(''));
    expect(code).not.toBe(0);
    expect(stderr).toContain('a RAK5010 must pin the CA that signed the hub\'s certificate; set tls.fob_ca_file in lonewatch.toml or pass --ca-file <pem>');
  }, 120_000);

  it('a CA that did not sign the hub\'s certificate (tls.fob_ca_file, or --ca-file over it) is refused', async () => {
    const res = await flash(config(`fob_ca_file = "${pki.otherCaCert}"`));
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/the CA in .*other-ca\.crt \(CN=Some Other CA\) did not sign the hub's certificate/);
    const over = await flash(config(`fob_ca_file = "${pki.caCert}"`), ['--ca-file', pki.otherCaCert]);
    expect(over.code).not.toBe(0);
    expect(over.stderr).toContain('CN=Some Other CA');
  }, 120_000);

  it('the hub\'s CA is taken, said so with its modem file name, before the build', async () => {
    const { stdout } = await flash(config(`fob_ca_file = "${pki.caCert}"`));
    expect(stdout).toContain(`RAK5010 over TLS: pinning CN=Lonewatch Test CA from ${pki.caCert} (it signed the hub's certificate (CN=hub.test)); on the modem as ${caFileName(pki.read(pki.caCert))}`);
  }, 120_000);
});
