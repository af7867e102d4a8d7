/**
 * The scenario file (TOML): workers and their fobs, their visits, a script of what happens, and the
 * outcomes expected at the hub. Times are offsets from the scenario's start ("+5m").
 */
import { z } from 'zod';
import { parseDuration } from './durations.js';
import { ALARM_KINDS, ALARM_STATES } from '../../shared/vocabulary.js';

const duration = z.string().refine((s) => parseDuration(s) !== null, { error: 'must be a duration like "90s", "5m", "3h" or "+1h30m"' });
const id = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, { error: 'must be 1-32 letters, digits, - or _' });

export const GESTURES = ['loud_sos', 'covert_sos', 'checkin', 'cancel', 'visit_start', 'visit_end', 'extend', 'end_of_shift'] as const;
export type Gesture = (typeof GESTURES)[number];

export const scenarioSchema = z.strictObject({
  name: z.string().min(1),
  /** Requirements this scenario exercises (R1..R22). */
  requirements: z.array(z.string().regex(/^R\d{1,2}$/)).default([]),
  description: z.string().default(''),
  /** How long the scenario runs (scenario time, warped). */
  duration: duration,
  /** Hub rule settings for this scenario ([rules] keys of lonewatch.toml). */
  rules: z.record(z.string(), z.union([z.number(), z.string()])).default({}),
  workers: z
    .array(
      z.strictObject({
        id,
        name: z.string().min(1),
        fob: z.enum(['puck', 'rak5010']),
        device: id,
        battery: z.int().min(0).max(100).default(90),
        training_date: z.iso.date().default('2026-01-01'),
        /**
         * Issue 20: where the worker walks. Each point is where they are from `at` on (the fob's GNSS,
         * or for a Puck.js the phone relaying it, holds a fix there); `no_fix = true` is the fix lost
         * (indoors): the last one is kept and grows old. A RAK5010 running the firmware gets the walk
         * as its simulated BG96's GNSS track (gnssTrackText), so its own driver reads the fixes.
         */
        track: z
          .array(
            z.union([
              z.strictObject({
                at: duration,
                lat: z.number().min(-90).max(90),
                lon: z.number().min(-180).max(180),
                accuracy_m: z.int().min(0).max(100_000).default(10),
                source: z.enum(['gnss', 'phone', 'cell']).default('gnss'),
              }),
              z.strictObject({ at: duration, no_fix: z.literal(true) }),
            ]),
          )
          .default([]),
      }),
    )
    .min(1),
  visits: z
    .array(
      z.strictObject({
        worker: id,
        ref: z.string().regex(/^[A-Za-z0-9_./-]{1,32}$/),
        start: duration,
        end: duration,
        category: z.union([z.literal(1), z.literal(2)]).default(1),
        rag: z.enum(['red', 'amber', 'green']).default('green'),
        checkin_interval_min: z.int().min(5).max(480).optional(),
        second_worker: id.optional(),
      }),
    )
    .default([]),
  script: z
    .array(
      z.discriminatedUnion('action', [
        z.strictObject({ at: duration, worker: id, action: z.literal('press'), gesture: z.enum(GESTURES), label: z.string().optional() }),
        z.strictObject({ at: duration, worker: id, action: z.literal('battery'), percent: z.int().min(0).max(100), label: z.string().optional() }),
        z.strictObject({ at: duration, worker: id, action: z.literal('link_down'), for: duration.optional(), label: z.string().optional() }),
        z.strictObject({ at: duration, worker: id, action: z.literal('link_up'), label: z.string().optional() }),
        z.strictObject({ at: duration, worker: id, action: z.literal('silent'), label: z.string().optional() }),
        z.strictObject({ at: duration, worker: id, action: z.literal('reboot'), label: z.string().optional() }),
        z.strictObject({ at: duration, action: z.literal('officer'), do: z.enum(['acknowledge', 'resolve', 'cancel', 'handover']), alarm: z.string().optional(), label: z.string().optional() }),
      ]),
    )
    .default([]),
  expect: z
    .array(
      z.strictObject({
        /** What is expected: an alarm of this kind (for this worker), raised within `within` of `after`. */
        alarm: z.enum(ALARM_KINDS).optional(),
        worker: id.optional(),
        after: duration.default('0s'),
        within: duration.optional(),
        /** The alarm's ladder reached this level by `by`. */
        level: z.int().min(0).optional(),
        by: duration.optional(),
        /** The alarm ends in this state. */
        state: z.enum(ALARM_STATES).exclude(['raised']).optional(),
        /** No alarm (of `alarm` kind, for `worker`, when given) is raised at all. */
        nothing_raised: z.boolean().optional(),
        /** The worker's fob never made a sound (covert alarms). */
        fob_silent: z.boolean().optional(),
        /** Every event the worker's fob raised reached the hub, exactly once. */
        delivered_once: z.boolean().optional(),
        /** 999 was advised (R13, 003). */
        police_advised: z.boolean().optional(),
        /**
         * Issue 20: the last police hand-over made for this worker's alarm (an `officer` step with
         * `do = "handover"`) had a position no older than this...
         */
        police_position_max_age: duration.optional(),
        /** ...and it was this one, [lat, lon] (the last known before the fix was lost, say). */
        police_position: z.tuple([z.number().min(-90).max(90), z.number().min(-180).max(180)]).optional(),
      }),
    )
    .min(1),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type ScriptStep = Scenario['script'][number];
export type Expectation = Scenario['expect'][number];
