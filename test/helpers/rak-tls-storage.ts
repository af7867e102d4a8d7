/**
 * The Storage of a RAK5010 that `lonewatch flash` provisioned for MQTT over TLS (issue 17), as the
 * flashing tool writes it: the identity through the tool's own `identityJson` (firmware/flash/wire.ts),
 * with `t`, the CA's file name on the modem, and `c`, the client certificate's base name when it
 * has one; the CA itself as `lw.ca`. The fob dials "localhost", a name in the test certificates;
 * the simulated network takes it to loopback.
 */
import { FILES, caFileName, identityJson } from '../../firmware/flash/wire.js';

export function tlsRakStorage(o: { id: string; pw: string; port: number; ca: string; clientBase?: string }): Record<string, string> {
  return {
    [FILES.identity]: identityJson({ id: o.id, pw: o.pw, h: 'localhost', p: o.port, t: caFileName(o.ca), ...(o.clientBase ? { c: o.clientBase } : {}) }),
    [FILES.ca]: o.ca,
  };
}
