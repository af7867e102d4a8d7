/**
 * The bulk lane's batch envelope (issue 19, "cluster ingest at least Mosquitto's"): many fobs'
 * heartbeats, status and presence records as ONE JetStream message, so an edge pays one R3 publish
 * (its raft round and its ack) for a batch instead of one per heartbeat (hub/cluster/bulk-batcher.ts
 * says when a batch is cut). Pure: no connection, no clock.
 *
 * On the stream it is `<prefix>.bulk.<edge token>`: one token after `bulk`, where a single bulk
 * message has two (`<deviceId>.<leaf>`, hub/cluster/lanes.ts), so no device's subject can ever equal
 * it, and the bulk consumer's filter `<prefix>.bulk.>` takes both. Its headers name the format
 * (`Lw-Format: bulk-batch/1`) and the edge (`Lw-Edge`, once for all its records); its body is
 * binary, big-endian:
 *
 *   u32 record count
 *   per record: u8 device id length, device id (ASCII), u8 leaf length, leaf (ASCII),
 *               f64 receivedAt (epoch ms: a safe integer, exact in a double), u32 payload length,
 *               payload bytes (the fob's, unchanged)
 *
 * Only bulk-lane leaves may be in an envelope: an event must keep its partition's order
 * (hub/cluster/lanes.ts), so an envelope that carries one is refused whole, as is anything else
 * malformed (decodeBulkBatch), and a worker terminates it as it terminates a bad single message.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { isValidDeviceId } from '../../shared/protocol-core.js';
import { HEADER, InboundFormatError, type InboundMessage } from './inbound.js';
import { BULK_LEAVES, BULK_TOKEN } from './lanes.js';

/** The header that says a bulk message is an envelope, and which version of its format. */
export const FORMAT_HEADER = 'Lw-Format';
export const BULK_BATCH_FORMAT = 'bulk-batch/1';

/** Most records one envelope may hold; [cluster] edge_batch_records is checked against it. */
export const BULK_BATCH_MAX_RECORDS = 10_000;
/** A fob's payload is at most [mqtt] packet_max_bytes (≤ 1 MiB, config-schema.ts): no record is larger. */
const PAYLOAD_MAX_BYTES = 1_048_576;

/** One record of an envelope: what a single bulk message carries, without its edge id. */
export type BulkRecord = Omit<InboundMessage, 'edgeId'>;

/** The fixed bytes a record costs beyond its device id, leaf and payload. */
export const RECORD_OVERHEAD_BYTES = 1 + 1 + 8 + 4;

/** The encoded size of one record (the batcher's byte budget counts these). */
export function recordBytes(r: BulkRecord): number {
  return RECORD_OVERHEAD_BYTES + r.deviceId.length + r.leaf.length + r.payload.length;
}

/**
 * The envelope's subject token for an edge: its id with anything outside `[A-Za-z0-9_-]` made `_`
 * (a node_id may contain dots, config-schema.ts, and a dot would add a subject token). Only for
 * reading the stream by eye: the edge's id itself travels in the Lw-Edge header.
 */
export function edgeToken(edgeId: string): string {
  const t = edgeId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return t === '' ? '_' : t;
}

export function bulkBatchSubject(prefix: string, edgeId: string): string {
  return `${prefix}.${BULK_TOKEN}.${edgeToken(edgeId)}`;
}

/** True when a stream message is an envelope (by its format header), whatever its version. */
export function isBulkBatch(h: MsgHdrs | undefined): boolean {
  return !!h && h.has(FORMAT_HEADER);
}

export function encodeBulkBatch(edgeId: string, records: readonly BulkRecord[]): { headers: MsgHdrs; data: Uint8Array } {
  if (records.length === 0 || records.length > BULK_BATCH_MAX_RECORDS) throw new RangeError(`an envelope holds 1 to ${BULK_BATCH_MAX_RECORDS} records, not ${records.length}`);
  let size = 4;
  for (const r of records) size += recordBytes(r);
  const buf = Buffer.allocUnsafe(size);
  let at = buf.writeUInt32BE(records.length, 0);
  for (const r of records) {
    // The edge only ever batches what it authenticated and parsed; still, never write what decode refuses.
    if (!isValidDeviceId(r.deviceId) || !BULK_LEAVES.has(r.leaf) || !Number.isSafeInteger(r.receivedAt) || r.receivedAt <= 0) {
      throw new RangeError(`not a bulk-lane record: device ${JSON.stringify(r.deviceId).slice(0, 40)}, leaf ${JSON.stringify(r.leaf).slice(0, 20)}, receivedAt ${r.receivedAt}`);
    }
    at = buf.writeUInt8(r.deviceId.length, at);
    at += buf.write(r.deviceId, at, 'latin1');
    at = buf.writeUInt8(r.leaf.length, at);
    at += buf.write(r.leaf, at, 'latin1');
    at = buf.writeDoubleBE(r.receivedAt, at);
    at = buf.writeUInt32BE(r.payload.length, at);
    at += Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.length).copy(buf, at);
  }
  const h = natsHeaders();
  h.set(FORMAT_HEADER, BULK_BATCH_FORMAT);
  h.set(HEADER.edge, edgeId);
  return { headers: h, data: buf };
}

