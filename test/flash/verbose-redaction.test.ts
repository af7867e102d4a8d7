/**
 * `flash --verbose` prints what goes over the wire; the fob's secret is inside the identity written
 * to lw.new and read back by the probe, and must never appear in that output.
 */
import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../firmware/flash/espruino-link.js';
import { identityJson } from '../../firmware/flash/wire.js';

describe('flash --verbose redaction', () => {
  const secret = 'Zq8pL2mN5vX0aB7c';
  const ident = identityJson({ id: 'fob-001', pw: secret, h: 'hub.example', p: 1883 });

  it('hides the secret in the identity as written (escaped inside a JS string)', () => {
    const line = `\x10require("Storage").write("lw.new",${JSON.stringify(ident)})`;
    expect(line).toContain(secret);
    const out = redactSecrets(line);
    expect(out).not.toContain(secret);
    expect(out).toContain('fob-001');
  });

  it('hides the secret in a probe answer read back as JSON', () => {
    const answer = JSON.stringify({ board: 'PUCKJS', nw: JSON.parse(ident) });
    const out = redactSecrets(answer);
    expect(out).not.toContain(secret);
    expect(out).toContain('"pw":"<secret>"');
  });

  it('hides the Puck.js passkey and the bytes of the RAK5010 client key (issue 17)', () => {
    const withPk = identityJson({ id: 'puck-1', pw: secret, h: 'h', p: 1, pk: '482913' });
    const out = redactSecrets(`\x10require("Storage").write("lw.new",${JSON.stringify(withPk)})`);
    expect(out).not.toContain('482913');
    expect(out).not.toContain(secret);
    expect(redactSecrets(JSON.stringify({ id: JSON.parse(withPk) }))).toContain('"pk":"<passkey>"');
    const chunk = '(function(s){s.write("lw.ck","MHcCAQEEIB\\x0a\\"secret-ish",0,241);return E.CRC32(s.read("lw.ck",0,40))})(require("Storage"))';
    const red = redactSecrets(chunk);
    expect(red).not.toContain('MHcCAQEEIB');
    expect(red).toContain('s.write("lw.ck","<private key>",0,241)');
    // The certificate (public) is not hidden.
    expect(redactSecrets('s.write("lw.cc","MIIB",0,9)')).toContain('MIIB');
  });

  it('leaves other lines alone', () => {
    expect(redactSecrets('>process.env.VERSION')).toBe('>process.env.VERSION');
  });
});
