/**
 * Where the dispatcher keeps its notices between the first send and the last, and each unfinished
 * notice's due work `notice:<id>` (issue 18: the store is the only scheduler): the time its next step
 * falls due, a retry, the guard of an attempt in flight, a fall-through's check on its children. The
 * hub's Store keeps both in one transaction, so a restart (or kill -9) finds every unfinished notice
 * with its row and the one due-work loop fires it ("nothing is lost"); memory keeps the notices for
 * unit tests, with their rows in a Store given to it (or, without one, in `scheduled`, fired by
 * nobody but an explicit `Dispatcher.fireDue`).
 */
import type { Store } from '../store/store.js';
import type { NoticeRecord } from '../store/store-types.js';

/** What a notice builder may look at, inside the same unit as the insert. */
export interface NoticeReader {
  getNoticeByOnceKey(onceKey: string): Promise<NoticeRecord | null>;
  listNotices(alarmId: string): Promise<NoticeRecord[]>;
}

export interface NoticeJournal {
  /**
   * Runs `build` and stores the notices it returns in one atomic unit; returns those newly stored (one
   * whose id or onceKey is already there is left out: it was claimed before).
   */
  add(build: (reader: NoticeReader) => Promise<NoticeRecord[]> | NoticeRecord[], dueAt?: (n: NoticeRecord) => number): Promise<NoticeRecord[]>;
  get(id: string): Promise<NoticeRecord | null>;
  /**
   * Writes the notice's changes and, in the same unit, its due work: a time arms (or moves) the
   * `notice:<id>` row, null removes it, undefined leaves it as it is.
   */
  update(id: string, changes: Partial<Omit<NoticeRecord, 'id'>>, dueAt?: number | null): Promise<void>;
  /** Arms (a time) or removes (null) the notice's due work alone. */
  arm(id: string, dueAt: number | null): Promise<void>;
  /** When the notice's due work falls due, or null when it has none. */
  dueAt(id: string): Promise<number | null>;
  /** Keeps the reference (DC-09 sequence number) a notice is sent with, before its first send. */
  assignRef(id: string, ref: string): Promise<void>;
  children(parentId: string): Promise<NoticeRecord[]>;
  unfinished(): Promise<NoticeRecord[]>;
  lastRef(channel: string): Promise<string | null>;
  /** The latest notice on `channel` finished with the far end's reference `ref` (SMS delivery reports after a restart). */
  findByRef(channel: string, ref: string): Promise<NoticeRecord | null>;
  /** Deletes finished notices of alarms closed before `closedBefore`, keeping what `lastRef` needs. */
  prune(closedBefore: number): Promise<number>;
}

export class StoreNoticeJournal implements NoticeJournal {
  constructor(private readonly store: Store) {}

  add(build: (reader: NoticeReader) => Promise<NoticeRecord[]> | NoticeRecord[], dueAt?: (n: NoticeRecord) => number): Promise<NoticeRecord[]> {
    return this.store.transaction(async (tx) => {
      const stored: NoticeRecord[] = [];
      for (const n of await build(tx)) {
        if (!(await tx.insertNotice(n))) continue;
        if (dueAt) await tx.scheduleWork('notice', n.id, dueAt(n));
        stored.push(n);
      }
      return stored;
    });
  }

  get(id: string): Promise<NoticeRecord | null> {
    return this.store.read((tx) => tx.getNotice(id));
  }

  update(id: string, changes: Partial<Omit<NoticeRecord, 'id'>>, dueAt?: number | null): Promise<void> {
    return this.store.transaction(async (tx) => {
      if (Object.keys(changes).length > 0) await tx.updateNotice(id, changes);
      if (dueAt !== undefined) await tx.scheduleWork('notice', id, dueAt);
    });
  }

  arm(id: string, dueAt: number | null): Promise<void> {
    return this.store.transaction((tx) => tx.scheduleWork('notice', id, dueAt));
  }

  async dueAt(id: string): Promise<number | null> {
    return (await this.store.getWork('notice', id))?.dueAt ?? null;
  }

  assignRef(id: string, ref: string): Promise<void> {
    return this.store.transaction((tx) => tx.assignNoticeRef(id, ref));
  }

  children(parentId: string): Promise<NoticeRecord[]> {
    return this.store.read((tx) => tx.listNoticeChildren(parentId));
  }

