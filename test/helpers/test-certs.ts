/**
 * Certificates made at test time with Debian's `openssl` CLI (hub/tls/dev-pki.ts, as `cluster up
 * --tls` makes its own): a test CA, server certificates for localhost / 127.0.0.1 (a good one, a second one for reload,
 * an expired one, one expiring soon), fobs' client certificates, and a second, unrelated CA.
 * Keys are P-256 (fast to make; what a fob's secure element would hold).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCa, makeLeaf, LOOPBACK_SERVER_EXT, type CertPair } from '../../hub/tls/dev-pki.js';

export type { CertPair };

export interface TestPki {
  dir: string;
  /** PEM paths. */
  caCert: string;
  otherCaCert: string;
  server: CertPair;
  serverRenewed: CertPair;
  serverExpired: CertPair;
  serverSoon: CertPair;
  /** Client certificates signed by the test CA, CN = device id. */
  client(deviceId: string, opts?: { ca?: 'test' | 'other' }): CertPair;
  read(path: string): string;
  cleanup(): void;
}

const SERVER_EXT = LOOPBACK_SERVER_EXT;

/**
 * Each certificate is made the first time a test asks for it (issue 18): a file that uses only the
 * good server certificate no longer waits for the renewed, expired and soon-expiring ones and the
 * second CA, each an `openssl` run or two spawned from the test's process (about 10 s of the
 * suite's main-thread time, profiled 2026-12-02).
 */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-pki-'));
  const once = <T>(make: () => T): (() => T) => {
    let made: { v: T } | null = null;
    return () => (made ??= { v: make() }).v;
  };
  const ca = once(() => makeCa(dir, 'ca', 'Lonewatch Test CA'));
  const otherCa = once(() => makeCa(dir, 'other-ca', 'Some Other CA'));
  const leaf = (name: string, cn: string, days: number) =>
    once(() => {
      ca();
      return makeLeaf(dir, name, cn, 'ca', days, SERVER_EXT);
    });
  const server = leaf('server', 'hub.test', 365);
  const serverRenewed = leaf('server-renewed', 'hub-renewed.test', 365);
  const serverExpired = leaf('server-expired', 'hub-expired.test', -1);
  const serverSoon = leaf('server-soon', 'hub-soon.test', 10);
  const clients = new Map<string, CertPair>();
  return {
    dir,
    get caCert() {
      return ca().cert;
    },
    get otherCaCert() {
      return otherCa().cert;
    },
    get server() {
      return server();
    },
    get serverRenewed() {
      return serverRenewed();
    },
    get serverExpired() {
      return serverExpired();
    },
    get serverSoon() {
      return serverSoon();
    },
    client(deviceId, opts = {}) {
      const signer = opts.ca === 'other' ? 'other-ca' : 'ca';
      const name = `client-${deviceId}-${signer}`;
      let pair = clients.get(name);
      if (!pair) {
        if (signer === 'other-ca') otherCa();
        else ca();
        pair = makeLeaf(dir, name, deviceId, signer, 30, 'extendedKeyUsage=clientAuth\n');
        clients.set(name, pair);
      }
      return pair;
    },
    read: (path) => readFileSync(path, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
