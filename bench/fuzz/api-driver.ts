/**
 * Sends fuzzed API requests (api-fuzz.ts) to the hub over a few kept-alive HTTP connections and
 * counts every answer by status. A 5xx, a request the hub never answered, or a connection it reset
 * is a failure; a 4xx (400 bad input, 401/403 not allowed, 404, 413, 429 rate limit, 431) is a refusal.
 */
import { Agent, request, validateHeaderName, validateHeaderValue } from 'node:http';
import { fuzzRequest, routesFromOpenApi, STREAMING_PATHS, type FuzzRequest, type IdPools } from './api-fuzz.js';
import type { Prng } from './prng.js';
import type { Tally } from './tally.js';

export interface ApiFuzzOptions {
  baseUrl: string;
  requests: number;
  concurrency: number;
  tokens: { dutyOfficer: string; admin: string };
  pools: IdPools;
  rng: Prng;
  tally: Tally;
  stop: () => boolean;
  /** Up to this many failing requests are kept whole for the report. */
  keepFailures?: number;
  failures: { request: string; outcome: string }[];
}

const TIMEOUT_MS = 15_000;

export async function runApiFuzz(o: ApiFuzzOptions): Promise<void> {
  const doc = (await (await fetch(`${o.baseUrl}/docs/json`)).json()) as Parameters<typeof routesFromOpenApi>[0];
  const routes = routesFromOpenApi(doc);
  o.tally.add('api routes', 'from /docs/json', routes.length);
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  let left = o.requests;
  const worker = async (rng: Prng): Promise<void> => {
    while (left > 0 && !o.stop()) {
      left--;
      const req = fuzzRequest(rng, routes, o.pools, o.tokens);
      const outcome = await send(o.baseUrl, req, agent);
      o.tally.add('api sent', `as ${req.as}`);
      o.tally.add('api answers', outcome);
      if (/^5\d\d|no answer|reset/.test(outcome)) {
        o.tally.add('api failures', `${outcome}: ${req.label}`);
        if (o.failures.length < (o.keepFailures ?? 20)) o.failures.push({ request: `${req.method} ${req.url.slice(0, 300)} as ${req.as} (${req.label})`, outcome });
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, () => worker(o.rng.fork())));
  agent.destroy();
}

function send(base: string, r: FuzzRequest, agent: Agent): Promise<string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    try {
      validateHeaderName(k);
      validateHeaderValue(k, v);
      headers[k] = v;
    } catch {
      // node:http will not put this on the wire (RFC 9110 §5.5 field values); sent without it.
    }
  }
  const body = r.body === undefined ? undefined : Buffer.from(r.body);
  if (body) headers['content-length'] = String(body.length);
  const u = new URL(base);
  return new Promise((resolve) => {
    let path = r.url;
    if (/[^\x21-\x7e]/.test(path)) path = encodeURI(path);
    let req;
    try {
      req = request({ host: u.hostname, port: u.port, method: r.method, path, headers, agent });
    } catch (err) {
      resolve(`not sent (client refused: ${(err as Error).message.slice(0, 60)})`);
      return;
    }
    const timer = setTimeout(() => {
      req.destroy();
      resolve('no answer within 15 s');
    }, TIMEOUT_MS);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (STREAMING_PATHS.some((p) => r.url.startsWith(p)) && (res.headers['content-type'] ?? '').includes('text/event-stream')) {
        clearTimeout(timer);
        res.destroy();
        resolve(`${status} (event stream opened, closed by the fuzzer)`);
        return;
      }
      res.resume();
      res.on('end', () => {
        clearTimeout(timer);
        resolve(String(status));
      });
      res.on('error', () => {
        clearTimeout(timer);
        resolve(`${status} (body cut: reset)`);
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNRESET' ? 'connection reset by the hub' : `request error ${err.code ?? err.message}`);
    });
    req.end(body);
  });
}
