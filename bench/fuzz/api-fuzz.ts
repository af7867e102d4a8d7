/**
 * Fuzzed HTTP requests for the hub's routes, generated from the hub's own OpenAPI document (GET
 * /docs/json, built from the routes' zod schemas in hub/http/*): each request takes a route and
 * fills its path parameters, query and JSON body from the route's schema, then mutates one part
 * (a known id or a hostile string in the path, unknown or wrong-typed query values, a body with a
 * field removed, retyped or unicode, a body that is not JSON, a wrong content type, odd headers),
 * signed in as nobody, as a duty officer, as an admin, or with a forged credential.
 */
import type { Prng } from './prng.js';

export interface ApiRoute {
  method: string;
  /** OpenAPI path, `{id}` for a parameter. */
  path: string;
  query: { name: string; schema: JsonSchema }[];
  body: JsonSchema | null;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  format?: string;
}

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** The route template and the mutation, for the report. */
  label: string;
  /** Credential used: none, duty_officer, admin, forged. */
  as: string;
}

/** Routes that never end by themselves (server-sent events): requested with a short read, still checked for 5xx. */
export const STREAMING_PATHS = ['/api/events'];

export function routesFromOpenApi(doc: { paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema?: JsonSchema }[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>> }): ApiRoute[] {
  const routes: ApiRoute[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      routes.push({
        method: method.toUpperCase(),
        path,
        query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: op.requestBody?.content?.['application/json']?.schema ?? null,
      });
    }
  }
  return routes;
}

const HOSTILE = ['', ' ', '..', '../../etc/passwd', '%2e%2e%2f', '%00', '%ff', '%', '%zz', "'; DROP TABLE alarms; --", '<script>alert(1)</script>', '🚨', '漢字', '\u202e', 'a'.repeat(300), 'null', 'undefined', '-1', '0', '1e309', '__proto__', 'constructor', '{"a":1}', '[]', 'NaN'];
const WRONG: unknown[] = [null, true, 0, -1, 1.5, 1e308, '', 'x', [], {}, [1], { a: null }, 'a'.repeat(2000), '🚨'.repeat(50)];

/** A value that satisfies the schema as far as this generator can tell (then mutated by the caller). */
export function valueFor(rng: Prng, s: JsonSchema, depth = 0): unknown {
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return rng.pick(s.enum);
  const alt = s.anyOf ?? s.oneOf;
  if (alt?.length) return valueFor(rng, rng.pick(alt), depth + 1);
  const type = Array.isArray(s.type) ? rng.pick(s.type) : s.type;
  switch (type) {
    case 'string': {
      if (s.format === 'date-time') return new Date(Date.now() - rng.int(0, 86_400_000)).toISOString();
      if (s.format === 'date') return new Date(Date.now() - rng.int(0, 86_400_000 * 30)).toISOString().slice(0, 10);
      const n = rng.int(Math.max(1, s.minLength ?? 1), Math.min(s.maxLength ?? 16, 24));
      return Array.from({ length: n }, () => rng.pick([...'abcdefghijklmnopqrstuvwxyz0123456789-'])).join('');
    }
    case 'integer':
    case 'number':
      return rng.int(Math.max(s.minimum ?? 0, -1e6), Math.min(s.maximum ?? 100, 1e6));
    case 'boolean':
      return rng.chance(0.5);
    case 'array':
      return depth > 3 ? [] : Array.from({ length: rng.int(0, 3) }, () => valueFor(rng, s.items ?? {}, depth + 1));
    case 'null':
      return null;
    default: {
      if (!s.properties || depth > 3) return {};
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties)) if (s.required?.includes(k) || rng.chance(0.5)) o[k] = valueFor(rng, v, depth + 1);
      return o;
    }
  }
}

export interface IdPools {
  /** Known ids by parameter name (id, workerId ...), so some requests reach real records. */
  [param: string]: string[];
}

