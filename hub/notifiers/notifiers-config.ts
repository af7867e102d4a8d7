/**
 * The `[notifiers]` section of lonewatch.toml: one table per channel (email, webhook, arc, sms), each with
 * its retry policy and fallbacks. Secrets (SMTP password, webhook secret, ARC key) may be written as
 * `env:NAME` or `file:/path`: they are resolved when the hub starts and never logged; the config
 * object keeps only the reference (`redactNotifiers` hides a literal one in any dump).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const NOTIFIER_CHANNELS = ['email', 'webhook', 'arc', 'sms'] as const;
export type NotifierChannel = (typeof NOTIFIER_CHANNELS)[number];

const secret = z.string().min(1).refine((s) => !s.startsWith('env:') || /^env:[A-Za-z_][A-Za-z0-9_]*$/.test(s), {
  error: 'env: must be followed by an environment variable name',
});

const retrySchema = z
  .strictObject({
    /** Time limit of one attempt. */
    timeout_s: z.number().positive().max(600).default(15),
    first_retry_s: z.number().positive().max(3600).default(5),
    factor: z.number().min(1).max(10).default(2),
    max_retry_s: z.number().positive().max(3600).default(120),
    /** No new attempt after this long: the channel gives up and falls through. */
    give_up_after_s: z.number().positive().max(24 * 3600).default(600),
    max_attempts: z.int().min(1).max(1000).default(10),
  })
  .prefault({});

const fallback = z.array(z.enum(NOTIFIER_CHANNELS)).default([]);

export const emailNotifierSchema = z.strictObject({
  host: z.string().min(1),
  port: z.int().min(1).max(65535).default(587),
  /** true: implicit TLS (usually port 465). */
  secure: z.boolean().default(false),
  /** Refuse to send unless the server offers STARTTLS. */
  require_tls: z.boolean().default(true),
  username: z.string().optional(),
  password: secret.optional(),
  from: z.string().min(3),
  retry: retrySchema,
  fallback,
});

export const webhookNotifierSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  secret,
  retry: retrySchema,
  fallback,
});

const hex = (min: number, max: number) => z.string().regex(new RegExp(`^[0-9A-Fa-f]{${min},${max}}$`), { error: `must be ${min}-${max} hex digits` });

export const arcNotifierSchema = z.strictObject({
  host: z.string().min(1),
  port: z.int().min(1).max(65535),
  /** The account number the ARC gave this hub. */
  account: hex(3, 16),
  /** Receiver number (R field), if the ARC asks for one. */
  receiver: hex(1, 6).optional(),
  /** Line prefix (L field); "0" when the ARC uses none. */
  line: hex(1, 6).default('0'),
  /** AES key as 32, 48 or 64 hex digits (AES-128/192/256), or env:/file: holding it. */
  encryption_key: secret.optional(),
  /** Contact ID group (partition) sent with every event. */
  group: z.int().min(0).max(99).default(1),
  /** Worker id to the user/zone number the ARC knows the worker by. */
  users: z.record(z.string(), z.int().min(0).max(999)).default({}),
  /** Retransmissions after NAKs, per attempt. */
  max_naks: z.int().min(1).max(10).default(3),
  /** NULL supervision message interval; 0 turns supervision off. */
  supervision_s: z.number().min(0).max(24 * 3600).default(90),
  /**
   * After an alarm's ARC notice gave up (and fell through), it is tried again this often while the
   * alarm is open, so the ARC gets the alarm when the path returns.
   */
  retry_while_open_s: z.number().min(5).max(3600).default(60),
  /** The ARC's phone number, put in the fall-through notices ("the ARC was NOT told: phone them on ..."). */
  phone: z.string().min(3).max(40).optional(),
  retry: retrySchema,
  fallback,
});

/** SMS through the hub's own serial GSM modem (hub/notifiers/sms/modem-sms-notifier.ts). */
const smsModemSchema = z.strictObject({
  /** The modem's AT command port, e.g. /dev/ttyUSB2 (a BG96's third USB interface). */
  port: z.string().min(1),
  baud_rate: z.int().min(1200).max(921600).default(115200),
  /** Time limit of each set-up command; AT+CMGS has the retry's `timeout_s`. */
  command_timeout_s: z.number().positive().max(120).default(5),
});

