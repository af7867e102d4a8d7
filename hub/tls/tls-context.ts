/**
 * The certificate in service and its reload (SIGHUP). A reload reads and checks the files again
 * (hub/tls/tls-material.ts) and, only if they pass, gives every TLS server the new secure context
 * (node:tls `server.setSecureContext`): connections already open keep the session they negotiated,
 * so no fob is dropped, and the next handshake gets the new certificate. A new set that fails the
 * checks, or a certificate already expired or not yet valid, is refused with a log line saying
 * why, and the certificate in service stays.
 */
import { loadTlsMaterial, validityProblem, daysLeft, TlsMaterialError, type TlsFiles, type TlsMaterial, type CertificateInfo } from './tls-material.js';
import type { Logger } from '../logger.js';

/** A server that can take a new certificate (node:tls and node:https servers). */
export interface SecureContextTarget {
  name: string;
  apply(material: TlsMaterial): void;
}

export type ReloadResult = { ok: true; certificate: CertificateInfo } | { ok: false; problems: string[]; kept: CertificateInfo };

export class TlsContext {
  private readonly targets: SecureContextTarget[] = [];

  constructor(
    private readonly files: TlsFiles,
    private current: TlsMaterial,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  get material(): TlsMaterial {
    return this.current;
  }

  get certificate(): CertificateInfo {
    return this.current.certificate;
  }

  addTarget(target: SecureContextTarget): void {
    this.targets.push(target);
  }

  /** Logs the certificate's dates: an error when expired or not yet valid, a warning within 30 days. */
  reportValidity(when: 'start-up' | 'reload'): void {
    const c = this.current.certificate;
    const problem = validityProblem(c, this.now());
    const fields = { subject: c.subject, validTo: c.validTo, daysLeft: daysLeft(c, this.now()), fingerprint256: c.fingerprint256, when };
    if (problem?.level === 'error') this.log.error(fields, problem.message);
    else if (problem) this.log.warn(fields, problem.message);
  }

  reload(): ReloadResult {
    const kept = this.current.certificate;
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(this.files);
    } catch (err) {
      const problems = err instanceof TlsMaterialError ? err.problems : [(err as Error).message];
      this.log.error({ problems, kept: kept.subject, keptValidTo: kept.validTo }, `TLS reload refused: ${problems.join('; ')}. Still serving the certificate ${kept.subject} (valid to ${kept.validTo})`);
      return { ok: false, problems, kept };
    }
    const dates = validityProblem(next.certificate, this.now());
    if (dates?.level === 'error') {
      const problems = [`tls.cert_file: ${dates.message}`];
      this.log.error({ problems, kept: kept.subject, keptValidTo: kept.validTo }, `TLS reload refused: ${dates.message}. Still serving the certificate ${kept.subject} (valid to ${kept.validTo})`);
      return { ok: false, problems, kept };
    }
    const applied: string[] = [];
    try {
      for (const t of this.targets) {
        t.apply(next);
        applied.push(t.name);
      }
    } catch (err) {
      // loadTlsMaterial already built a secure context from the same files, so this is not expected;
      // if it happens, put back the old one on the servers already switched.
      for (const t of this.targets) if (applied.includes(t.name)) t.apply(this.current);
      const problems = [`tls: ${(err as Error).message}`];
      this.log.error({ problems }, `TLS reload refused: ${(err as Error).message}. Still serving the certificate ${kept.subject} (valid to ${kept.validTo})`);
      return { ok: false, problems, kept };
    }
    this.current = next;
    const c = next.certificate;
    this.log.info(
      { subject: c.subject, validTo: c.validTo, fingerprint256: c.fingerprint256, previous: kept.fingerprint256, listeners: applied },
      `TLS certificate reloaded: ${c.subject}, valid to ${c.validTo}, for new connections on ${applied.join(', ')}; connections already open stay as they are`,
    );
    this.reportValidity('reload');
    return { ok: true, certificate: c };
  }
}
