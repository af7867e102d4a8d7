// A presence from the cluster's bulk lane may be handled out of order (a dead worker's batch comes
// again after newer messages were stored; a fob that moved edges has the old edge's "offline" come
// after the new edge's "online"): on a real SQLite store, a presence older than the last one applied
// changes nothing, either way round, and an "online" never moves the last sighting back
// (hub/ingest/presence.ts recordStreamedPresence, StoreTx.advancePresence).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SqliteStore } from '../../hub/store/sqlite-store.js';
import { recordStreamedPresence } from '../../hub/ingest/presence.js';
import { device } from '../store/store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'lw-presence-'));
const store = new SqliteStore(join(dir, 'lonewatch.db'));
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const state = async () => {
  const d = await store.read((tx) => tx.getDevice('fob-1'));
  return { online: d?.online, lastSeenAt: d?.lastSeenAt };
};
const changes = async () => (await store.readChanges(0, 100)).filter((c) => c.topic === 'device').map((c) => (c.detail as { change: string }).change);

it('keeps the newest presence whatever order they are handled in', async () => {
  await store.transaction((tx) => tx.insertDevice(device('fob-1')));
  const put = (online: boolean, at: number) => store.transaction((tx) => recordStreamedPresence(tx, 'fob-1', online, at));

  expect(await put(true, 2000)).toBe(true);
  expect(await state()).toEqual({ online: true, lastSeenAt: 2000 });
  // The old edge's "offline" of 1,000, handled after the new edge's "online" of 2,000: stale.
  expect(await put(false, 1000)).toBe(false);
  expect(await state()).toEqual({ online: true, lastSeenAt: 2000 });
  // An older "online" handled late (a redelivered batch) is stale too: the sighting and the feed stay.
  expect(await put(true, 1500)).toBe(false);
  expect(await state()).toEqual({ online: true, lastSeenAt: 2000 });
  // A newer "offline" is applied, and said on the change feed.
  expect(await put(false, 3000)).toBe(true);
  expect(await state()).toEqual({ online: false, lastSeenAt: 2000 });
  expect(await changes()).toEqual(['online', 'offline']);
  // An unknown device changes nothing.
  expect(await store.transaction((tx) => recordStreamedPresence(tx, 'ghost', true, 4000))).toBe(false);
});

// Issue 19: an "online" committed after a newer "offline" left the device online until its next
// connection (and the reverse). Each pair, handled in the wrong order, ends in the newer state.
it('an out-of-order pair ends in the newer state, either way round', async () => {
  await store.transaction(async (tx) => {
    await tx.insertDevice(device('fob-2'));
    await tx.insertDevice(device('fob-3'));
  });
  const put = (id: string, online: boolean, at: number) => store.transaction((tx) => recordStreamedPresence(tx, id, online, at));
  const online = async (id: string) => (await store.read((tx) => tx.getDevice(id)))?.online;

  // fob-2 connected at 10,000 and disconnected at 11,000; the "offline" is committed first.
  expect(await put('fob-2', false, 11_000)).toBe(true);
  expect(await put('fob-2', true, 10_000)).toBe(false);
  expect(await online('fob-2')).toBe(false);

  // fob-3 disconnected at 10,000 (old edge) and connected at 11,000 (new edge); the "online" first.
  expect(await put('fob-3', true, 11_000)).toBe(true);
  expect(await put('fob-3', false, 10_000)).toBe(false);
  expect(await online('fob-3')).toBe(true);
  // Its next connection's presence is newer, and applied.
  expect(await put('fob-3', false, 12_000)).toBe(true);
  expect(await online('fob-3')).toBe(false);
});
