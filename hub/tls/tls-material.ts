/**
 * The hub's certificate, key and chain (issue 17: "nothing is encrypted"), read from the files that
 * `[tls]` names and checked before anything listens on them: each file must be readable PEM, the key
 * must belong to the certificate, and Node must accept the set as a secure context. Every problem is
 * listed with the config key that names the file, so the operator knows which line to fix.
 *
 * The same loader runs at start-up and on every reload (SIGHUP): a reload that fails these checks is
 * refused and the certificate in service stays (hub/tls/tls-context.ts).
 */
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createSecureContext } from 'node:tls';

/** What `[tls]` says about files (see hub/config/config-schema.ts). */
export interface TlsFiles {
  cert_file: string;
  key_file: string;
  chain_file?: string | undefined;
  client_ca_file?: string | undefined;
}

/** The options node:tls takes, plus what the hub reports about the certificate. */
export interface TlsMaterial {
  secure: { cert: string; key: string; ca?: string };
  /** PEM of the CA(s) that sign fobs' client certificates, when `tls.client_ca_file` is set. */
  clientCa: string | null;
  certificate: CertificateInfo;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** DNS names and IP addresses the certificate is for, as X.509 writes them. */
  subjectAltName: string | null;
  validFrom: string;
  validTo: string;
  /** validTo as milliseconds since the epoch. */
  validToMs: number;
  validFromMs: number;
  fingerprint256: string;
}

export class TlsMaterialError extends Error {
  constructor(readonly problems: string[]) {
    super(`TLS: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'TlsMaterialError';
  }
}

function readPem(key: string, path: string, problems: string[]): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied (the hub must be able to read it)' : e.code === 'EISDIR' ? 'is a folder, not a file' : e.message;
    problems.push(`tls.${key}: cannot read ${path}: ${why}`);
    return null;
  }
  if (!text.includes('-----BEGIN ')) {
    problems.push(`tls.${key}: ${path} is not a PEM file (no "-----BEGIN" line)`);
    return null;
  }
  return text;
}

export function certificateInfo(cert: X509Certificate): CertificateInfo {
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    subjectAltName: cert.subjectAltName ?? null,
    validFrom: new Date(Date.parse(cert.validFrom)).toISOString(),
    validTo: new Date(Date.parse(cert.validTo)).toISOString(),
    validFromMs: Date.parse(cert.validFrom),
    validToMs: Date.parse(cert.validTo),
    fingerprint256: cert.fingerprint256,
  };
}

/** Reads and checks the files; throws TlsMaterialError listing every problem found. */
export function loadTlsMaterial(files: TlsFiles): TlsMaterial {
  const problems: string[] = [];
  const certPem = readPem('cert_file', files.cert_file, problems);
  const keyPem = readPem('key_file', files.key_file, problems);
  const chainPem = files.chain_file ? readPem('chain_file', files.chain_file, problems) : null;
  const clientCa = files.client_ca_file ? readPem('client_ca_file', files.client_ca_file, problems) : null;

  let cert: X509Certificate | null = null;
  if (certPem) {
    try {
      // The first certificate in the file is the hub's own; any after it are its chain.
      cert = new X509Certificate(certPem);
    } catch (err) {
      problems.push(`tls.cert_file: ${files.cert_file} holds no readable certificate (${(err as Error).message})`);
    }
  }
  let key: KeyObject | null = null;
  if (keyPem) {
    try {
      key = createPrivateKey(keyPem);
    } catch (err) {
      problems.push(`tls.key_file: ${files.key_file} holds no readable private key (${(err as Error).message}); an encrypted key is not supported`);
    }
  }
  if (cert && key && !cert.checkPrivateKey(key)) {
    problems.push(`tls.key_file: ${files.key_file} is not the key of the certificate in ${files.cert_file} (${cert.subject.replace(/\n/g, ', ')}): they do not match`);
  }
  if (chainPem) {
    try {
      new X509Certificate(chainPem);
    } catch (err) {
      problems.push(`tls.chain_file: ${files.chain_file} holds no readable certificate (${(err as Error).message})`);
    }
  }
  if (clientCa) {
    try {
      new X509Certificate(clientCa);
    } catch (err) {
      problems.push(`tls.client_ca_file: ${files.client_ca_file} holds no readable CA certificate (${(err as Error).message})`);
    }
  }
  if (problems.length > 0 || !cert || !certPem || !keyPem) throw new TlsMaterialError(problems);

  // node:tls sends `cert` then the chain; a chain file's certificates are appended to the hub's.
  const secure = { cert: chainPem ? `${certPem.trimEnd()}\n${chainPem}` : certPem, key: keyPem };
  try {
    createSecureContext({ ...secure, ...(clientCa ? { ca: clientCa } : {}) });
  } catch (err) {
    throw new TlsMaterialError([`tls: node:tls refuses the certificate, key and chain together: ${(err as Error).message}`]);
  }
  return { secure, clientCa, certificate: certificateInfo(cert) };
}

/** Whole days left before the certificate expires (negative once it has). */
export function daysLeft(info: CertificateInfo, now: number): number {
  return Math.floor((info.validToMs - now) / 86_400_000);
}

/** A certificate this close to expiry is a warning at start-up and on reload. */
export const EXPIRY_WARNING_DAYS = 30;

/**
 * What a duty officer or an operator should be told about the certificate's dates, or null when
 * nothing: expired and not-yet-valid certificates make every fob and browser refuse the hub.
 */
export function validityProblem(info: CertificateInfo, now: number): { level: 'error' | 'warn'; message: string } | null {
  if (now >= info.validToMs) {
    return { level: 'error', message: `the TLS certificate (${info.subject}) expired on ${info.validTo}: fobs and browsers will refuse to connect over TLS until it is renewed` };
  }
  if (now < info.validFromMs) {
    return { level: 'error', message: `the TLS certificate (${info.subject}) is not valid until ${info.validFrom}: fobs and browsers will refuse it until then` };
  }
  const days = daysLeft(info, now);
  if (days < EXPIRY_WARNING_DAYS) {
    return { level: 'warn', message: `the TLS certificate (${info.subject}) expires on ${info.validTo}, in ${days} day${days === 1 ? '' : 's'}: renew it and send the hub SIGHUP` };
  }
  return null;
}
