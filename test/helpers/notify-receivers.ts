/**
 * Real receivers for the notifier tests: an SMTP server (smtp-server) that keeps every message, and an
 * HTTP webhook receiver that verifies the HMAC signature, the timestamp and the idempotency key the
 * way docs/notifications.md tells integrators to.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  subject: string;
  /** The text body, quoted-printable decoded. */
  text: string;
  headers: Record<string, string>;
}

function decodeQuotedPrintable(s: string): string {
  return Buffer.from(s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

export class TestSmtpServer {
  readonly mails: ReceivedMail[] = [];
  /** Reply with this SMTP error to the next messages (e.g. 451 to make the hub retry). */
  readonly failNext: { code: number; message: string }[] = [];
  port = 0;
  private constructor(private readonly server: SMTPServer) {}

  static async start(auth: { user: string; pass: string } | null = null): Promise<TestSmtpServer> {
    // eslint-disable-next-line prefer-const
    let me: TestSmtpServer;
    const server = new SMTPServer({
      authOptional: auth === null,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth(a, _session, cb) {
        if (auth && a.username === auth.user && a.password === auth.pass) cb(null, { user: a.username });
        else cb(new Error('Invalid username or password'));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const fail = me.failNext.shift();
          if (fail) {
            const err = new Error(fail.message) as Error & { responseCode: number };
            err.responseCode = fail.code;
            return cb(err);
          }
          const raw = Buffer.concat(chunks).toString('utf8');
          const [head, ...bodyParts] = raw.split(/\r?\n\r?\n/);
          const headers: Record<string, string> = {};
          for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
            const i = line.indexOf(':');
            if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
          }
          const body = bodyParts.join('\n\n');
          const text = /quoted-printable/i.test(headers['content-transfer-encoding'] ?? '') ? decodeQuotedPrintable(body) : body;
          me.mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            subject: headers.subject ?? '',
            text: text.replace(/\r\n/g, '\n'),
            headers,
          });
          cb();
        });
      },
    });
    me = new TestSmtpServer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    me.port = (server.server.address() as { port: number }).port;
    return me;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface ReceivedWebhook {
  headers: IncomingMessage['headers'];
  body: string;
  json: Record<string, unknown>;
  /** Signature and timestamp checked as docs/notifications.md describes. */
  verified: boolean;
  why: string | null;
  duplicate: boolean;
  status: number;
}

/** The verification an integrator writes (docs/notifications.md). */
export function verifyWebhook(secret: string, headers: IncomingMessage['headers'], body: string, nowMs: number, toleranceS = 300): string | null {
  const ts = Number(headers['lonewatch-timestamp']);
  const sig = String(headers['lonewatch-signature'] ?? '');
  if (!Number.isInteger(ts)) return 'no timestamp';
  if (Math.abs(nowMs / 1000 - ts) > toleranceS) return 'timestamp too old or in the future';
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`);
  const given = Buffer.from(sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad signature';
  if (!headers['idempotency-key']) return 'no idempotency key';
  return null;
}

export class TestWebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** HTTP statuses to answer with, in order; 200 when empty. */
  readonly statuses: number[] = [];
  private readonly seen = new Set<string>();
  port = 0;
  private constructor(
    private readonly server: Server,
    private readonly secret: string,
    private readonly now: () => number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/lonewatch`;
  }

  get accepted(): ReceivedWebhook[] {
    return this.received.filter((r) => r.verified && r.status < 300 && !r.duplicate);
  }

  /** `port`: listen where a receiver that was closed listened (a receiver back up after an outage). */
  static async start(secret: string, now: () => number, port = 0): Promise<TestWebhookReceiver> {
    const server = createServer();
    const me = new TestWebhookReceiver(server, secret, now);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const why = verifyWebhook(me.secret, req.headers, body, me.now());
        const key = String(req.headers['idempotency-key'] ?? '');
        const status = why ? 401 : (me.statuses.shift() ?? 200);
        const duplicate = status < 300 && me.seen.has(key);
        if (status < 300) me.seen.add(key);
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          // recorded as is
        }
        me.received.push({ headers: req.headers, body, json, verified: why === null, why, duplicate, status });
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: status < 300 }));
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    me.port = (server.address() as { port: number }).port;
    return me;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
