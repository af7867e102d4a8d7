/**
 * Server-sent events for live dashboards: every change to an alarm (the runtime's 'alarm' events) is
 * pushed to each open /api/events stream, and a `position` {alarmId, deviceId} when a fix for an open
 * alarm arrives (issue 20; ingest emits it on the runtime). The browser then fetches what it shows,
 * with its own rights: the event carries no coordinates (R22).
 */
import type { FastifyReply } from 'fastify';
import type { HubServices } from '../hub-services.js';

interface Stream {
  reply: FastifyReply;
  keepAlive: ReturnType<typeof setInterval>;
}

export class LiveEvents {
  private readonly streams = new Set<Stream>();
  private seq = 0;
  private closed = false;

  constructor(hub: HubServices) {
    hub.runtime.on('alarm', (ev: { alarmId: string; type: string }) => this.broadcast('alarm', { alarmId: ev.alarmId, type: ev.type }));
    hub.runtime.on('position', (ev: { alarmId: string; deviceId: string }) => this.broadcast('position', { alarmId: ev.alarmId, deviceId: ev.deviceId }));
  }

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
    raw.write(`retry: 2000\nevent: hello\ndata: {}\n\n`);
    if (this.closed) {
      // The hub is stopping and closeAll has run (this request was still being authenticated): a
      // stream kept now would never be ended, and the HTTP server would wait for it forever. End it;
      // the browser reconnects after `retry`, as with every stream closeAll ends.
      raw.end();
      raw.socket?.destroy();
      return;
    }
    const stream: Stream = { reply, keepAlive: setInterval(() => raw.write(': keep-alive\n\n'), 25_000) };
    this.streams.add(stream);
    raw.on('close', () => {
      clearInterval(stream.keepAlive);
      this.streams.delete(stream);
      // A stream is never reused for another request: let its socket go with it.
      raw.socket?.destroy();
    });
  }

  broadcast(event: string, data: Record<string, unknown>): void {
    const id = ++this.seq;
    const frame = `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const s of this.streams) s.reply.raw.write(frame);
  }

  closeAll(): void {
    this.closed = true;
    for (const s of this.streams) {
      clearInterval(s.keepAlive);
      s.reply.raw.end();
      s.reply.raw.socket?.destroy();
    }
    this.streams.clear();
  }
}