  unfinished(): Promise<NoticeRecord[]> {
    return this.store.unfinishedNotices();
  }

  lastRef(channel: string): Promise<string | null> {
    return this.store.read((tx) => tx.lastNoticeRef(channel));
  }

  findByRef(channel: string, ref: string): Promise<NoticeRecord | null> {
    return this.store.read((tx) => tx.findNoticeByRef(channel, ref));
  }

  prune(closedBefore: number): Promise<number> {
    return this.store.pruneNotices(closedBefore);
  }
}

export class MemoryNoticeJournal implements NoticeJournal {
  readonly notices = new Map<string, NoticeRecord>();
  /** Due times of the notices' work when no Store holds it (nothing fires these by itself). */
  readonly scheduled = new Map<string, number>();

  /** `due`: the Store whose due work holds the notices' rows (a real SQLite, so a DueWorkLoop fires them). */
  constructor(readonly due: Store | null = null) {}
  /** Notice ids in the order their references were given. */
  private readonly refOrder: string[] = [];

  private readonly reader: NoticeReader = {
    getNoticeByOnceKey: async (key) => structuredClone([...this.notices.values()].find((n) => n.onceKey === key) ?? null),
    listNotices: async (alarmId) => structuredClone([...this.notices.values()].filter((n) => n.alarmId === alarmId)),
  };

  async add(build: (reader: NoticeReader) => Promise<NoticeRecord[]> | NoticeRecord[], dueAt?: (n: NoticeRecord) => number): Promise<NoticeRecord[]> {
    const stored: NoticeRecord[] = [];
    for (const n of await build(this.reader)) {
      if (this.notices.has(n.id) || (n.onceKey !== null && [...this.notices.values()].some((x) => x.onceKey === n.onceKey))) continue;
      this.notices.set(n.id, structuredClone(n));
      if (dueAt) await this.arm(n.id, dueAt(n));
      stored.push(n);
    }
    return stored;
  }

  async get(id: string): Promise<NoticeRecord | null> {
    return structuredClone(this.notices.get(id) ?? null);
  }

  async update(id: string, changes: Partial<Omit<NoticeRecord, 'id'>>, dueAt?: number | null): Promise<void> {
    const n = this.notices.get(id);
    if (n) Object.assign(n, structuredClone(changes));
    if (dueAt !== undefined) await this.arm(id, dueAt);
  }

  async arm(id: string, dueAt: number | null): Promise<void> {
    if (this.due) return this.due.transaction((tx) => tx.scheduleWork('notice', id, dueAt));
    if (dueAt === null) this.scheduled.delete(id);
    else this.scheduled.set(id, dueAt);
  }

  async dueAt(id: string): Promise<number | null> {
    if (this.due) return (await this.due.getWork('notice', id))?.dueAt ?? null;
    return this.scheduled.get(id) ?? null;
  }

  async assignRef(id: string, ref: string): Promise<void> {
    const n = this.notices.get(id);
    if (!n) return;
    n.ref = ref;
    this.refOrder.push(id);
  }

  async children(parentId: string): Promise<NoticeRecord[]> {
    return structuredClone([...this.notices.values()].filter((n) => n.parentId === parentId));
  }

  async unfinished(): Promise<NoticeRecord[]> {
    return structuredClone([...this.notices.values()].filter((n) => n.state !== 'done'));
  }

  async lastRef(channel: string): Promise<string | null> {
    for (let i = this.refOrder.length - 1; i >= 0; i--) {
      const n = this.notices.get(this.refOrder[i]);
      if (n && n.channel === channel && n.ref !== null) return n.ref;
    }
    const done = [...this.notices.values()].filter((n) => n.channel === channel && n.ref !== null && n.state === 'done');
    done.sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    return done.at(-1)?.ref ?? null;
  }

  async findByRef(channel: string, ref: string): Promise<NoticeRecord | null> {
    const found = [...this.notices.values()].filter((n) => n.channel === channel && n.ref === ref).sort((a, b) => a.createdAt - b.createdAt);
    return structuredClone(found.at(-1) ?? null);
  }

  /** Alarms are not known here: nothing is pruned. */
  async prune(): Promise<number> {
    return 0;
  }
}
