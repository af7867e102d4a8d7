/**
 * One send of a notice under a time limit on the hub's Clock: the notifier gets an AbortSignal, and
 * at the limit the signal is aborted and the send counts as failed (retryable) whether or not the
 * notifier heeds it; one that ignores it is left behind, never waited for. Each send's controller is
 * kept in `controllers` while it runs, so a stop can abort every send in flight.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { DeliveryError, type DeliveryOutcome, type Notice, type Notifier } from './notifier.js';

export function sendWithin(notifier: Notifier, notice: Notice, timeoutMs: number, clock: Clock, controllers: Set<AbortController>): Promise<DeliveryOutcome> {
  const ctl = new AbortController();
  controllers.add(ctl);
  let timer: TimerHandle | null = null;
  const timedOut = new Promise<never>((_, reject) => {
    const fire = (): void => {
      const why = new DeliveryError(`no result within ${timeoutMs} ms`);
      ctl.abort(why);
      reject(why);
    };
    timer = clock.setTimer(fire, timeoutMs);
    ctl.signal.addEventListener('abort', () => reject(ctl.signal.reason instanceof Error ? ctl.signal.reason : new DeliveryError('aborted')), { once: true });
  });
  timedOut.catch(() => undefined);
  const sending = Promise.resolve().then(() => notifier.send(notice, ctl.signal));
  sending.catch(() => undefined);
  return Promise.race([sending, timedOut]).finally(() => {
    (timer as TimerHandle | null)?.cancel();
    controllers.delete(ctl);
  });
}
