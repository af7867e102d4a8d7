/**
 * One NATS connection per node, from [cluster]: every server URL (the client fails over between
 * them and keeps reconnecting, forever: a node must never give up on its bus), credentials from the
 * environment, and the stream and consumers set up idempotently by whichever node starts first.
 */
import { hostname } from 'node:os';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, jetstreamManager, StorageType, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import type { ClusterConfig } from '../config/config-schema.js';
import { partitionConsumer, partitionFilter } from './partition.js';
import { bulkConsumer, bulkFilter, bulkMaxAckPending } from './lanes.js';

/** A credential the config points at is missing: nothing was started. */
export class ClusterConfigError extends Error {
  override name = 'ClusterConfigError';
}

export function nodeId(cfg: ClusterConfig, role: string): string {
  return cfg.node_id ?? `${role}-${hostname()}-${process.pid}`;
}

export function credentials(cfg: ClusterConfig, env: NodeJS.ProcessEnv = process.env): { user?: string; pass?: string; token?: string } {
  if (cfg.token_env) {
    const token = env[cfg.token_env];
    if (!token) throw new ClusterConfigError(`cluster.token_env: the environment variable ${cfg.token_env} (the NATS token) is not set`);
    return { token };
  }
  if (cfg.user) {
    if (!cfg.password_env) return { user: cfg.user };
    const pass = env[cfg.password_env];
    if (!pass) throw new ClusterConfigError(`cluster.password_env: the environment variable ${cfg.password_env} (the password of NATS user ${cfg.user}) is not set`);
    return { user: cfg.user, pass };
  }
  return {};
}

export async function connectNats(cfg: ClusterConfig, name: string, env: NodeJS.ProcessEnv = process.env): Promise<NatsConnection> {
  return connect({
    servers: cfg.servers,
    name,
    ...credentials(cfg, env),
    // A node keeps trying its servers for as long as it runs (readiness says when it has none).
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    timeout: 5000,
    // nats.js otherwise builds an Error (a stack capture) per request, twice, in case it fails, to
    // say where it was started: 2.3 % of an edge's CPU in the ingest flood (docs/cluster.md "Batch
    // envelopes"). A failed request still says what failed (timeout, no responders).
    noAsyncTraces: true,
  });
}

/** How long a starting node asks JetStream again when a lookup gets no answer (tests shorten it). */
export interface LookupWait {
  /** Give up after this long (default 30 s). */
  totalMs?: number;
  /** Between tries (default 250 ms). */
  pauseMs?: number;
}

export class JetStreamUnansweredError extends Error {
  override name = 'JetStreamUnansweredError';
}

/**
 * A JetStream lookup at start-up: what it found, or null only when JetStream answered that it does
 * not exist (one of `absent`, its API error codes). Anything else (a request timeout, no
 * responders, a leader being elected) is not an answer: taken for "absent", it would have the node
 * create a stream or consumer that is there, which JetStream refuses when any setting differs, and
 * the node's start fail for a reason that is not the cause. So it is asked again, bounded.
 */
export async function lookup<T>(what: string, ask: () => Promise<T>, absent: number[], wait: LookupWait = {}): Promise<T | null> {
  const until = Date.now() + (wait.totalMs ?? LOOKUP_WAIT_MS);
  for (;;) {
    try {
      return await ask();
    } catch (err) {
      if (err instanceof JetStreamApiError && absent.includes(err.code)) return null;
      if (Date.now() >= until) {
        throw new JetStreamUnansweredError(`JetStream did not answer the lookup of ${what} within ${wait.totalMs ?? LOOKUP_WAIT_MS} ms (last: ${(err as Error).message}); are a majority of the NATS nodes up and reachable?`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, wait.pauseMs ?? 250));
    }
  }
}

const LOOKUP_WAIT_MS = 30_000;

function consumerInfo(jsm: JetStreamManager, cfg: ClusterConfig, name: string, wait: LookupWait): Promise<ConsumerInfo | null> {
  return lookup(`consumer ${cfg.stream}/${name}`, () => jsm.consumers.info(cfg.stream, name), [JetStreamApiCodes.ConsumerNotFound, JetStreamApiCodes.StreamNotFound], wait);
}

