/**
 * A development certificate authority made with Debian's `openssl` CLI (node can read X.509 but not
 * issue it): for `lonewatch cluster up --tls` on loopback and for the tests. Never for production:
 * the CA's key lies beside the certificates, unprotected. Keys are P-256 (quick to make; what a fob's
 * secure element would hold).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
}

/** Raised when openssl is missing or fails: says what to install. */
export class DevPkiError extends Error {
  override name = 'DevPkiError';
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new DevPkiError('openssl is not installed: apt-get install -y --no-install-recommends openssl');
    throw new DevPkiError(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}

/** A self-signed CA, `<name>.crt` and `<name>.key` in `dir`, valid for `days`. */
export function makeCa(dir: string, name: string, cn: string, days = 30): CertPair {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', String(days), '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** A leaf certificate signed by the CA `ca` (a name given to makeCa); days may be negative (already expired). */
export function makeLeaf(dir: string, name: string, cn: string, ca: string, days: number, ext: string): CertPair {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** A server certificate's extensions for loopback: the names a local client connects to. */
export const LOOPBACK_SERVER_EXT = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