/**
 * Reads an envelope back into single bulk messages, in the order the edge batched them. Anything
 * wrong refuses the whole envelope (InboundFormatError naming the record and what is wrong): a
 * partial read could store half of a message that is not what an edge wrote.
 */
export function decodeBulkBatch(h: MsgHdrs | undefined, data: Uint8Array): InboundMessage[] {
  if (!h) throw new InboundFormatError('bulk envelope has no headers: not published by a Lonewatch edge');
  const format = h.get(FORMAT_HEADER);
  if (format !== BULK_BATCH_FORMAT) throw new InboundFormatError(`header ${FORMAT_HEADER} is ${JSON.stringify(format).slice(0, 40)}, not ${BULK_BATCH_FORMAT}: an envelope of a format this worker does not read (upgrade the workers before the edges)`);
  const edgeId = h.get(HEADER.edge);
  if (!/^[A-Za-z0-9_.-]{1,200}$/.test(edgeId)) throw new InboundFormatError(`header ${HEADER.edge} is not an edge id: ${JSON.stringify(edgeId).slice(0, 40)}`);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  let at = 0;
  const need = (n: number, what: string, index: number): void => {
    if (at + n > buf.length) throw new InboundFormatError(`bulk envelope ends inside ${what} of record ${index} (byte ${at} of ${buf.length}): truncated or not an envelope`);
  };
  need(4, 'the record count', 0);
  const count = buf.readUInt32BE(at);
  at += 4;
  if (count === 0 || count > BULK_BATCH_MAX_RECORDS) throw new InboundFormatError(`bulk envelope says it holds ${count} records: an envelope holds 1 to ${BULK_BATCH_MAX_RECORDS}`);
  const out: InboundMessage[] = [];
  for (let i = 0; i < count; i++) {
    need(1, 'the device id length', i);
    const idLen = buf.readUInt8(at++);
    need(idLen, 'the device id', i);
    const deviceId = buf.toString('latin1', at, at + idLen);
    at += idLen;
    if (!isValidDeviceId(deviceId)) throw new InboundFormatError(`record ${i} of the bulk envelope has a device id that is not one: ${JSON.stringify(deviceId).slice(0, 40)}`);
    need(1, 'the leaf length', i);
    const leafLen = buf.readUInt8(at++);
    need(leafLen, 'the leaf', i);
    const leaf = buf.toString('latin1', at, at + leafLen);
    at += leafLen;
    if (!BULK_LEAVES.has(leaf)) throw new InboundFormatError(`record ${i} of the bulk envelope (device ${deviceId}) has leaf ${JSON.stringify(leaf).slice(0, 20)}: only heartbeats, status and presence may be batched (events keep their partition's order)`);
    need(8, 'the received time', i);
    const receivedAt = buf.readDoubleBE(at);
    at += 8;
    if (!Number.isSafeInteger(receivedAt) || receivedAt <= 0) throw new InboundFormatError(`record ${i} of the bulk envelope (device ${deviceId}) has a received time that is not epoch ms: ${receivedAt}`);
    need(4, 'the payload length', i);
    const payloadLen = buf.readUInt32BE(at);
    at += 4;
    if (payloadLen > PAYLOAD_MAX_BYTES) throw new InboundFormatError(`record ${i} of the bulk envelope (device ${deviceId}) claims a payload of ${payloadLen} bytes, more than any fob may send`);
    need(payloadLen, 'the payload', i);
    // A copy: the record outlives the message's buffer (and the worker's batch holds many).
    const payload = new Uint8Array(buf.subarray(at, at + payloadLen));
    at += payloadLen;
    out.push({ deviceId, leaf, payload, receivedAt, edgeId });
  }
  if (at !== buf.length) throw new InboundFormatError(`bulk envelope has ${buf.length - at} bytes after its ${count} records: not what an edge writes`);
  return out;
}
