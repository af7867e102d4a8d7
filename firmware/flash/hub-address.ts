/**
 * The hub address written into a fob (`h` in lw.json). A fob in the field runs on a mobile network
 * (RAK5010) or through a worker's phone (Puck.js): "localhost" or a loopback address there is the fob
 * or the phone itself, never the hub, so such an address is refused unless the engineer says the hub
 * is on the bench (--allow-localhost). Pure.
 */
export class HubAddressError extends Error {
  override name = 'HubAddressError';
}

/** localhost (and *.localhost), 127.0.0.0/8, ::1, and the unspecified 0.0.0.0 / :: */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  if (h === '0.0.0.0' || h === '::' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^::ffff:127\./.test(h)) return true;
  return false;
}

/**
 * The host a fob is given: --hub-host, else the host of hub.public_url. Throws HubAddressError for a
 * loopback host without allowLocalhost, or a public_url that is no URL.
 */
export function fobHubHost(o: { hubHost: string | undefined; publicUrl: string; allowLocalhost: boolean }): { host: string; from: '--hub-host' | 'hub.public_url' } {
  let host: string;
  let from: '--hub-host' | 'hub.public_url';
  if (o.hubHost !== undefined) {
    host = o.hubHost.trim();
    from = '--hub-host';
    if (host === '') throw new HubAddressError('--hub-host is empty: give the address (name or IP) the fob can reach the hub at');
  } else {
    try {
      host = new URL(o.publicUrl).hostname;
    } catch {
      throw new HubAddressError(`hub.public_url ${JSON.stringify(o.publicUrl)} in lonewatch.toml is not a URL: set it to the hub's public address (e.g. https://hub.example.org), or pass --hub-host`);
    }
    from = 'hub.public_url';
  }
  if (isLoopbackHost(host) && !o.allowLocalhost) {
    throw new HubAddressError(
      `the hub address for the fob would be ${JSON.stringify(host)} (from ${from}): that is the fob's own loopback, a fob in the field cannot reach the hub there. ` +
        'Set hub.public_url in lonewatch.toml to the address fobs reach the hub at, or pass --hub-host <address>; --allow-localhost only for a hub on this very bench',
    );
  }
  return { host, from };
}

/** One edge the fob may reach: host (name or IP) and MQTT port. */
export type FobEdge = [host: string, port: number];

/** Espruino's JSON and the BG96's QIOPEN take the host as text: names, IPv4, or IPv6 without brackets. */
const HOST = /^[A-Za-z0-9.:_-]{1,253}$/;

/**
 * Issue 19 (the cluster): the edges a RAK5010 is given, in order of preference, from `--hub
 * a:1883,b:1883` or [cluster] edges. Each is `host:port` (an IPv6 address as `[::1]:1883`); every
 * host obeys the same loopback rule as the single hub's; a repeated edge is refused (the fob would
 * try one edge twice in a row for nothing). Throws HubAddressError naming the bad entry.
 */
export function parseFobEdges(list: readonly string[], from: string, allowLocalhost: boolean): FobEdge[] {
  const items = list.map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new HubAddressError(`${from} lists no edge: give host:port, several separated by commas (e.g. edge-1.example.org:1883,edge-2.example.org:1883)`);
  const seen = new Set<string>();
  return items.map((item) => {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(item);
    const host = m ? (m[1] ?? m[2]) : '';
    const port = m ? Number(m[3]) : 0;
    if (!m || !HOST.test(host) || port < 1 || port > 65535) {
      throw new HubAddressError(`${from}: ${JSON.stringify(item)} is not host:port (e.g. edge-1.example.org:1883, [2001:db8::1]:1883; the port 1-65535)`);
    }
    if (isLoopbackHost(host) && !allowLocalhost) {
      throw new HubAddressError(`${from}: ${JSON.stringify(item)} is the fob's own loopback, a fob in the field cannot reach an edge there; --allow-localhost only for edges on this very bench`);
    }
    const key = `${host.toLowerCase()}:${port}`;
    if (seen.has(key)) throw new HubAddressError(`${from}: ${JSON.stringify(item)} is listed twice: give each edge once, in the order the fob should try them`);
    seen.add(key);
    return [host, port] as FobEdge;
  });
}
