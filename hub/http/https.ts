/**
 * HTTPS straight from the hub (`tls.https = true`), beside the reverse-proxy set-up: the dashboard,
 * the API, the companion and MQTT over secure WebSocket (wss, `/mqtt`) share the HTTP port, now
 * behind TLS. The HTTPS port never asks for a client certificate: browsers would prompt for one,
 * and client certificates are for fobs on MQTTS (hub/tls/client-cert.ts).
 */
import type { Server as HttpsServer } from 'node:https';
import type { TlsMaterial } from '../tls/tls-material.js';
import type { SecureContextTarget } from '../tls/tls-context.js';

/**
 * A TLS handshake must finish within this: node's default (120 s) would let a peer that connects and
 * sends nothing hold a connection, and the hub's stop, that long.
 */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** fastify's `https` option. */
export function httpsOptions(material: TlsMaterial): { cert: string; key: string; handshakeTimeout: number } {
  return { cert: material.secure.cert, key: material.secure.key, handshakeTimeout: HANDSHAKE_TIMEOUT_MS };
}

/** Lets a reload give the HTTPS server a new certificate without closing a connection. */
export function httpsReloadTarget(server: unknown): SecureContextTarget {
  const https = server as HttpsServer;
  return { name: 'HTTPS', apply: (m) => https.setSecureContext({ cert: m.secure.cert, key: m.secure.key }) };
}
