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

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'lonewatch-pki-'));
  makeCa(dir, 'ca', 'Lonewatch Test CA');
  makeCa(dir, 'other-ca', 'Some Other CA');
  const clients = new Map<string, CertPair>();
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    otherCaCert: join(dir, 'other-ca.crt'),
    server: makeLeaf(dir, 'server', 'hub.test', 'ca', 365, SERVER_EXT),
    serverRenewed: makeLeaf(dir, 'server-renewed', 'hub-renewed.test', 'ca', 365, SERVER_EXT),
    serverExpired: makeLeaf(dir, 'server-expired', 'hub-expired.test', 'ca', -1, SERVER_EXT),
    serverSoon: makeLeaf(dir, 'server-soon', 'hub-soon.test', 'ca', 10, SERVER_EXT),
    client(deviceId, opts = {}) {
      const ca = opts.ca === 'other' ? 'other-ca' : 'ca';
      const name = `client-${deviceId}-${ca}`;
      let pair = clients.get(name);
      if (!pair) {
        pair = makeLeaf(dir, name, deviceId, ca, 30, 'extendedKeyUsage=clientAuth\n');
        clients.set(name, pair);
      }
      return pair;
    },
    read: (path) => readFileSync(path, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
