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
    const piece = '(function(){__lwf[1]+="MHcCAQEEIB\\x0a\\"secret-ish";return __lwf[1].length})()';
    const red = redactSecrets(piece);
    expect(red).not.toContain('MHcCAQEEIB');
    expect(red).toContain('__lwf[1]+="<private key>"');
    // The certificate (public, piece 0) is not hidden.
    expect(redactSecrets('(function(){__lwf[0]+="MIIB";return 4})()')).toContain('MIIB');
  });

  it('leaves other lines alone', () => {
    expect(redactSecrets('>process.env.VERSION')).toBe('>process.env.VERSION');
  });
});
