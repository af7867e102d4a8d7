/**
 * Certificates made at test time with Debian's `openssl` CLI (node 20 can read X.509 but not issue
 * it): a test CA, server certificates for localhost / 127.0.0.1 (a good one, a second one for reload,
 * an expired one, one expiring soon), fobs' client certificates, and a second, unrelated CA.
 * Keys are P-256 (fast to make; what a fob's secure element would hold).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
}

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

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string, cn: string): void {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '30', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/** A leaf certificate signed by `ca`; days may be negative (already expired: notAfter before now). */
function makeLeaf(dir: string, name: string, cn: string, ca: string, days: number, ext: string): CertPair {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

const SERVER_EXT = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';

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
