/**
 * Live administration lists (issue 15 item 13): a worker, fob, user, token or visit added or changed
 * anywhere shows at once on every open admin page and workers board, instead of on a 30-second poll.
 * The dashboard's own stream (/api/events) carries an `admin` event `{ what }`; the page then fetches
 * its lists again with its own rights, as it does for `alarm` events.
 *
 * Two sources: a change made through this API (a successful POST/PUT/PATCH/DELETE under /api/admin
 * or /api/workers, told when its response has gone), and a change another process committed to the
 * database (`lonewatch workers add`, `devices add`, `visits import` open the SQLite file directly),
 * seen through the store's external change counter (SQLite PRAGMA data_version: no table read).
 */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../store/store.js';
import type { Logger } from '../logger.js';

export type AdminChange = 'workers' | 'devices' | 'users' | 'tokens' | 'visits' | 'contacts' | 'database';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const ADMIN_AREAS: Record<string, AdminChange> = { devices: 'devices', users: 'users', tokens: 'tokens', visits: 'visits', contacts: 'contacts', workers: 'workers' };

/**
 * What a request under /api changed, from its method and path; null for reads, refusals and
 * everything that is not administration (alarm actions have their own `alarm` events). Pure.
 */
export function adminChangeOf(method: string, url: string, status: number): AdminChange | null {
  if (!WRITES.has(method) || status >= 400) return null;
  const parts = url.split('?')[0].split('/').filter(Boolean);
  if (parts[0] !== 'api') return null;
  if (parts[1] === 'workers') return parts[3] === 'visits' ? 'visits' : 'workers';
  if (parts[1] === 'admin') return ADMIN_AREAS[parts[2] ?? ''] ?? null;
  return null;
}

export interface AdminLiveOptions {
  store: Store;
  log: Logger;
  /** How often to look for another process's commits (http.external_check_ms). */
  intervalMs: number;
  broadcast(event: 'admin', data: { what: AdminChange }): void;
}

/** Registers the hook on the API scope and starts the watch for other processes' changes; returns its stop. */
export function registerAdminLive(api: FastifyInstance, o: AdminLiveOptions): () => void {
  api.addHook('onResponse', async (req, reply) => {
    const what = adminChangeOf(req.method, req.url, reply.statusCode);
    if (what) o.broadcast('admin', { what });
  });
  let version: number | null = null;
  let checking = false;
  void o.store.externalChangeCounter().then(
    (v) => (version ??= v),
    () => undefined,
  );
  // Real time (unref'd), not the hub's clock: it is I/O, not a rule (as hub/ingest/device-watch.ts).
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    o.store
      .externalChangeCounter()
      .then((v) => {
        if (version !== null && v !== version) o.broadcast('admin', { what: 'database' });
        version = v;
      })
      .catch((err: unknown) => o.log.error({ err }, 'could not check the database for changes made outside the hub (the admin lists may be out of date until reloaded)'))
      .finally(() => {
        checking = false;
      });
  }, o.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
