/**
 * The Storage of a RAK5010 that `lonewatch flash` provisioned for MQTT over TLS (issue 17), as the
 * flashing tool writes it: the identity through the tool's own `identityJson` (firmware/flash/wire.ts),
 * with `t`, the CA's file name on the modem, and `c`, the client certificate's base name when it
 * has one; the CA itself as `lw.ca`. The fob dials "localhost", a name in the test certificates;
 * the simulated network takes it to loopback.
 */
import { FILES, caFileName, identityJson } from '../../firmware/flash/wire.js';

/** `ports`: every edge's MQTTS port, in the order the fob tries them (lw.json `hs`, issue 19); `port` is the first. */
export function tlsRakStorage(o: { id: string; pw: string; port: number; ca: string; clientBase?: string; ports?: number[] }): Record<string, string> {
  return {
    [FILES.identity]: identityJson({
      id: o.id,
      pw: o.pw,
      h: 'localhost',
      p: o.port,
      ...(o.ports ? { hs: o.ports.map((p): [string, number] => ['localhost', p]) } : {}),
      t: caFileName(o.ca),
      ...(o.clientBase ? { c: o.clientBase } : {}),
    }),
    [FILES.ca]: o.ca,
  };
}
