/**
 * Ports for the local cluster's nodes, which the failure tests kill -9 and start again on the same
 * ports (a restarted NATS node keeps its routes; a restarted edge keeps the address its fobs have).
 *
 * A port asked of the kernel (listen on port 0) comes from its ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 on Debian), the same range every outgoing
 * TCP connection on the machine takes its source port from. While a killed node is down, any
 * process's connect() may be given its port, and the node cannot come back ("bind: address already
 * in use": seen in a full `npm test`, a NATS node restarted by cluster-failover). So these ports are
 * picked below that range, where the kernel hands out none on its own: only a process that names
 * the port can take it, and each pick is checked free by binding it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The lowest port picked: above the well-known and most registered service ports. */
const LOWEST = 10_000;

/** The first port of the kernel's ephemeral range (Linux); where it cannot be read, IANA's 49152. */
export function ephemeralLow(read: () => string = () => readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')): number {
  try {
    const low = Number(read().trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST ? low : 49_152;
  } catch {
    return 49_152;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export class NoRestartablePortError extends Error {
  override name = 'NoRestartablePortError';
}

/** A free loopback port below the ephemeral range, for a node that may be started again on it. */
export async function restartablePort(random: () => number = Math.random): Promise<number> {
  const high = ephemeralLow() - 1;
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(random() * (high - LOWEST + 1));
    if (await bindable(port)) return port;
  }
  throw new NoRestartablePortError(`no free port between ${LOWEST} and ${high} on 127.0.0.1 after 100 tries: free some, or start the cluster again`);
}
