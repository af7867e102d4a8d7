/**
 * One NATS connection per node, from [cluster]: every server URL (the client fails over between
 * them and keeps reconnecting, forever: a node must never give up on its bus), credentials from the
 * environment, and the stream and consumer set up idempotently by whichever node starts first.
 */
import { hostname } from 'node:os';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import type { ClusterConfig } from '../config/config-schema.js';

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
  });
}

/** The stream of everything fobs sent: file storage, `replicas` copies, one subject space. */
export async function ensureStream(jsm: JetStreamManager, cfg: ClusterConfig): Promise<void> {
  const want = {
    name: cfg.stream,
    subjects: [`${cfg.subject_prefix}.>`],
    num_replicas: cfg.replicas,
    storage: StorageType.File,
    // Kept (acked or not) for 7 days, so a worker outage of days still finds every publish; the
    // workers dedupe on (device_id, event_id), so a replay changes nothing.
    max_age: nanos(7 * 86_400_000),
  };
  const existing = await jsm.streams.info(cfg.stream).catch(() => null);
  if (!existing) {
    await jsm.streams.add(want).catch(async (err: unknown) => {
      // Another node created it in between: that is the same stream.
      if (!(await jsm.streams.info(cfg.stream).catch(() => null))) throw err;
    });
  }
}

/** The durable pull consumer every worker shares: explicit acks, redelivery after ack_wait_ms. */
export async function ensureConsumer(jsm: JetStreamManager, cfg: ClusterConfig): Promise<void> {
  const existing = await jsm.consumers.info(cfg.stream, cfg.consumer).catch(() => null);
  if (existing) return;
  await jsm.consumers
    .add(cfg.stream, {
      durable_name: cfg.consumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(cfg.ack_wait_ms),
      max_deliver: cfg.max_deliver,
      // Enough in flight for two workers under load; each holds at most what it pulled.
      max_ack_pending: 10_000,
    })
    .catch(async (err: unknown) => {
      if (!(await jsm.consumers.info(cfg.stream, cfg.consumer).catch(() => null))) throw err;
    });
}

/** JetStream answers (its meta leader and the stream): what /readyz asks of the bus. */
export async function jetStreamAnswers(nc: NatsConnection, cfg: ClusterConfig, timeoutMs = 2000): Promise<{ ok: true } | { ok: false; why: string }> {
  if (nc.isClosed()) return { ok: false, why: 'the NATS connection is closed' };
  try {
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
    await jsm.streams.info(cfg.stream);
    return { ok: true };
  } catch (err) {
    return { ok: false, why: `JetStream does not answer: ${(err as Error).message}` };
  }
}
