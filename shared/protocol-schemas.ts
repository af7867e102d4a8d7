/**
 * zod schemas for every message of the protocol. The hub validates every payload it receives with
 * these (and the simulator and tests use them to check what they see); the firmware does not: zod does
 * not run on a fob. Types are inferred here so hub code is typed from what was actually validated.
 */
import { z } from 'zod';
import {
  BOARDS,
  COMMAND,
  EVENT,
  LIMITS,
  POSITION_SOURCE,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_MIN,
  isValidDeviceId,
} from './protocol-core.js';
import { ALARM_KINDS, ALARM_STATES } from './vocabulary.js';

const eventId = z
  .string()
  .min(3)
  .max(LIMITS.eventIdMaxLength)
  .regex(/^[0-9a-z]+-[0-9a-z]+$/, { error: 'must be <boot>-<seq> in base 36, e.g. "1-a"' });

const visitRef = z
  .string()
  .min(1)
  .max(LIMITS.visitRefMaxLength)
  .regex(/^[A-Za-z0-9_./-]+$/, { error: 'must be a reference code (letters, digits, _ . / -), not an address' });

export const deviceIdSchema = z
  .string()
  .refine(isValidDeviceId, {
    error: `must be 1-${LIMITS.deviceIdMaxLength} letters, digits, '-' or '_'`,
  });

/**
 * An event older than LIMITS.eventAgeMaxSeconds (7 days) is still accepted: the hub raises and
 * stores it marked stale, and acknowledges it so the fob stops retrying (issue 17, item 8). Ten
 * years is only a sanity bound on the number (a fob's uptime counter cannot reach it).
 */
export const EVENT_AGE_CAP_SECONDS = 10 * 365 * 86_400;
const age = z.int().min(0).max(EVENT_AGE_CAP_SECONDS);

export const heartbeatSchema = z.strictObject({
  n: z.int().min(0),
  b: z.int().min(0).max(100),
  m: z.union([z.literal(0), z.literal(1)]),
  u: z.int().min(0),
  q: z.int().min(0).max(10_000).optional(),
});

/** A number with at most 5 decimals (about 1 m of latitude): more is noise, and costs bytes on LTE-M. */
const degrees = (limit: number) =>
  z
    .number()
    .min(-limit)
    .max(limit)
    .refine((n) => Math.abs(n * 1e5 - Math.round(n * 1e5)) < 1e-6, { error: 'at most 5 decimals' });

/** A position fix (protocol 2, issue 20), on `lw/<id>/ps` or as `l` of an event. */
export const positionSchema = z.strictObject({
  la: degrees(90),
  lo: degrees(180),
  ac: z.int().min(0).max(LIMITS.positionAccuracyMaxMetres),
  fa: age,
  s: z.enum([POSITION_SOURCE.gnss, POSITION_SOURCE.phone, POSITION_SOURCE.cell]),
});

const base = { i: eventId, ag: age, l: positionSchema.optional() };

export const sosEventSchema = z.strictObject({ ...base, k: z.literal(EVENT.sos) });
export const covertEventSchema = z.strictObject({ ...base, k: z.literal(EVENT.covert) });
export const manDownEventSchema = z.strictObject({ ...base, k: z.literal(EVENT.manDown) });
export const cancelEventSchema = z.strictObject({ ...base, k: z.literal(EVENT.cancel), r: eventId.optional() });
export const checkInEventSchema = z.strictObject({
  ...base,
  k: z.literal(EVENT.checkIn),
  p: z.union([z.literal(0), z.literal(1)]).optional(),
});
export const visitStartEventSchema = z.strictObject({ ...base, k: z.literal(EVENT.visitStart), v: visitRef.optional() });
export const visitEndEventSchema = z.strictObject({ ...base, k: z.literal(EVENT.visitEnd), v: visitRef.optional() });
export const extendEventSchema = z.strictObject({
  ...base,
  k: z.literal(EVENT.extend),
  m: z.int().min(1).max(LIMITS.extendMaxMinutes),
});
export const endOfShiftEventSchema = z.strictObject({ ...base, k: z.literal(EVENT.endOfShift) });
export const helloEventSchema = z.strictObject({
  ...base,
  k: z.literal(EVENT.hello),
  fw: z.string().min(1).max(16),
  bd: z.enum(BOARDS),
  pv: z.int().min(PROTOCOL_VERSION_MIN).max(PROTOCOL_VERSION),
  bc: z.int().min(0),
  /** Wiring fault: the pins that did not resolve at boot (issue 14), e.g. "btn=BTN not a pin". */
  wf: z.string().min(1).max(LIMITS.wiringFaultMax).optional(),
});

export const fobEventSchema = z.discriminatedUnion('k', [
  sosEventSchema,
  covertEventSchema,
  manDownEventSchema,
  cancelEventSchema,
  checkInEventSchema,
  visitStartEventSchema,
  visitEndEventSchema,
  extendEventSchema,
  endOfShiftEventSchema,
  helloEventSchema,
]);

