/**
 * Reads a fob's outbox from its Storage files, for tests and the simulator: one file per waiting
 * event, `lw-e<id>` holding `<alarm 0|1>,<raised at>,<the event's JSON without its age and closing brace>` (firmware/src/core/outbox.ts).
 */
import { compareEventIds } from '../../shared/protocol-core.js';
import { STORAGE } from '../src/hal.js';
import type { StorageFiles } from './espruino-sim.js';

export interface StoredOutboxEntry {
  /** event id */
  i: string;
  /** event kind */
  k: string;
  /** 1 for an alarm */
  a: number;
}

/** The events waiting for the hub's ack, oldest first. */
export function outboxEntries(storage: StorageFiles): StoredOutboxEntry[] {
  return Object.keys(storage)
    .filter((name) => name.startsWith(STORAGE.outbox))
    .map((name) => {
      const text = storage[name];
      const json = JSON.parse(text.slice(text.indexOf(',', 2) + 1) + '}') as { k: string };
      return { i: name.slice(STORAGE.outbox.length), k: json.k, a: Number(text[0]) };
    })
    .sort((x, y) => compareEventIds(x.i, y.i));
}
