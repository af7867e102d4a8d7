/**
 * HTTPS straight from the hub (`tls.https = true`), beside the reverse-proxy set-up: the dashboard,
 * the API, the companion and MQTT over secure WebSocket (wss, `/mqtt`) share the HTTP port, now
 * behind TLS. The HTTPS port never asks for a client certificate: browsers would prompt for one,
 * and client certificates are for fobs on MQTTS (hub/tls/client-cert.ts).
 */
import type { Server as HttpsServer } from 'node:https';
import type { TlsMaterial } from '../tls/tls-material.js';
import type { SecureContextTarget } from '../tls/tls-context.js';

/** fastify's `https` option. */
export function httpsOptions(material: TlsMaterial): { cert: string; key: string } {
  return { cert: material.secure.cert, key: material.secure.key };
}

/** Lets a reload give the HTTPS server a new certificate without closing a connection. */
export function httpsReloadTarget(server: unknown): SecureContextTarget {
  const https = server as HttpsServer;
  return { name: 'HTTPS', apply: (m) => https.setSecureContext(httpsOptions(m)) };
}