export const commandSchema = z.discriminatedUnion('k', [
  z.strictObject({ k: z.literal(COMMAND.ack), i: eventId }),
  z.strictObject({ k: z.literal(COMMAND.helpComing) }),
  z.strictObject({ k: z.literal(COMMAND.stopAlarm) }),
  z.strictObject({ k: z.literal(COMMAND.prompt), d: z.int().min(10).max(3600) }),
  z.strictObject({ k: z.literal(COMMAND.alarmClosed) }),
  // gp (protocol 2, issue 20): seconds between GNSS fixes during a visit, 0 = off (RAK5010; a Puck.js ignores it).
  z.strictObject({ k: z.literal(COMMAND.config), hb: z.int().min(10).max(3600), gp: z.union([z.literal(0), z.int().min(60).max(3600)]).optional() }),
]);

export const statusSchema = z.enum(['0', '1']);

// Alarm kinds and states are the vocabulary's (shared/vocabulary.ts); re-exported for the schemas' users.
export { ALARM_KINDS, ALARM_STATES, type AlarmKind, type AlarmState } from './vocabulary.js';

/** `lw/alerts/<alarmId>`: what the hub tells downstream systems about an alarm, at every notification. */
export const alertSchema = z.strictObject({
  v: z.int().min(PROTOCOL_VERSION_MIN).max(PROTOCOL_VERSION),
  alarmId: z.string().min(1).max(64),
  kind: z.enum(ALARM_KINDS),
  state: z.enum(ALARM_STATES),
  priority: z.int().min(1).max(5),
  deviceId: deviceIdSchema.nullable(),
  workerId: z.string().max(64).nullable(),
  workerName: z.string().max(128).nullable(),
  visitRef: visitRef.nullable(),
  level: z.int().min(0),
  targets: z.array(z.string().max(128)).max(64),
  raisedAt: z.iso.datetime(),
  at: z.iso.datetime(),
  drill: z.boolean(),
  summary: z.string().max(512),
  /** How the officer closed it (genuine, false_alarm, ...); absent or null while open or when the hub closed it. */
  outcome: z.string().max(32).nullable().optional(),
  /**
   * Protocol 2 (issue 20): the worker's latest known position while the alarm is open (the fix it
   * came with or a later one, else the last before it); absent or null when there is none or once it
   * is closed (R22: the position goes out only while someone needs it).
   */
  position: z
    .strictObject({
      lat: z.number().min(-90).max(90),
      lon: z.number().min(-180).max(180),
      accuracyM: z.int().min(0).max(LIMITS.positionAccuracyMaxMetres),
      fixAt: z.iso.datetime(),
      source: z.enum(['gnss', 'phone', 'cell']),
    })
    .nullable()
    .optional(),
});

export type HeartbeatMessage = z.infer<typeof heartbeatSchema>;
export type PositionMessage = z.infer<typeof positionSchema>;
export type FobEventMessage = z.infer<typeof fobEventSchema>;
export type CommandMessage = z.infer<typeof commandSchema>;
export type AlertMessage = z.infer<typeof alertSchema>;

/** A validation failure that says which field is wrong and why, in words a person can act on. */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

/** Names the first failing field, e.g. `field "b": Too big: expected number to be <=100`. */
export function describeZodError(error: z.ZodError): ProtocolError {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(message)';
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : '';
  return new ProtocolError(`field "${field}": ${issue ? issue.message : 'invalid'}${more}`, field);
}

/** Parses a raw payload: size limit first, then JSON, then the schema. Never throws. */
export function parsePayload<T>(schema: z.ZodType<T>, payload: Buffer | string, maxBytes: number): Parsed<T> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > maxBytes) {
    return { ok: false, error: new ProtocolError(`payload is ${size} bytes, over the ${maxBytes}-byte limit`, '(payload)') };
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return { ok: false, error: new ProtocolError('payload is not valid JSON', '(payload)') };
  }
  const result = schema.safeParse(json);
  if (!result.success) return { ok: false, error: describeZodError(result.error) };
  return { ok: true, value: result.data };
}

export function parseHeartbeat(payload: Buffer | string): Parsed<HeartbeatMessage> {
  return parsePayload(heartbeatSchema, payload, LIMITS.fobPayloadMaxBytes);
}

export function parsePosition(payload: Buffer | string): Parsed<PositionMessage> {
  return parsePayload(positionSchema, payload, LIMITS.fobPayloadMaxBytes);
}

export function parseFobEvent(payload: Buffer | string): Parsed<FobEventMessage> {
  return parsePayload(fobEventSchema, payload, LIMITS.fobPayloadMaxBytes);
}

export function parseCommand(payload: Buffer | string): Parsed<CommandMessage> {
  return parsePayload(commandSchema, payload, LIMITS.commandPayloadMaxBytes);
}