/** The stream of everything fobs sent: file storage, `replicas` copies, one subject space. */
export async function ensureStream(jsm: JetStreamManager, cfg: ClusterConfig, wait: LookupWait = {}): Promise<void> {
  const want = {
    name: cfg.stream,
    subjects: [`${cfg.subject_prefix}.>`],
    num_replicas: cfg.replicas,
    storage: StorageType.File,
    // Kept (acked or not) for 7 days, so a worker outage of days still finds every publish; the
    // workers dedupe on (device_id, event_id), so a replay changes nothing.
    max_age: nanos(7 * 86_400_000),
  };
  // A cluster that is still forming has a meta leader before every peer has registered with it,
  // and refuses an R3 stream meanwhile with "no suitable peers for placement" (JetStream error
  // 10005, JSClusterNoPeersErrF). A node started with its cluster (a fresh install, a test, a
  // restart of all three) waits for the peers, bounded, rather than failing its start.
  const until = Date.now() + STREAM_PLACEMENT_WAIT_MS;
  const streamInfo = () => lookup(`stream ${cfg.stream}`, () => jsm.streams.info(cfg.stream), [JetStreamApiCodes.StreamNotFound], wait);
  for (;;) {
    if (await streamInfo()) return;
    try {
      await jsm.streams.add(want);
      return;
    } catch (err) {
      // Another node created it in between: that is the same stream.
      if (await streamInfo()) return;
      const noPeersYet = err instanceof JetStreamApiError && err.code === JS_CLUSTER_NO_PEERS;
      if (!noPeersYet || Date.now() >= until) throw err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** JetStream's error code for "no suitable peers for placement" (nats-server errors.json). */
const JS_CLUSTER_NO_PEERS = 10005;
/** How long a starting node waits for a forming cluster's peers before its start fails. */
const STREAM_PLACEMENT_WAIT_MS = 30_000;

/**
 * The durable pull consumers every worker shares, one per partition (hub/cluster/partition.ts) and
 * one for the bulk lane (hub/cluster/lanes.ts). A partition's consumer has
 * explicit acks, redelivery after ack_wait_ms, and max_ack_pending 1. That last is what keeps a
 * device's messages in order across workers: once a consumer has one message delivered and not
 * acked, the server delivers no other until it is acked, or its AckWait passes and it is delivered
 * again (JetStream consumer config, MaxAckPending: "once this limit is reached message delivery
 * will be suspended"). Whichever worker pulls, the partition's messages go through one at a time,
 * in stream order. A consumer already there with another filter or limit is refused, not changed:
 * two workers disagreeing on the partitions would each believe the other's layout.
 */
export async function ensureConsumers(jsm: JetStreamManager, cfg: ClusterConfig, wait: LookupWait = {}): Promise<void> {
  const specs: ConsumerSpec[] = [
    ...Array.from({ length: cfg.partitions }, (_, p) => ({
      name: partitionConsumer(cfg.consumer, p),
      filter: partitionFilter(cfg.subject_prefix, p),
      maxAckPending: 1,
      howToChange: 'to change the partitions, see docs/cluster.md "Changing the number of partitions"',
    })),
    // The bulk lane (hub/cluster/lanes.ts): heartbeats, status and presence, taken in batches, no
    // order kept, so an SOS on a partition consumer never waits behind them. A cluster from before
    // the lanes has no such consumer: it is created here, and the partition consumers are unchanged
    // (docs/cluster.md "Upgrading to the bulk lane").
    { name: bulkConsumer(cfg.consumer), filter: bulkFilter(cfg.subject_prefix), maxAckPending: bulkMaxAckPending(cfg.bulk_batch), howToChange: 'to change bulk_batch, see docs/cluster.md "Changing the bulk batch"' },
  ];
  // Every existing consumer is checked before any is created or edited: a node with another layout
  // changes nothing (not even the AckWait of the consumers that happen to match), and the error
  // names the first mismatch in a fixed order (partitions, then bulk), whatever answered first.
  const existing = await Promise.all(specs.map((s) => consumerInfo(jsm, cfg, s.name, wait)));
  specs.forEach((s, i) => {
    const info = existing[i];
    if (info) checkConsumer(cfg, s, info);
  });
  await Promise.all(specs.map((s, i) => applyConsumer(jsm, cfg, s, existing[i] ?? null, wait)));
}

interface ConsumerSpec {
  name: string;
  filter: string;
  maxAckPending: number;
  howToChange: string;
}

function checkConsumer(cfg: ClusterConfig, s: ConsumerSpec, info: ConsumerInfo): void {
  if (info.config.filter_subject !== s.filter || info.config.max_ack_pending !== s.maxAckPending) {
    throw new ClusterConfigError(
      `JetStream consumer ${cfg.stream}/${s.name} exists with filter ${info.config.filter_subject ?? '(none)'} and max_ack_pending ${info.config.max_ack_pending ?? '(default)'}, ` +
        `not ${s.filter} and ${s.maxAckPending}: it was made by a node with other [cluster] partitions, bulk_batch or consumer settings. Give every node the same lonewatch.toml; ${s.howToChange}`,
    );
  }
}

async function applyConsumer(jsm: JetStreamManager, cfg: ClusterConfig, s: ConsumerSpec, existing: ConsumerInfo | null, wait: LookupWait): Promise<void> {
  if (existing) {
    // ack_wait_ms is what a dead worker's message costs its partition (docs/cluster.md "Order per
    // device"); a consumer made under an older default (30 s) would keep it, and an SOS held by a
    // killed worker would wait that long. JetStream lets a durable consumer's AckWait be edited in
    // place (its position and pending messages stay), so the configured value is applied.
    if (existing.config.ack_wait !== nanos(cfg.ack_wait_ms)) await jsm.consumers.update(cfg.stream, s.name, { ack_wait: nanos(cfg.ack_wait_ms) });
    return;
  }
  await jsm.consumers
    .add(cfg.stream, {
      durable_name: s.name,
      filter_subject: s.filter,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(cfg.ack_wait_ms),
      max_deliver: cfg.max_deliver,
      // Partitions: one in flight, the order per device (above). Bulk: a few batches.
      max_ack_pending: s.maxAckPending,
    })
    .catch(async (err: unknown) => {
      // Another node created it in between: the same consumer, if it has the same settings.
      const now = await consumerInfo(jsm, cfg, s.name, wait);
      if (!now) throw err;
      checkConsumer(cfg, s, now);
    });
}

/** JetStream answers (its meta leader and the stream): what /readyz asks of the bus. */
export async function jetStreamAnswers(nc: NatsConnection, cfg: ClusterConfig, timeoutMs = 2000): Promise<{ ok: true } | { ok: false; why: string }> {
  if (nc.isClosed()) return { ok: false, why: 'the NATS connection is closed' };
  try {
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
    const info = await jsm.streams.info(cfg.stream);
    // An answer to stream info is not a quorum: for a while after losing two of three nodes the
    // survivor still answers it, from its own state (a CI run saw an edge stay ready for over 10 s).
    // A publish is acknowledged only by a leader with a majority of the replicas current, so that
    // is what ready means (JetStream stream info: cluster.leader, replicas[].current/offline).
    const c = info.cluster;
    if (c && cfg.replicas > 1) {
      if (!c.leader) return { ok: false, why: `JetStream's stream ${cfg.stream} has no leader: a publish cannot be acknowledged` };
      const current = 1 + (c.replicas ?? []).filter((r) => r.current && !r.offline).length;
      const quorum = Math.floor(cfg.replicas / 2) + 1;
      if (current < quorum) return { ok: false, why: `JetStream's stream ${cfg.stream} has ${current} of ${cfg.replicas} replicas current (a publish needs ${quorum}): it cannot be acknowledged` };
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, why: `JetStream does not answer: ${(err as Error).message}` };
  }
}
