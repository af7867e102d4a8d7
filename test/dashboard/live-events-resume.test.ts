// The dashboard's live stream reads the change feed (issue 18): each frame's id is the change's seq,
// and a browser whose stream dropped reconnects with Last-Event-ID and is sent what it missed, in
// order. The client is Chromium's own EventSource (its reconnection and Last-Event-ID are the
// browser's, WHATWG HTML §9.2), against a real hub; the reconnection is held at the browser's network
// layer until the changes are made, so they can only arrive by replay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, Route } from 'playwright-core';
import { startTestHub, type TestHub } from '../helpers/hub-harness.js';
import { userClient, type ApiClient } from './api-client.js';
import { launchChromium, signInPage } from './browser.js';

interface Seen {
  id: string;
  event: string;
  data: { alarmId?: string | null; type?: string };
}

let t: TestHub;
let browser: Browser;
let page: Page;
let officer: ApiClient;
/** The Last-Event-ID of each GET /api/events, as the hub received it. */
const lastEventIds: (string | undefined)[] = [];

beforeAll(async () => {
  t = await startTestHub({
    registerHttp: (http) => {
      http.addHook('onRequest', async (req) => {
        if (req.url === '/api/events') lastEventIds.push(req.headers['last-event-id'] as string | undefined);
      });
    },
  });
  officer = await userClient(t, 'dana', 'duty_officer');
  browser = await launchChromium();
  page = await signInPage(browser, t.httpUrl, 'dana');
  // A page of the hub's origin without the dashboard's own stream: only ours is open.
  await page.goto(`${t.httpUrl}/healthz`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

const seen = (): Promise<Seen[]> => page.evaluate(() => (window as unknown as { seen: Seen[] }).seen);

async function raise(): Promise<string> {
  await t.addWorker('sam');
  const alarm = await t.hub.runtime.run((tx, unit) => t.hub.runtime.raiseAlarm(tx, unit, { kind: 'sos', workerId: 'sam', deviceId: null, sourceEventId: null, reason: 'test SOS' }));
  await t.settle();
  return alarm.id;
}

describe('GET /api/events on the change feed', () => {
  it('a dropped stream reconnects with Last-Event-ID and gets the two changes it missed, in order', async () => {
    const alarmId = await raise();
    lastEventIds.length = 0;
    let release!: () => void;
    let held: Promise<void> | null = null;
    let reconnecting!: () => void;
    const reconnected = new Promise<void>((r) => (reconnecting = r));
    await page.route('**/api/events', async (route: Route) => {
      if (held) {
        reconnecting();
        await held;
      }
      await route.continue();
    });
    await page.evaluate(() => {
      const w = window as unknown as { seen: Seen[]; es: EventSource };
      w.seen = [];
      w.es = new EventSource('/api/events');
      for (const name of ['hello', 'alarm']) {
        w.es.addEventListener(name, (ev) => {
          const m = ev as MessageEvent<string>;
          w.seen.push({ id: m.lastEventId, event: name, data: JSON.parse(m.data) as Seen['data'] });
        });
      }
    });
    await page.waitForFunction(() => (window as unknown as { seen: Seen[] }).seen.some((s) => s.event === 'hello'));
    // A change while connected arrives live, with its seq as the id.
    expect((await officer.post(`/api/alarms/${alarmId}/notes`, { text: 'first, live' })).status).toBe(200);
    await page.waitForFunction(() => (window as unknown as { seen: Seen[] }).seen.some((s) => s.event === 'alarm'));
    const before = await seen();
    const lastId = before[before.length - 1]!.id;
    expect(before.map((s) => [s.event, s.data.type])).toEqual([
      ['hello', undefined],
      ['alarm', 'note'],
    ]);
    expect(Number(lastId)).toBe(await t.hub.store.lastChangeSeq());

    // Drop the connection from the hub's side; the browser's reconnection waits at the gate.
    held = new Promise<void>((r) => (release = r));
    t.hub.http.server.closeAllConnections();
    await reconnected;
    expect((await officer.post(`/api/alarms/${alarmId}/acknowledge`)).status).toBe(200);
    expect((await officer.post(`/api/alarms/${alarmId}/notes`, { text: 'second, while away' })).status).toBe(200);
    await t.settle();
    const missed = (await t.hub.store.readChanges(Number(lastId), 100)).map((c) => String(c.seq));
    expect(missed.length).toBeGreaterThanOrEqual(2);
    release();

    await page.waitForFunction((n) => (window as unknown as { seen: Seen[] }).seen.filter((s) => s.event === 'alarm').length >= n, 1 + missed.length);
    const after = (await seen()).slice(before.length);
    // The browser named the last id it had seen, and was sent every change after it, once, in order.
    expect(lastEventIds).toEqual([undefined, lastId]);
    const replayed = after.filter((s) => s.event === 'alarm');
    expect(replayed.map((s) => s.id)).toEqual(missed);
    expect(replayed.every((s) => s.data.alarmId === alarmId)).toBe(true);
    const types = replayed.map((s) => s.data.type);
    expect(types.indexOf('changed')).toBeGreaterThanOrEqual(0);
    expect(types.lastIndexOf('note')).toBe(types.length - 1);
    expect(types.indexOf('changed')).toBeLessThan(types.lastIndexOf('note'));
    await page.evaluate(() => (window as unknown as { es: EventSource }).es.close());
    await page.unroute('**/api/events');
  }, 120_000);

  it('a stream asking for changes the feed no longer keeps is told to reload', async () => {
    const last = await t.hub.store.lastChangeSeq();
    await t.hub.store.pruneChanges(t.clock.now() + 1, 1_000_000);
    const ctl = new AbortController();
    const res = await fetch(`${t.httpUrl}/api/events`, { headers: { cookie: officer.cookie!, 'last-event-id': '1' }, signal: ctl.signal });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('"type":"reload"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ctl.abort();
    expect(text).toContain(`id: 1\nevent: hello`);
    expect(text).toContain(`id: ${last}\nevent: alarm\ndata: {"alarmId":null,"type":"reload"}`);
  });
});
