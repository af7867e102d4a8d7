/**
 * What an edge puts on the stream for each publish a fob makes, and how a worker reads it back: the
 * fob's payload as it came (bytes, unchanged), with the device id, the topic leaf, the time the edge
 * received it and the edge's id in NATS headers. Pure: no connection, no clock.
 *
 * Subjects are `<prefix>.p<partition>.<deviceId>.<leaf>` for events and positions (the partition:
 * hub/cluster/partition.ts, which keeps a device's messages in order across workers) and
 * `<prefix>.bulk.<deviceId>.<leaf>` for heartbeats, status and presence (hub/cluster/lanes.ts: an
 * SOS never waits behind them; an edge batches those into envelopes, hub/cluster/bulk-envelope.ts).
 * Device ids are letters, digits, `_` and `-`
 * (shared/protocol-core.ts isValidDeviceId), so they are always one NATS subject token.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { isValidDeviceId } from '../../shared/protocol-core.js';
import { laneSubject, PRESENCE_LEAF } from './lanes.js';

export { PRESENCE_LEAF };

export const HEADER = {
  device: 'Lw-Device',
  leaf: 'Lw-Leaf',
  receivedAt: 'Lw-Received-At',
  edge: 'Lw-Edge',
} as const;

// PRESENCE_LEAF (hub/cluster/lanes.ts) is a leaf only an edge publishes (never a fob: a fob's leaves
// are the protocol's, shared/protocol-core.ts TOPIC): "1" when the fob's connection to that edge was
// accepted, "0" when it ended.

export interface InboundMessage {
  deviceId: string;
  leaf: string;
  payload: Uint8Array;
  /** Epoch ms at which the edge received the publish (the alarm's time, however long it waited in the stream). */
  receivedAt: number;
  edgeId: string;
}

/** Refused input from the stream: changes nothing; the worker logs it and acks it (a retry cannot make it valid). */
export class InboundFormatError extends Error {
  override name = 'InboundFormatError';
}

/** Where an edge publishes a fob's message: its lane's subject (hub/cluster/lanes.ts). */
export function inboundSubject(prefix: string, partitions: number, deviceId: string, leaf: string): string {
  return laneSubject(prefix, partitions, deviceId, leaf);
}

export function commandSubject(prefix: string, deviceId: string): string {
  return `${prefix}.${deviceId}`;
}

/** The device id of a command subject `<prefix>.<deviceId>`, or null when it is not one. */
export function deviceOfCommandSubject(prefix: string, subject: string): string | null {
  if (!subject.startsWith(prefix + '.')) return null;
  const id = subject.slice(prefix.length + 1);
  return isValidDeviceId(id) ? id : null;
}

export function encodeInbound(m: InboundMessage): { headers: MsgHdrs; data: Uint8Array } {
  const h = natsHeaders();
  h.set(HEADER.device, m.deviceId);
  h.set(HEADER.leaf, m.leaf);
  h.set(HEADER.receivedAt, String(m.receivedAt));
  h.set(HEADER.edge, m.edgeId);
  return { headers: h, data: m.payload };
}

export function decodeInbound(h: MsgHdrs | undefined, data: Uint8Array): InboundMessage {
  if (!h) throw new InboundFormatError('message has no Lw- headers: not published by a Lonewatch edge');
  const deviceId = h.get(HEADER.device);
  const leaf = h.get(HEADER.leaf);
  const receivedAt = Number(h.get(HEADER.receivedAt));
  const edgeId = h.get(HEADER.edge);
  if (!isValidDeviceId(deviceId)) throw new InboundFormatError(`header ${HEADER.device} is not a device id: ${JSON.stringify(deviceId).slice(0, 40)}`);
  if (!/^[A-Za-z_]{1,16}$/.test(leaf)) throw new InboundFormatError(`header ${HEADER.leaf} is not a topic leaf: ${JSON.stringify(leaf).slice(0, 40)}`);
  if (!Number.isSafeInteger(receivedAt) || receivedAt <= 0) throw new InboundFormatError(`header ${HEADER.receivedAt} is not a time in epoch ms: ${JSON.stringify(h.get(HEADER.receivedAt)).slice(0, 40)}`);
  return { deviceId, leaf, payload: data, receivedAt, edgeId };
}
