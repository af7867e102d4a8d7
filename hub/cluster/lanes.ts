/**
 * The two lanes of the cluster's stream (issue 19: at 10,000 fobs no SOS was acknowledged, because
 * every message a fob sent went through the same one-at-a-time partition consumers, and an SOS
 * waited behind thousands of connect-time presence messages and heartbeats; docs/cluster.md
 * "Alarms ahead of bulk traffic"). Pure: no connection.
 *
 * - **Ordered lane**, `<prefix>.p<partition>.<deviceId>.<leaf>`: events (`ev`: SOS, covert, cancel,
 *   check-in, visits...) and positions (`ps`). A device's events must be handled in the order the
 *   stream stored them (a cancel after its SOS: hub/cluster/partition.ts), and a fix sent after an
 *   SOS must find the alarm committed, or it is stored without it and the ARC's location follow-up
 *   (issue 20) misses it. So positions stay behind the events they follow.
 * - **Bulk lane**, `<prefix>.bulk.<deviceId>.<leaf>` (one record) or `<prefix>.bulk.<edge>` (an
 *   edge's batch envelope of many, hub/cluster/bulk-envelope.ts: one token fewer, so never a
 *   device's subject): heartbeats (`hb`), the fob's status (`st`) and
 *   the edge's presence (`_presence`). No rule reads them in order with an event: a heartbeat or a
 *   presence updates the device's liveness, battery and online mark, dated by the edge's received
 *   time, whatever was handled before it; raising, cancelling or escalating an alarm reads none of
 *   the device's liveness (hub/ingest/fob-ingest.ts apply), and `st` is only validated. The one
 *   thing an alarm takes from a heartbeat is the worker's last sighting (a worn fob's heartbeat, at
 *   most one a minute: fob-ingest.ts SIGHTING_EVERY_MS), which raiseAlarm records "as it stood"
 *   (hub/rules/rules-runtime.ts). A heartbeat committed after the SOS it preceded leaves that record
 *   one sighting older, so the 999 advice (policeAfterSightingMin after the last sighting) comes
 *   earlier, never later; the single hub has the same window, since it writes heartbeats in batches
 *   every `[mqtt] heartbeat_flush_ms` and an alarm never waits for them. Sightings only move forward
 *   (checkin-engine.ts), so an older heartbeat committed late does not move one back. One shared
 *   consumer takes the whole lane in batches (hub/cluster/worker.ts), so it never holds an alarm up.
 *
 * The token after the prefix is `p<n>` on the ordered lane and `bulk` on the other, so the partition
 * consumers' filters (`<prefix>.p<n>.>`) never take a bulk message, and the bulk consumer's filter
 * (`<prefix>.bulk.>`) never takes an event.
 */
import { TOPIC } from '../../shared/protocol-core.js';
import { partitionOf, partitionToken } from './partition.js';

/** The edge's own leaf for a fob's connection up ("1") or down ("0"); never a fob's (see inbound.ts). */
export const PRESENCE_LEAF = '_presence';

/** The subject token of the bulk lane. */
export const BULK_TOKEN = 'bulk';

/** Leaves on the bulk lane (above: why their order relative to an event does not matter). */
export const BULK_LEAVES: ReadonlySet<string> = new Set([TOPIC.heartbeat, TOPIC.status, PRESENCE_LEAF]);

export type Lane = 'ordered' | 'bulk';

export function laneOf(leaf: string): Lane {
  return BULK_LEAVES.has(leaf) ? 'bulk' : 'ordered';
}

/** Where an edge publishes what a fob sent (or its presence). */
export function laneSubject(prefix: string, partitions: number, deviceId: string, leaf: string): string {
  return laneOf(leaf) === 'bulk' ? `${prefix}.${BULK_TOKEN}.${deviceId}.${leaf}` : `${prefix}.${partitionToken(partitionOf(deviceId, partitions))}.${deviceId}.${leaf}`;
}

/** What the bulk consumer takes from the stream: `<prefix>.bulk.>`. */
export function bulkFilter(prefix: string): string {
  return `${prefix}.${BULK_TOKEN}.>`;
}

/** The durable consumer of the bulk lane: `<consumer>-bulk`. */
export function bulkConsumer(consumer: string): string {
  return `${consumer}-${BULK_TOKEN}`;
}

/**
 * The bulk consumer's max_ack_pending: room for this many batches delivered and not yet acked,
 * cluster-wide (each worker holds at most one at a time), so two workers can each commit one while
 * a third pulls. It bounds what a dead worker leaves to redeliver, not the order (the lane has none).
 */
export const BULK_BATCHES_IN_FLIGHT = 4;

export function bulkMaxAckPending(batch: number): number {
  return batch * BULK_BATCHES_IN_FLIGHT;
}
