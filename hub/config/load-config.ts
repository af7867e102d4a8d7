/**
 * Reads lonewatch.toml (or none), applies environment overrides, validates, and reports every
 * problem at once with its key path. The hub refuses to start on any.
 */
import { readFileSync, existsSync } from 'node:fs';
import TOML from '@iarna/toml';
import { crossCheck, hubConfigSchema, type HubConfig } from './config-schema.js';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const ENV_OVERRIDES = {
  LONEWATCH_MQTT_PORT: ['mqtt', 'port'],
  LONEWATCH_HTTP_PORT: ['http', 'port'],
  LONEWATCH_DATA_DIR: ['hub', 'data_dir'],
  // One config file for several edges on a machine (`lonewatch cluster up` with TLS): each its own MQTTS port.
  LONEWATCH_MQTTS_PORT: ['tls', 'mqtts_port'],
} as const;

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof cur[key] !== 'object' || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]] = value;
}

/** Validates an already-parsed object (from TOML, or built by tests). */
export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = {}): HubConfig {
  const obj = (typeof raw === 'object' && raw !== null ? structuredClone(raw) : {}) as Record<string, unknown>;
  const problems: string[] = [];
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    // An override inside [tls] does not turn TLS on: the certificate files must be configured.
    if (path[0] === 'tls' && (typeof obj.tls !== 'object' || obj.tls === null)) {
      problems.push(`${name} is set but [tls] is not configured: set tls.cert_file and tls.key_file, or unset ${name}`);
      continue;
    }
    // `port` and `mqtts_port` alike: read as a number (a string here made every `cluster up --tls`
    // edge refuse its config, "tls.mqtts_port: expected number").
    if (/(^|_)port$/.test(path[path.length - 1])) {
      const n = Number(value);
      if (!Number.isInteger(n)) problems.push(`${name}: "${value}" is not a port number`);
      else setPath(obj, path, n);
    } else {
      setPath(obj, path, value);
    }
  }
  const result = hubConfigSchema.safeParse(obj);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.length ? issue.path.join('.') : '(top level)';
      problems.push(`${path}: ${issue.message}`);
    }
  }
  for (const p of crossCheck(obj)) problems.push(`${p.path}: ${p.message}`);
  if (result.success) {
    result.data.mqtt.services.forEach((svc, i) => {
      if (!env[svc.password_env]) problems.push(`mqtt.services.${i}.password_env: the environment variable ${svc.password_env} is not set`);
    });
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return result.data as HubConfig;
}

/** Loads a TOML file; a missing default file means "all defaults", a missing named file is an error. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const path = file ?? 'lonewatch.toml';
  if (!existsSync(path)) {
    if (file) throw new ConfigError(path, ['file not found']);
    return parseConfig({}, 'defaults', env);
  }
  let raw: unknown;
  try {
    raw = TOML.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const e = err as Error & { line?: number; col?: number };
    throw new ConfigError(path, [`TOML syntax: ${e.message.split('\n')[0]}${e.line !== undefined ? ` (line ${e.line + 1})` : ''}`]);
  }
  return parseConfig(raw, path, env);
}
