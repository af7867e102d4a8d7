/**
 * Per-device ordering in the cluster (issue 19, docs/cluster.md "Order per device"): every device
 * belongs to one of `[cluster] partitions` partitions, by a hash of its id. An edge puts what a fob
 * sends on `<prefix>.p<partition>.<deviceId>.<leaf>`; each partition has its own durable consumer
 * (filter `<prefix>.p<partition>.>`, max_ack_pending 1), so at most one message of a partition is
 * in flight at a time, whichever worker holds it, and a device's messages are handled in the order
 * the stream stored them. Pure: no connection.
 */

/** FNV-1a, 32 bits: stable across processes, versions and machines (edges and workers must agree). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    // h * 16777619 modulo 2^32, in 32-bit integer arithmetic.
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The partition of a device, 0 .. partitions-1. */
export function partitionOf(deviceId: string, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a whole number of at least 1, not ${partitions}`);
  return fnv1a32(deviceId) % partitions;
}

/** The subject token of a partition: `p7`. */
export function partitionToken(partition: number): string {
  return `p${partition}`;
}

/** What a partition's consumer takes from the stream: `<prefix>.p<partition>.>`. */
export function partitionFilter(prefix: string, partition: number): string {
  return `${prefix}.${partitionToken(partition)}.>`;
}

/** The durable consumer of a partition: `<consumer>-p<partition>`. */
export function partitionConsumer(consumer: string, partition: number): string {
  return `${consumer}-${partitionToken(partition)}`;
}
