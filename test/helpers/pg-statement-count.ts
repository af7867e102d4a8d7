/**
 * Counts every statement sent on a pg pool's connections, for the heartbeat-batch test and bench:
 * each connection is wrapped the first time the pool hands it out ('acquire', for pool.connect and
 * pool.query alike), including connections opened before counting began.
 *
 * `n` counts every statement, the hub's own background reads included (the change feed's reader,
 * the due-work loop). `during(fn)` counts only those sent from `fn`'s own asynchronous context
 * (AsyncLocalStorage): a background poll that runs meanwhile started in its own context and is not
 * counted. Counting the pool's total over a batch failed a clean-clone CI run (2026-12-03): under
 * load the batch took longer and one more poll fell inside it (21 statements where 20 were allowed).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';

export interface StatementCount {
  /** Every statement sent on the pool since counting began. */
  n: number;
  /** Runs `fn` and answers how many statements were sent from within it. */
  during(fn: () => Promise<unknown>): Promise<number>;
}

export function countStatements(pool: pg.Pool): StatementCount {
  const scope = new AsyncLocalStorage<{ n: number }>();
  const count: StatementCount = {
    n: 0,
    async during(fn) {
      const mine = { n: 0 };
      await scope.run(mine, fn);
      return mine.n;
    },
  };
  const wrapped = new WeakSet<object>();
  pool.on('acquire', (c) => {
    if (wrapped.has(c)) return;
    wrapped.add(c);
    const query = c.query.bind(c) as (...a: unknown[]) => unknown;
    (c as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      count.n++;
      const mine = scope.getStore();
      if (mine) mine.n++;
      return query(...a);
    };
  });
  return count;
}
