/**
 * The PostgreSQL store's errors, apart from the store itself so that the CLI and the hub can tell
 * them without loading node-postgres (several hundred milliseconds on a busy machine) when the store
 * is SQLite.
 */
/** A PostgreSQL store problem a person can act on (the message says what to do). */
export class PostgresStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PostgresStoreError';
  }
}

/** A transaction that kept conflicting with other processes and was given up (nothing of it was kept). */
export class StoreConflictError extends PostgresStoreError {
  constructor(attempts: number, cause: unknown) {
    super(`a store transaction conflicted with other hubs ${attempts} times in a row and was not committed (nothing of it was kept): try again`, { cause });
    this.name = 'StoreConflictError';
  }
}

// PostgreSQL Appendix A: 40001 serialization_failure, 40P01 deadlock_detected: run it again.
const RETRYABLE = new Set(['40001', '40P01']);
export const isRetryable = (err: unknown): boolean => typeof err === 'object' && err !== null && RETRYABLE.has(String((err as { code?: unknown }).code));

/** The host:port of a URL without its password, for messages and logs. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return '(an unparsable URL)';
  }
}

