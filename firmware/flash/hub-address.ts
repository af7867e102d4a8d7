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
