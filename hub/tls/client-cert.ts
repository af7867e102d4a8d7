/**
 * Client certificates for fobs that can hold one (issue 17): a pure decision, given what the TLS
 * handshake established and who the fob says it is.
 *
 * The certificate is an additional factor, never a replacement: the device secret is always checked
 * as well (hub/ingest/device-auth.ts). A key can be lifted from a lost fob as easily as its secret,
 * the hub has no certificate revocation list, and revoking a device (`lonewatch devices revoke`)
 * must keep working whatever certificate the fob holds; so there is no setting to skip the secret.
 *
 * Modes (`tls.client_certs`):
 *  - "off": no certificate is asked for.
 *  - "optional": a fob may present one; if it does, it must be signed by `tls.client_ca_file` and
 *    name the fob, else the fob is refused. A fob without one connects with its secret alone.
 *  - "required": a fob must connect over MQTTS with a certificate signed by the client CA that
 *    names it. Its own client id over any other listener (WebSocket, a kept plain listener) is
 *    refused, so the other listeners are not a way round the certificate.
 *
 * Companion relays (client id `<device id>.relay-<token>`, hub/companion/relay-tokens.ts) are a
 * phone relaying a BLE fob with a short-lived token; a phone browser cannot present the fob's
 * certificate, so relays are not asked for one. Service accounts (lw/alerts/# readers) neither.
 */
export type ClientCertMode = 'off' | 'optional' | 'required';

/** What the connection's TLS layer says about the peer's certificate. */
export interface PeerCertificateFacts {
  /** Over the MQTTS listener (the only one that asks for a client certificate). */
  overMqtts: boolean;
  /** The peer sent a certificate. */
  presented: boolean;
  /** It chains to the client CA (node:tls `socket.authorized`). */
  trusted: boolean;
  /** Why not, from node:tls (`socket.authorizationError`). */
  untrustedReason?: string | undefined;
  /** The subject CN and every DNS/URI/email subjectAltName value. */
  names: string[];
}

export interface ClientCertCheck {
  mode: ClientCertMode;
  deviceId: string;
  /** A companion relay's client id differs from the device id. */
  clientId: string;
  peer: PeerCertificateFacts;
}

/** Null when the fob may go on; otherwise the reason it is refused, for the log. */
export function clientCertRefusal(c: ClientCertCheck): string | null {
  if (c.mode === 'off') return null;
  if (c.clientId !== c.deviceId) return null;
  const { peer } = c;
  if (!peer.overMqtts) {
    return c.mode === 'required' ? `device ${c.deviceId} must connect over MQTTS with its client certificate (tls.client_certs = "required")` : null;
  }
  if (!peer.presented) {
    return c.mode === 'required' ? `device ${c.deviceId} presented no client certificate (tls.client_certs = "required")` : null;
  }
  if (!peer.trusted) return `device ${c.deviceId} presented a client certificate that tls.client_ca_file does not vouch for (${peer.untrustedReason ?? 'not trusted'})`;
  if (!peer.names.includes(c.deviceId)) {
    return `device ${c.deviceId} presented a client certificate for ${peer.names.length ? peer.names.map((n) => `"${n}"`).join(', ') : 'no name'}, not for ${c.deviceId}`;
  }
  return null;
}

/** The names a certificate is for: subject CN and subjectAltName DNS, URI and email values. */
export function certificateNames(subjectCn: string | string[] | undefined, subjectAltName: string | undefined): string[] {
  const names: string[] = [];
  for (const cn of Array.isArray(subjectCn) ? subjectCn : subjectCn ? [subjectCn] : []) names.push(cn);
  for (const part of (subjectAltName ?? '').split(',')) {
    const m = /^\s*(DNS|URI|email):(.+)$/.exec(part);
    if (m) names.push(m[2]!.trim());
  }
  return names;
}
