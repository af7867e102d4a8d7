/**
 * The SMS gateway's delivery callback: `POST /api/notifiers/sms/status` with
 * `Authorization: Bearer <notifiers.sms.gateway.callback_token>` and `{"messageId": "...", "status":
 * "delivered" | "failed" | <any other state>, "reason"?: "..."}`. Registered outside the `/api`
 * scope because the gateway is no dashboard user or API token: its own token authenticates it,
 * compared in constant time. Bad input gets a 400 naming the field and changes nothing.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { HubServices } from '../hub-services.js';
import { GatewaySmsNotifier } from '../notifiers/sms/gateway-sms-notifier.js';
import { SMS_CALLBACK_PATH } from '../notifiers/create-dispatcher.js';
import { resolveSecret } from '../notifiers/notifiers-config.js';

const body = z.strictObject({
  messageId: z.union([z.string().min(1).max(200), z.number().int()]).transform(String),
  status: z.string().min(1).max(40),
  reason: z.string().max(500).optional(),
});

/** Equal-length digests, so neither the length nor the content of the token leaks through timing. */
function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function registerSmsCallback(http: FastifyInstance, hub: HubServices, env: NodeJS.ProcessEnv = process.env): void {
  const gw = hub.config.notifiers.sms?.gateway;
  const notifier = hub.dispatcher?.notifierFor('sms');
  if (!gw || !(notifier instanceof GatewaySmsNotifier)) return;
  const expected = resolveSecret(gw.callback_token, 'notifiers.sms.gateway.callback_token', env);
  http.post(SMS_CALLBACK_PATH, { schema: { hide: true } }, async (req, reply) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m || !sameToken(m[1], expected)) return reply.code(401).send({ error: 'the callback needs "Authorization: Bearer <notifiers.sms.gateway.callback_token>"' });
    const parsed = body.safeParse(req.body);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      return reply.code(400).send({ error: `${first.path.join('.') || 'body'}: ${first.message}`, field: first.path.join('.') || 'body' });
    }
    const { messageId, status, reason } = parsed.data;
    const result = await notifier.report(messageId, status, reason ?? null);
    if (result === 'unknown') return reply.code(404).send({ error: `no SMS with id ${messageId} is waiting for a delivery report here` });
    return reply.code(200).send({ ok: true, recorded: result === 'recorded' });
  });
}
