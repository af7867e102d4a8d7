/**
 * The change feed's tailer (issue 18): delivers the store's changes (hub/store/store.ts ChangeRecord)
 * to subscribers in seq order, each change once per subscriber. It replaces the runtime's in-process
 * EventEmitter: the dashboard's live events (hub/http/live-events.ts) and the device watch
 * (hub/ingest/device-watch.ts) subscribe here, and so hear of changes made by any process that
 * writes the same store (the `lonewatch` CLI opening the database itself, another hub node).
 *
 * - This process's own commits wake the reader at once (Store.onAppended).
 * - Commits by other processes wake it at once where the store can tell of them
 *   (Store.listenChanges: PostgreSQL's LISTEN/NOTIFY, so a cluster's HTTP node shows an alarm a
 *   worker committed without waiting for the poll; issue 19, "live events come from the store's
 *   change feed (PostgreSQL LISTEN/NOTIFY ...)"), and are found by polling every `pollMs` on the
 *   injected Clock in any case: the poll is what a store without LISTEN has (SQLite), and what
 *   catches up while a lost listening connection is being made again.
 * - A subscriber may start from an older seq (a browser's Last-Event-ID): it is sent what it missed
 *   first, in order, then the live changes. One that starts before the oldest change still kept (the
 *   feed is pruned, `[feed]` in config) is told `onGap` instead, so it reloads what it shows.
 * - The feed is pruned here every `pruneEveryMs`, so it cannot fill the disk.
 *
 * Reads run one at a time (`wake` while reading asks for one more round), so a subscriber never
 * sees a change twice or out of order.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ChangeFeedStore, ChangeRecord } from './store.js';

export interface ChangeFeedReaderOptions {
  store: ChangeFeedStore;
  /** Paces the poll and the prune. */
  clock: Clock;
  /** The time the feed's `at` is written in (the hub's clock), for the retention. Default: clock.now. */
  now?: () => number;
  log: Logger;
  pollMs: number;
  retentionMs: number;
  maxRows: number;
  /** How often the feed is pruned. Default: 10 minutes. */
  pruneEveryMs?: number;
  /** Changes read per store call. Default: 500. */
  batch?: number;
  /** Whether this reader prunes the feed (the hub's does; a CLI's passing reader does not). Default: true. */
  prune?: boolean;
  /** Whether to use the store's listenChanges where it has one. Default: true. */
  listen?: boolean;
  /**
   * The least time between two reads woken by other processes' notifications, so a busy cluster
   * (every node's commits notify every node) costs each reader at most 1000/listenGapMs reads a
   * second, not one per commit. Default: 50 ms.
   */
  listenGapMs?: number;
  /** The first wait before listening again after the listening connection was lost; it doubles to 30 s. Default: 1 s. */
  relistenMs?: number;
}

export interface SubscribeOptions {
  /**
   * Deliver the changes after this seq (a reconnecting browser's Last-Event-ID). Absent: from now on
   * (after the last change this reader has read).
   */
  after?: number;
  /**
   * The subscriber asked for changes that are no longer kept (pruned, or a seq this store never had);
   * it is sent the changes after `resumeAt` from now on.
   */
  onGap?: (resumeAt: number) => void;
}

export interface FeedSubscription {
  /** The seq this subscription starts after (what a new SSE stream names as its first id). */
  readonly from: number;
  unsubscribe(): void;
}

interface Subscriber {
  cursor: number;
  listener: (change: ChangeRecord) => void;
  onGap?: (resumeAt: number) => void;
  /** Started from an older seq: checked against the oldest change kept before it is sent anything. */
  check: boolean;
}

export class ChangeFeedReader {
  private head = 0;
  private readonly subs = new Set<Subscriber>();
  private pumping: Promise<void> | null = null;
  private again = false;
  private started = false;
  private stopped = false;
  private pollTimer: TimerHandle | null = null;
  private pruneTimer: TimerHandle | null = null;
  private offAppended: (() => void) | null = null;
  private stopListening: (() => Promise<void>) | null = null;
  private relistenTimer: TimerHandle | null = null;
  private relistenWait = 0;
  private lastNotifiedRead = Number.NEGATIVE_INFINITY;
  private notifiedTimer: TimerHandle | null = null;
  private readonly batch: number;
  private readonly now: () => number;

  constructor(private readonly o: ChangeFeedReaderOptions) {
    this.batch = o.batch ?? 500;
    this.now = o.now ?? (() => o.clock.now());
  }

  /** The last seq read from the store (0 before start or when the feed is empty). */
  get lastSeq(): number {
    return this.head;
  }

  get subscribers(): number {
    return this.subs.size;
  }

  /** Whether other processes' commits wake this reader at once (the store's LISTEN is in place). */
  get listens(): boolean {
    return this.stopListening !== null;
  }

