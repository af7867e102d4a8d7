/**
 * The client-certificate rules (hub/tls/client-cert.ts), pure: each mode against each kind of peer.
 * The end-to-end behaviour over real MQTTS is in hub-tls.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { certificateNames, clientCertRefusal, type PeerCertificateFacts } from '../../hub/tls/client-cert.js';

const noCert: PeerCertificateFacts = { overMqtts: true, presented: false, trusted: false, names: [] };
const ownCert: PeerCertificateFacts = { overMqtts: true, presented: true, trusted: true, names: ['fob-001'] };
const otherCert: PeerCertificateFacts = { overMqtts: true, presented: true, trusted: true, names: ['fob-002'] };
const untrusted: PeerCertificateFacts = { overMqtts: true, presented: true, trusted: false, untrustedReason: 'UNABLE_TO_GET_ISSUER_CERT', names: ['fob-001'] };
const overWebSocket: PeerCertificateFacts = { overMqtts: false, presented: false, trusted: false, names: [] };

const check = (mode: 'off' | 'optional' | 'required', peer: PeerCertificateFacts, clientId = 'fob-001') => clientCertRefusal({ mode, deviceId: 'fob-001', clientId, peer });

describe('client certificate rules', () => {
  it('off: nothing is checked', () => {
    for (const peer of [noCert, otherCert, untrusted, overWebSocket]) expect(check('off', peer)).toBeNull();
  });

  it('optional: no certificate or WebSocket is fine; a presented one must be trusted and name the fob', () => {
    expect(check('optional', noCert)).toBeNull();
    expect(check('optional', overWebSocket)).toBeNull();
    expect(check('optional', ownCert)).toBeNull();
    expect(check('optional', otherCert)).toBe('device fob-001 presented a client certificate for "fob-002", not for fob-001');
    expect(check('optional', untrusted)).toContain('tls.client_ca_file does not vouch for (UNABLE_TO_GET_ISSUER_CERT)');
  });

  it('required: only MQTTS with a trusted certificate naming the fob', () => {
    expect(check('required', ownCert)).toBeNull();
    expect(check('required', noCert)).toBe('device fob-001 presented no client certificate (tls.client_certs = "required")');
    expect(check('required', overWebSocket)).toBe('device fob-001 must connect over MQTTS with its client certificate (tls.client_certs = "required")');
    expect(check('required', otherCert)).toMatch(/not for fob-001/);
    expect(check('required', { ...ownCert, names: [] })).toBe('device fob-001 presented a client certificate for no name, not for fob-001');
  });

  it('a companion relay (client id <device>.relay-<token>) is not asked for the fob\'s certificate', () => {
    expect(check('required', overWebSocket, 'fob-001.relay-abc123')).toBeNull();
  });

  it('names come from the subject CN and the DNS, URI and email subjectAltNames, not IP addresses', () => {
    expect(certificateNames('fob-001', 'DNS:fob-001.fleet.example, URI:urn:lonewatch:fob-001, email:fob@example.org, IP Address:10.0.0.1')).toEqual([
      'fob-001',
      'fob-001.fleet.example',
      'urn:lonewatch:fob-001',
      'fob@example.org',
    ]);
    expect(certificateNames(['a', 'b'], undefined)).toEqual(['a', 'b']);
    expect(certificateNames(undefined, undefined)).toEqual([]);
  });
});