/** SMS through a generic HTTP gateway (hub/notifiers/sms/gateway-sms-notifier.ts). */
const smsGatewaySchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** Sent as `Authorization: Bearer <token>`. */
  token: secret,
  /** The gateway must send this as `Authorization: Bearer <callback_token>` on its delivery callbacks. */
  callback_token: secret,
});

export const smsNotifierSchema = z
  .strictObject({
    modem: smsModemSchema.optional(),
    gateway: smsGatewaySchema.optional(),
    // `timeout_s` bounds AT+CMGS too: the BG96 manual allows it up to 120 s, depending on the network.
    retry: retrySchema,
    fallback,
  })
  .refine((s) => (s.modem === undefined) !== (s.gateway === undefined), { error: 'set exactly one of [notifiers.sms.modem] or [notifiers.sms.gateway]' });

export const notifiersSchema = z
  .strictObject({
    email: emailNotifierSchema.optional(),
    webhook: webhookNotifierSchema.optional(),
    arc: arcNotifierSchema.optional(),
    sms: smsNotifierSchema.optional(),
    /**
     * Finished notices of alarms closed more than this many days ago are deleted (at start and daily);
     * DEFAULT_RETAIN_DAYS when absent. The alarm's escalation record keeps every delivery result.
     */
    retain_days: z.int().min(1).max(36500).optional(),
  })
  .default({});

export const DEFAULT_RETAIN_DAYS = 90;

export type NotifiersConfig = z.output<typeof notifiersSchema>;
export type RetryConfig = z.output<typeof retrySchema>;

/** Problems between notifier tables (a fallback to a channel that is not configured). */
export function crossCheckNotifiers(raw: unknown): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (typeof raw !== 'object' || raw === null) return problems;
  const n = raw as Record<string, unknown>;
  for (const ch of NOTIFIER_CHANNELS) {
    const fb = (n[ch] as { fallback?: unknown } | undefined)?.fallback;
    if (!Array.isArray(fb)) continue;
    fb.forEach((f, i) => {
      if (typeof f === 'string' && f === ch) problems.push({ path: `notifiers.${ch}.fallback.${i}`, message: 'a channel cannot fall back to itself' });
      else if (typeof f === 'string' && n[f] === undefined && (NOTIFIER_CHANNELS as readonly string[]).includes(f)) {
        problems.push({ path: `notifiers.${ch}.fallback.${i}`, message: `no [notifiers.${f}] to fall back to` });
      }
    });
  }
  return problems;
}

/** Resolves `env:NAME` / `file:/path` / a literal. Throws with the reference (never the value). */
export function resolveSecret(ref: string, where: string, env: NodeJS.ProcessEnv = process.env): string {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const v = env[name];
    if (!v) throw new Error(`${where}: the environment variable ${name} is not set`);
    return v;
  }
  if (ref.startsWith('file:')) {
    const path = ref.slice(5);
    try {
      const v = readFileSync(path, 'utf8').trim();
      if (!v) throw new Error('empty');
      return v;
    } catch (err) {
      throw new Error(`${where}: cannot read the secret file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return ref;
}

const SECRET_KEYS = new Set(['password', 'secret', 'encryption_key', 'token', 'callback_token']);

function redactTable(t: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...t };
  for (const k of Object.keys(copy)) {
    const v = copy[k];
    if (SECRET_KEYS.has(k) && typeof v === 'string' && !v.startsWith('env:') && !v.startsWith('file:')) copy[k] = '[redacted]';
    // [notifiers.sms.gateway] keeps its tokens one table down.
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) copy[k] = redactTable(v as Record<string, unknown>);
  }
  return copy;
}

/** A copy of the notifiers config safe to print: literal secrets replaced, env:/file: references kept. */
export function redactNotifiers(n: NotifiersConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [ch, cfg] of Object.entries(n)) {
    if (!cfg) continue;
    if (typeof cfg !== 'object') {
      out[ch] = cfg;
      continue;
    }
    out[ch] = redactTable(cfg as Record<string, unknown>);
  }
  return out;
}
