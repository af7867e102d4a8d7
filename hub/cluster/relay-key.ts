/**
 * The cluster's shared companion relay key (`[cluster] relay_key_env`, issue 19): every node signs
 * and checks relay tokens with it (hub/companion/relay-tokens.ts), so a token issued by the node
 * that served the phone's page verifies at whichever edge the phone reaches. Read from the
 * environment, never from lonewatch.toml, like the NATS password.
 */
import type { ClusterConfig } from '../config/config-schema.js';
import { RELAY_KEY_MIN_BYTES } from '../companion/relay-tokens.js';
import { ClusterConfigError } from './nats-connection.js';

/** The key's bytes; null when relay_key_env is not configured (then edges let no relay in). */
export function relayKey(cluster: ClusterConfig, env: NodeJS.ProcessEnv = process.env): Buffer | null {
  if (!cluster.relay_key_env) return null;
  const value = env[cluster.relay_key_env];
  if (!value) throw new ClusterConfigError(`cluster.relay_key_env: the environment variable ${cluster.relay_key_env} (the companion relay key, the same on every node) is not set`);
  const key = Buffer.from(value, 'utf8');
  if (key.length < RELAY_KEY_MIN_BYTES) throw new ClusterConfigError(`cluster.relay_key_env: ${cluster.relay_key_env} holds ${key.length} bytes; the relay key needs at least ${RELAY_KEY_MIN_BYTES} (e.g. openssl rand -hex 32)`);
  return key;
}
