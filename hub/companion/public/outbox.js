/* global indexedDB, localStorage */
import { encodeEvent } from '/protocol-core.js';
import { positionOf } from './location.js';
// The phone's outbox (IndexedDB): every event from the fob or from the phone itself is kept here
// until the hub acknowledges it on the fob's command topic. Keyed by event id, so a fob's retry of
// an event already waiting is not stored twice; the hub is idempotent on the same id.
const DB = 'lonewatch-companion';
const STORE = 'outbox';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'i' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function run(mode, fn) {
  return open().then(
    (db) =>
      new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const result = fn(tx.objectStore(STORE));
        tx.oncomplete = () => {
          db.close();
          resolve(result && 'result' in result ? result.result : undefined);
        };
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      }),
  );
}

/**
 * Adds an entry unless one with the same id is already waiting. Resolves true when it was new.
 * entry: { i, event (the event without `ag`), ag0 (age when it reached the phone), heldSince, origin,
 * fix? (the phone's position for an alarm event, location.js) }
 */
export async function add(entry) {
  const existing = await run('readonly', (s) => s.get(entry.i));
  if (existing) return false;
  // The order the phone got them in: ids sort as strings ("z-10" before "z-9"), not in time.
  const seq = Number(localStorage.getItem('lw.outseq') ?? '0') + 1;
  localStorage.setItem('lw.outseq', String(seq));
  await run('readwrite', (s) => s.put({ ...entry, seq }));
  return true;
}

/** Every waiting entry, oldest first. */
export function all() {
  return run('readonly', (s) => s.getAll()).then((list) => (list ?? []).sort((a, b) => a.seq - b.seq));
}

export function remove(i) {
  return run('readwrite', (s) => s.delete(i));
}

/**
 * The JSON to publish: the age grows with the time the event waited on the phone, and so does the
 * age of the phone's fix (`fa`, counted to this send). A position the fob sent itself is kept.
 */
export function payload(entry, now = Date.now()) {
  const ag = Math.max(0, Math.round(entry.ag0 + (now - entry.heldSince) / 1000));
  const l = entry.fix && !entry.event.l ? { l: positionOf(entry.fix, now) } : {};
  return encodeEvent({ ...entry.event, ...l, ag });
}
