/**
 * A FIFO lock: what runs under it runs one after another, in the order it asked; one that throws
 * passes the lock on. A store's writer (sqlite-store.ts; postgres-store.ts has two, the ordinary
 * one and the ordered lane's).
 */
export class AsyncLock {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
