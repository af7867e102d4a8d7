/**
 * Counts every statement sent on a pg pool's connections, for the heartbeat-batch test and bench:
 * each connection is wrapped the first time the pool hands it out ('acquire', for pool.connect and
 * pool.query alike), including connections opened before counting began.
 */
import type pg from 'pg';

export function countStatements(pool: pg.Pool): { n: number } {
  const count = { n: 0 };
  const wrapped = new WeakSet<object>();
  pool.on('acquire', (c) => {
    if (wrapped.has(c)) return;
    wrapped.add(c);
    const query = c.query.bind(c) as (...a: unknown[]) => unknown;
    (c as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      count.n++;
      return query(...a);
    };
  });
  return count;
}