  /** Starts after the last change now in the store; prunes once; arms the poll and the prune; listens where the store can. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.o.prune !== false) await this.prune();
    this.head = await this.o.store.lastChangeSeq();
    this.offAppended = this.o.store.onAppended(() => this.wake());
    this.armPoll();
    if (this.o.prune !== false) this.armPrune();
    await this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pollTimer?.cancel();
    this.pruneTimer?.cancel();
    this.relistenTimer?.cancel();
    this.notifiedTimer?.cancel();
    this.offAppended?.();
    const stopListening = this.stopListening;
    this.stopListening = null;
    await stopListening?.().catch(() => undefined);
    this.subs.clear();
    await this.pumping;
  }

  subscribe(listener: (change: ChangeRecord) => void, opts: SubscribeOptions = {}): FeedSubscription {
    const from = opts.after !== undefined && Number.isSafeInteger(opts.after) && opts.after >= 0 ? opts.after : this.head;
    const sub: Subscriber = { cursor: from, listener, check: from !== this.head, ...(opts.onGap ? { onGap: opts.onGap } : {}) };
    this.subs.add(sub);
    if (sub.check) this.wake();
    return { from, unsubscribe: () => this.subs.delete(sub) };
  }

  /** Reads what is new now (this process committed a change, or the poll came round). */
  wake(): void {
    if (this.stopped || !this.started) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.again = false;
        try {
          await this.pumpOnce();
        } catch (err) {
          // The next commit or poll tries again from the same cursors: nothing is skipped.
          this.o.log.error({ err }, 'could not read the change feed; live updates wait for the next try');
          this.again = false;
          break;
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.pumping = null;
      // Woken between the last round and here: one more round.
      if (this.again) this.wake();
    });
  }

  /** Resolves once no read is in progress (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  private async pumpOnce(): Promise<void> {
    for (const sub of this.subs) {
      if (!sub.check) continue;
      sub.check = false;
      await this.checkStart(sub);
    }
    if (this.subs.size === 0) {
      // Nobody to tell: move the head on without reading the rows.
      this.head = Math.max(this.head, await this.o.store.lastChangeSeq());
      return;
    }
    let from = this.head;
    for (const s of this.subs) from = Math.min(from, s.cursor);
    for (;;) {
      const changes = await this.o.store.readChanges(from, this.batch);
      for (const c of changes) {
        for (const sub of [...this.subs]) {
          if (c.seq <= sub.cursor || !this.subs.has(sub)) continue;
          sub.cursor = c.seq;
          try {
            sub.listener(c);
          } catch (err) {
            this.o.log.error({ err, seq: c.seq, topic: c.topic, alarmId: c.alarmId }, 'a change feed subscriber failed on a change');
          }
        }
        if (c.seq > this.head) this.head = c.seq;
      }
      if (changes.length < this.batch) return;
      from = changes[changes.length - 1]!.seq;
    }
  }

  /** A subscriber starting from an older seq: is everything after it still kept? */
  private async checkStart(sub: Subscriber): Promise<void> {
    const last = await this.o.store.lastChangeSeq();
    const first = await this.o.store.firstChangeSeq();
    // Ahead of the store (a seq from another database) or behind the oldest change kept.
    const missed = sub.cursor > last || (sub.cursor < last && (first === null || sub.cursor < first - 1));
    if (!missed) return;
    sub.cursor = last;
    if (last > this.head) this.head = last;
    try {
      sub.onGap?.(last);
    } catch (err) {
      this.o.log.error({ err }, 'a change feed subscriber failed on a gap');
    }
  }

  /**
   * Listens for other processes' commits where the store can. A failure to listen, or a listening
   * connection lost later (a database restart, an administrator ending it), is logged and tried
   * again after 1 s, doubling to 30 s; meanwhile the poll goes on, so nothing is missed, only later.
   */
  private async listen(): Promise<void> {
    const store = this.o.store;
    if (this.o.listen === false || !store.listenChanges || this.stopped) return;
    try {
      const stop = await store.listenChanges(
        (seq) => this.notified(seq),
        (err) => {
          this.stopListening = null;
          this.o.log.warn({ err }, `the change feed's LISTEN connection to the database was lost: other nodes' changes are seen within ${this.o.pollMs} ms (the poll) until it is back`);
          this.armRelisten();
        },
      );
      if (this.stopped) {
        await stop().catch(() => undefined);
        return;
      }
      if (this.relistenWait > 0) this.o.log.info('the change feed listens to the database again: other nodes\' changes are seen at once');
      this.stopListening = stop;
      this.relistenWait = 0;
    } catch (err) {
      this.o.log.warn({ err }, `could not LISTEN for the change feed: other nodes' changes are seen within ${this.o.pollMs} ms (the poll); listening is tried again`);
      this.armRelisten();
    }
  }

  /** Another process committed up to `seq`: read now, or when listenGapMs has passed since the last such read. */
  private notified(seq: number): void {
    if (seq <= this.head || this.notifiedTimer || this.stopped) return;
    const read = () => {
      this.lastNotifiedRead = this.o.clock.now();
      this.wake();
    };
    const wait = (this.o.listenGapMs ?? 50) - (this.o.clock.now() - this.lastNotifiedRead);
    if (wait <= 0) return read();
    this.notifiedTimer = this.o.clock.setTimer(() => {
      this.notifiedTimer = null;
      read();
    }, wait);
  }

  private armRelisten(): void {
    if (this.stopped || this.relistenTimer) return;
    const first = this.o.relistenMs ?? 1000;
    this.relistenWait = this.relistenWait === 0 ? first : Math.min(30_000, this.relistenWait * 2);
    this.relistenTimer = this.o.clock.setTimer(() => {
      this.relistenTimer = null;
      void this.listen();
    }, this.relistenWait);
  }

  private armPoll(): void {
    if (this.stopped) return;
    this.pollTimer = this.o.clock.setTimer(() => {
      this.wake();
      this.armPoll();
    }, this.o.pollMs);
  }

  private armPrune(): void {
    if (this.stopped) return;
    this.pruneTimer = this.o.clock.setTimer(() => {
      this.prune().finally(() => this.armPrune());
    }, this.o.pruneEveryMs ?? 600_000);
  }

  /** Deletes what is older than the retention or beyond the row cap. */
  async prune(): Promise<number> {
    try {
      const n = await this.o.store.pruneChanges(this.now() - this.o.retentionMs, this.o.maxRows);
      if (n > 0) this.o.log.debug({ pruned: n }, `change feed: ${n} old changes pruned`);
      return n;
    } catch (err) {
      this.o.log.error({ err }, 'could not prune the change feed; it is tried again later');
      return 0;
    }
  }
}
