/**
 * Server-sent events for live dashboards, read from the store's change feed (issue 18,
 * hub/store/change-feed-reader.ts): every change any process commits (an alarm stepped, a note, a
 * delivery, a forwarding path's state) is pushed to each open /api/events stream. The browser then
 * fetches what it shows, with its own rights, so a frame carries ids and a type, no private detail.
 *
 * Each frame's `id:` is the change's seq. A browser that reconnects sends the last one it saw as
 * `Last-Event-ID` (WHATWG HTML §9.2 server-sent events, "last event ID string"), and the stream starts
 * by sending, in order, every change it missed. One that was away longer than the feed keeps
 * (`[feed]` retention) gets an `alarm` event with type `reload` instead: refetch everything.
 * A fix for an open alarm (issue 20) is the `position` topic, sent as a `position` event with
 * `{ alarmId, deviceId }` only: never coordinates (R22), which the browser fetches with its rights.
 */
import type { FastifyReply } from 'fastify';
import type { HubServices } from '../hub-services.js';
import type { ChangeRecord } from '../store/store.js';
import type { FeedSubscription } from '../store/change-feed-reader.js';

interface Stream {
  reply: FastifyReply;
  keepAlive: ReturnType<typeof setInterval>;
  feed: FeedSubscription;
}

/** A change as the dashboard's `alarm` event (what app.js listens to), or under its own topic name. */
export function frameOf(c: ChangeRecord): string {
  const event = c.topic === 'alarm' || c.topic === 'path' ? 'alarm' : c.topic;
  const data = c.topic === 'alarm' ? { ...c.detail, alarmId: c.alarmId } : c.topic === 'path' ? { ...c.detail, alarmId: null, type: 'path' } : c.detail;
  return `id: ${c.seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The Last-Event-ID a reconnecting browser sends; undefined when absent or not one of our seqs. */
function lastEventId(reply: FastifyReply): number | undefined {
  const h = reply.request.headers['last-event-id'];
  const v = Array.isArray(h) ? h[0] : h;
  return v !== undefined && /^\d{1,15}$/.test(v.trim()) ? Number(v.trim()) : undefined;
}

export class LiveEvents {
  private readonly streams = new Set<Stream>();
  private closed = false;

  constructor(private readonly hub: Pick<HubServices, 'feed'>) {}

  get size(): number {
    return this.streams.size;
  }

  open(reply: FastifyReply): void {
    reply.hijack();
    const raw = reply.raw;
    const headers = {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    };
    // HEAD (fastify answers it with the GET route): node sends a HEAD response's headers only when it
    // ends, and ignores every write, so a stream opened for it never answered and held its connection
    // and a keep-alive timer until the hub stopped (found by the fuzz harness, issue 17). Answer the
    // headers and end: RFC 9110 §9.3.2, HEAD is GET without the content.
    if (reply.request.method === 'HEAD') {
      raw.writeHead(200, headers);
      raw.end();
      return;
    }
    raw.writeHead(200, { ...headers, connection: 'keep-alive' });
    if (this.closed) {
      raw.write(`retry: 2000\nevent: hello\ndata: {}\n\n`);
      // The hub is stopping and closeAll has run (this request was still being authenticated): a
      // stream kept now would never be ended, and the HTTP server would wait for it forever. End it;
      // the browser reconnects after `retry`, as with every stream closeAll ends.
      raw.end();
      raw.socket?.destroy();
      return;
    }
    // Subscribed before the hello is written, so no change can fall between the hello's id and the
    // first frame. The hello names where the stream starts: a browser that hears nothing else and
    // reconnects still resumes from here.
    const feed = this.hub.feed.subscribe((c) => raw.write(frameOf(c)), {
      ...(lastEventId(reply) !== undefined ? { after: lastEventId(reply)! } : {}),
      onGap: (resumeAt) => raw.write(`id: ${resumeAt}\nevent: alarm\ndata: ${JSON.stringify({ alarmId: null, type: 'reload' })}\n\n`),
    });
    raw.write(`retry: 2000\nid: ${feed.from}\nevent: hello\ndata: {}\n\n`);
    const stream: Stream = { reply, keepAlive: setInterval(() => raw.write(': keep-alive\n\n'), 25_000), feed };
    this.streams.add(stream);
    raw.on('close', () => {
      clearInterval(stream.keepAlive);
      feed.unsubscribe();
      this.streams.delete(stream);
      // A stream is never reused for another request: let its socket go with it.
      raw.socket?.destroy();
    });
  }

  /**
   * A live-only hint to every open stream, not on the change feed: the admin lists' `admin` event
   * (hub/http/admin-live.ts). Written without an `id:`, so a browser's Last-Event-ID (its place in the
   * feed) is left alone (WHATWG HTML §9.2: a frame with no id field keeps the last event ID); a hint
   * missed while disconnected costs nothing, because the page refetches its lists on reconnecting.
   */
  broadcast(event: 'admin', data: Record<string, unknown>): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const s of this.streams) s.reply.raw.write(frame);
  }

  closeAll(): void {
    this.closed = true;
    for (const s of this.streams) {
      clearInterval(s.keepAlive);
      s.feed.unsubscribe();
      s.reply.raw.end();
      s.reply.raw.socket?.destroy();
    }
    this.streams.clear();
  }
}