export function fuzzRequest(rng: Prng, routes: ApiRoute[], pools: IdPools, tokens: { dutyOfficer: string; admin: string }): FuzzRequest {
  const headers: Record<string, string> = {};
  const a = rng.next();
  const as = a < 0.3 ? 'none' : a < 0.6 ? 'duty_officer' : a < 0.9 ? 'admin' : 'forged';
  if (as === 'duty_officer') headers.authorization = `Bearer ${tokens.dutyOfficer}`;
  if (as === 'admin') headers.authorization = `Bearer ${tokens.admin}`;
  if (as === 'forged') {
    const f = rng.int(0, 3);
    if (f === 0) headers.authorization = `Bearer lwt_${'A'.repeat(rng.int(0, 64))}`;
    else if (f === 1) headers.authorization = rng.pick(['Basic Zm9vOmJhcg==', 'Bearer', 'bearer  x', '🚨', 'Bearer ' + 'x'.repeat(4000)]);
    else if (f === 2) headers.cookie = `lw_session=${rng.pick(HOSTILE)}`;
    else headers.cookie = rng.pick(['=', ';;;', 'a=b; lw_session=', 'lw_session=%ff%fe']);
  }

  // 10% of requests go to paths that are no route (or the static files, docs, redirects).
  if (rng.chance(0.1)) {
    const path = rng.pick(['/', '/index.html', '/app.js', '/docs', '/docs/json', '/healthz', '/metrics', '/alarms/' + encodeURIComponent(rng.pick(HOSTILE)), '/companion/', '/api', '/api/', '/api/nope', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '//api//alarms', '/api/alarms/%', '/' + 'a'.repeat(rng.int(100, 3000))]);
    return { method: rng.pick(['GET', 'GET', 'POST', 'HEAD', 'OPTIONS', 'DELETE', 'PATCH']), url: path, headers, label: 'other path', as };
  }

  const route = rng.pick(routes);
  const mutation = rng.pick(['valid', 'path-param', 'query', 'body-field', 'body-type', 'body-not-json', 'content-type', 'method', 'headers', 'body-unicode', 'body-extra']);
  let path = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const pool = pools[name] ?? pools.id ?? [];
    const v = mutation === 'path-param' ? rng.pick(HOSTILE) : pool.length && rng.chance(0.7) ? rng.pick(pool) : `x${rng.int(0, 1e6)}`;
    return mutation === 'path-param' && rng.chance(0.3) ? v : encodeURIComponent(v);
  });
  const q = new URLSearchParams();
  for (const p of route.query) if (rng.chance(0.5)) q.set(p.name, String(valueFor(rng, p.schema)));
  if (mutation === 'query') {
    const name = route.query.length && rng.chance(0.7) ? rng.pick(route.query).name : rng.pick(['x', '__proto__', 'limit', 'q']);
    q.set(name, String(rng.pick(WRONG)));
    if (rng.chance(0.3)) q.append(name, 'again');
  }
  const qs = q.toString();
  if (qs) path += `?${qs}`;
  if (mutation === 'query' && rng.chance(0.2)) path += rng.pick(['&', '&&=', '?a[b]=1', '&%zz=1', '#frag']);

  let method = route.method;
  if (mutation === 'method') method = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
  let body: string | undefined;
  if (route.body && method !== 'GET' && method !== 'HEAD') {
    let v = valueFor(rng, route.body) as Record<string, unknown>;
    if (mutation === 'body-field' && v && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length) delete v[rng.pick(keys)];
    }
    if (mutation === 'body-type' && v && typeof v === 'object') {
      const keys = Object.keys(v);
      if (keys.length) v[rng.pick(keys)] = rng.pick(WRONG);
      else v = rng.pick(WRONG) as Record<string, unknown>;
    }
    if (mutation === 'body-unicode' && v && typeof v === 'object') {
      const keys = Object.keys(v);
      if (keys.length) v[rng.pick(keys)] = rng.pick(HOSTILE);
    }
    if (mutation === 'body-extra' && v && typeof v === 'object') v[rng.pick(['__proto__', 'constructor', 'role', 'x'])] = rng.pick(WRONG);
    body = JSON.stringify(v);
    if (mutation === 'body-not-json') body = rng.pick(['{', '{"a":', 'null', '', '\u0000', '[1,2', 'x'.repeat(rng.int(1, 1000)), '{"a":1}{"b":2}']);
    headers['content-type'] = 'application/json';
  } else if (mutation.startsWith('body') && method !== 'GET' && method !== 'HEAD') {
    body = JSON.stringify(valueFor(rng, {}));
    headers['content-type'] = 'application/json';
  }
  if (mutation === 'content-type') {
    headers['content-type'] = rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/json;;', '🚨', '']);
    body ??= 'a=1';
  }
  if (mutation === 'headers') {
    const h = rng.int(0, 4);
    if (h === 0) headers['x-forwarded-for'] = rng.pick(['1.2.3.4', 'garbage', '::1, 10.0.0.1', '']);
    else if (h === 1) headers.accept = rng.pick(['text/event-stream', '*/*;q=x', 'application/xml', '🚨']);
    else if (h === 2) headers['x-csrf-token'] = rng.pick(HOSTILE);
    // Below node's 16 KB header limit: the limit itself answers 431 and drops the connection.
    else if (h === 3) headers['x-long'] = 'v'.repeat(rng.int(1000, 8000));
    else headers.origin = rng.pick(['http://evil.example', 'null', '']);
  }
  return { method, url: path, headers, ...(body !== undefined ? { body } : {}), label: `${route.method} ${route.path} ${mutation}`, as };
}
