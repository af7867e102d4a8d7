/**
 * Where the dispatcher keeps its notices between the first send and the last: the hub's Store (so a
 * restart resumes a notice still being retried, R: "nothing is lost"), or memory for unit tests and
 * a dispatcher without a hub.
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
  add(build: (reader: NoticeReader) => Promise<NoticeRecord[]> | NoticeRecord[]): Promise<NoticeRecord[]>;
  update(id: string, changes: Partial<Omit<NoticeRecord, 'id'>>): Promise<void>;
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

  add(build: (reader: NoticeReader) => Promise<NoticeRecord[]> | NoticeRecord[]): Promise<NoticeRecord[]> {
    return this.store.transaction(async (tx) => {
      const stored: NoticeRecord[] = [];
      for (const n of await build(tx)) if (await tx.insertNotice(n)) stored.push(n);
      return stored;
    });
  }

  update(id: string, changes: Partial<Omit<NoticeRecord, 'id'>>): Promise<void> {
    return this.store.transaction((tx) => tx.updateNotice(id, changes));
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
  /** Notice ids in the order their references were given. */
  private readonly refOrder: string[] = [];

  private readonly reader: NoticeReader = {
    getNoticeByOnceKey: async (key) => structuredClone([...this.notices.values()].find((n) => n.onceKey === key) ?? null),
    listNotices: async (alarmId) => structuredClone([...this.notices.values()].filter((n) => n.alarmId === alarmId)),
  };

  async add(build: (reader: NoticeReader) => Promise<NoticeRecord[]> | NoticeRecord[]): Promise<NoticeRecord[]> {
    const stored: NoticeRecord[] = [];
    for (const n of await build(this.reader)) {
      if (this.notices.has(n.id) || (n.onceKey !== null && [...this.notices.values()].some((x) => x.onceKey === n.onceKey))) continue;
      this.notices.set(n.id, structuredClone(n));
      stored.push(n);
    }
    return stored;
  }

  async update(id: string, changes: Partial<Omit<NoticeRecord, 'id'>>): Promise<void> {
    const n = this.notices.get(id);
    if (n) Object.assign(n, structuredClone(changes));
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
