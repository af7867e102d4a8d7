/**
 * The CA certificate a RAK5010 pins for the hub (issue 17): read from `tls.fob_ca_file` or
 * `--ca-file`, checked before anything is written to a board, and named for the BG96's file system.
 * The fob's modem verifies the hub's certificate against it (BG96 SSL AT Commands Manual §2.2.1,
 * "seclevel" 1 with "cacert"), so a CA that did not sign the hub's certificate would leave the fob
 * unable to reach the hub at all: that is refused here, not found out in the field.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from '../../bin/command.js';
import { caFileName } from './wire.js';

export interface PinnedCa {
  /** The file's content as it goes to the fob (Storage lw.ca) and on to the modem. */
  pem: string;
  /** Its file name on the modem (identity field t). */
  name: string;
  path: string;
  subject: string;
  /** What the CA was checked against: the hub's certificate, or why it could not be. */
  checked: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certsOf(text: string): X509Certificate[] {
  return (text.match(PEM_CERT) ?? []).map((p) => new X509Certificate(p));
}

/**
 * Loads and checks the pinned CA. hubCertFiles: the hub's cert_file and chain_file; when they are
 * readable here, one of their certificates must be the CA itself or be issued and signed by it.
 */
export function loadPinnedCa(path: string, hubCertFiles: string[]): PinnedCa {
  let pem: string;
  try {
    pem = readFileSync(path, 'latin1');
  } catch (e) {
    throw new UsageError(`cannot read the CA file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): set tls.fob_ca_file or --ca-file to the PEM of the CA that signed the hub's certificate`);
  }
  let certs: X509Certificate[];
  try {
    certs = certsOf(pem);
  } catch (e) {
    throw new UsageError(`${path} holds a certificate that cannot be read (${(e as Error).message}): it must be PEM ("-----BEGIN CERTIFICATE-----")`);
  }
  if (certs.length === 0) throw new UsageError(`${path} holds no PEM certificate ("-----BEGIN CERTIFICATE-----"): give the CA that signed the hub's certificate`);
  if (!certs.every((c) => c.ca)) throw new UsageError(`${path} holds a certificate that is not a CA (no basicConstraints CA:TRUE): pin the CA that signed the hub's certificate, not the hub's certificate itself`);
  // The BG96 SSL manual gives no size limit for "cacert"; the upload (AT+QFUPL) takes up to 10 s at 115200 baud.
  if (pem.length > 16_384) throw new UsageError(`${path} is ${pem.length} bytes: a fob's CA file must be at most 16384 bytes (pin one CA, not a bundle)`);
  let checked = 'not checked: the hub\'s certificate file is not readable here';
  const hub: X509Certificate[] = [];
  for (const f of hubCertFiles) {
    try {
      hub.push(...certsOf(readFileSync(f, 'latin1')));
    } catch {
      // Flashing on another machine than the hub's: the check is skipped and said so.
    }
  }
  if (hub.length > 0) {
    const ok = hub.some((h) => certs.some((ca) => h.fingerprint256 === ca.fingerprint256 || (h.checkIssued(ca) && h.verify(ca.publicKey))));
    if (!ok) {
      throw new UsageError(
        `the CA in ${path} (${certs[0].subject.replace(/\n/g, ', ')}) did not sign the hub's certificate (${hub[0].subject.replace(/\n/g, ', ')}, issued by ${hub[0].issuer.replace(/\n/g, ', ')}): a fob pinned to it could never connect; give the CA that issued the hub's certificate`,
      );
    }
    checked = `it signed the hub's certificate (${hub[0].subject.replace(/\n/g, ', ')})`;
  }
  return { pem, name: caFileName(pem), path, subject: certs[0].subject.replace(/\n/g, ', '), checked };
}
