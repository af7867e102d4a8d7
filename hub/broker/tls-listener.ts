/**
 * MQTT over TLS (MQTTS, port 8883 by default; MQTT 3.1.1 section 5.1 / MQTT 5 section 5.4: TLS is
 * the transport's business, below MQTT). This module builds the node:tls server; MqttBroker.listenTls
 * hands each socket, once its handshake is done, to the same path as a plain TCP socket, so every
 * bound the broker puts on a connection applies to TLS connections too.
 *
 * The client-certificate check runs at CONNECT (not in the handshake) so a refused fob gets a CONNACK
 * "not authorized" and the hub logs which device was refused and why, instead of a bare TLS alert.
 */
import { GuardedConnection } from './guarded-connection.js';
import { createServer, TLSSocket, type Server as TlsServer } from 'node:tls';
import type { TlsMaterial } from '../tls/tls-material.js';
import { certificateNames, clientCertRefusal, type ClientCertMode, type PeerCertificateFacts } from '../tls/client-cert.js';
import type { BrokerHooks } from './mqtt-broker.js';
import type { Logger } from '../logger.js';

/**
 * A TLS handshake must finish within this: a peer that opens a connection and sends nothing would
 * otherwise hold it for node's default of 120 s.
 */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The MQTTS server and the connections it accepted (the only ones asked for a client certificate). */
export interface MqttsServer {
  server: TlsServer;
  accepted: WeakSet<TLSSocket>;
}

export function createMqttsServer(material: TlsMaterial, mode: ClientCertMode, log: Logger): MqttsServer {
  const accepted = new WeakSet<TLSSocket>();
  const server = createServer({
    ...secureOptions(material, mode),
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    // Checked at CONNECT by withClientCertificates, so that refusals are logged by device.
    rejectUnauthorized: false,
  });
  // A failed handshake (a fob with the wrong CA, a scanner) never reaches MQTT: say so at debug,
  // where a busy network's noise belongs.
  server.on('tlsClientError', (err, socket) => {
    log.debug({ err: err.message, remote: socket.remoteAddress }, 'MQTTS handshake failed');
  });
  server.on('secureConnection', (socket: TLSSocket) => accepted.add(socket));
  return { server, accepted };
}

/** The options for node:tls createServer / setSecureContext, for the MQTTS listener. */
export function secureOptions(material: TlsMaterial, mode: ClientCertMode): { cert: string; key: string; ca?: string; requestCert: boolean } {
  return {
    cert: material.secure.cert,
    key: material.secure.key,
    ...(mode !== 'off' && material.clientCa ? { ca: material.clientCa } : {}),
    requestCert: mode !== 'off',
  };
}

/** What the connection's TLS layer established, for the certificate check. */
export function peerFacts(guarded: unknown, mqtts: MqttsServer | null): PeerCertificateFacts {
  // Every connection reaches aedes behind the bounds (broker/guarded-connection.ts): the TLS socket
  // is the stream the guard wraps.
  const conn = guarded instanceof GuardedConnection ? guarded.inner : guarded;
  if (!(conn instanceof TLSSocket) || !mqtts?.accepted.has(conn)) {
    return { overMqtts: false, presented: false, trusted: false, names: [] };
  }
  const cert = conn.getPeerCertificate();
  const presented = !!cert && Object.keys(cert).length > 0;
  return {
    overMqtts: true,
    presented,
    trusted: conn.authorized,
    untrustedReason: conn.authorizationError ? String(conn.authorizationError) : undefined,
    names: presented ? certificateNames(cert.subject?.CN, cert.subjectaltname) : [],
  };
}

/**
 * Wraps the broker's authenticate hook: after the secret has been verified (the secret is always
 * required: hub/tls/client-cert.ts says why), a device is held to `tls.client_certs`.
 */
export function withClientCertificates(authenticate: BrokerHooks['authenticate'], mode: ClientCertMode, mqtts: () => MqttsServer | null): BrokerHooks['authenticate'] {
  if (mode === 'off') return authenticate;
  return async (clientId, username, password, conn) => {
    const result = await authenticate(clientId, username, password, conn);
    if ('refused' in result || result.kind !== 'device') return result;
    const refused = clientCertRefusal({ mode, deviceId: result.deviceId, clientId, peer: peerFacts(conn, mqtts()) });
    return refused ? { refused, returnCode: 5 } : result;
  };
}
