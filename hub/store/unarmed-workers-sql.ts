/**
 * The SQL of Store.unarmedWorkersWithPlannedVisits, the same rule on SQLite and PostgreSQL: workers
 * on record with a planned visit starting in [from, to) and no `worker` due work (visits recorded
 * while no hub ran, which the hub's start steps once: hub/rules/rules-runtime.ts `start`).
 * `param(n)` writes the n-th (1-based) placeholder; `collate` the id's collation for the byte order
 * both stores answer in (PostgreSQL: ' COLLATE "C"'; SQLite compares bytes already).
 */
export function unarmedWorkersSql(param: (n: number) => string, collate = ''): string {
  return (
    `SELECT DISTINCT v.worker_id${collate} AS id FROM visits v JOIN workers w ON w.id = v.worker_id` +
    ` WHERE v.status = 'planned' AND v.scheduled_start >= ${param(1)} AND v.scheduled_start < ${param(2)}` +
    " AND NOT EXISTS (SELECT 1 FROM due_work d WHERE d.kind = 'worker' AND d.key = v.worker_id) ORDER BY id"
  );
}
