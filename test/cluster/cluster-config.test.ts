// [cluster] in lonewatch.toml: validated once with the rest (zod), with the example's commented
// section being exactly what the schema takes, and a bad value refused with the key that names it.
import { readFileSync } from 'node:fs';
import TOML from '@iarna/toml';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../hub/config/load-config.js';

const example = readFileSync(new URL('../../lonewatch.example.toml', import.meta.url), 'utf8');

/** The example's [cluster] section with its "# key = value" lines uncommented. */
function exampleCluster(): Record<string, unknown> {
  const at = example.indexOf('# [cluster]');
  const after = example.slice(at).split('\n').slice(1);
  // The section's commented lines, up to the next section of the file.
  const end = after.findIndex((l) => !l.startsWith('#'));
  const lines = end < 0 ? after : after.slice(0, end);
  const keys = lines.filter((l) => /^# [a-z_]+ = /.test(l)).map((l) => l.slice(2));
  return TOML.parse(keys.join('\n')) as Record<string, unknown>;
}

describe('[cluster] config', () => {
  it('is absent by default: the single hub', () => {
    expect(parseConfig({}).cluster).toBeUndefined();
  });

  it('takes the example (every key), with the defaults it shows', () => {
    const raw = exampleCluster();
    // The example shows both ways of authenticating; one is taken at a time.
    delete raw.token_env;
    const c = parseConfig({ cluster: raw }).cluster!;
    expect(c.servers).toHaveLength(3);
    const defaults = parseConfig({ cluster: { servers: ['nats://127.0.0.1:4222'] } }).cluster!;
    for (const k of ['stream', 'subject_prefix', 'command_prefix', 'replicas', 'partitions', 'consumer', 'ack_wait_ms', 'max_deliver', 'publish_timeout_ms'] as const) expect(c[k], k).toEqual(defaults[k]);
    expect(defaults.replicas).toBe(3);
  });

  it('LONEWATCH_MQTTS_PORT sets tls.mqtts_port as a number (each edge of `cluster up --tls` its own), and refuses a non-number', () => {
    const raw = { tls: { cert_file: '/x/node.crt', key_file: '/x/node.key' } };
    expect(parseConfig(raw, 'config', { LONEWATCH_MQTTS_PORT: '18883' }).tls!.mqtts_port).toBe(18883);
    expect(() => parseConfig(raw, 'config', { LONEWATCH_MQTTS_PORT: 'abc' })).toThrow(/LONEWATCH_MQTTS_PORT: "abc" is not a port number/);
    expect(() => parseConfig({}, 'config', { LONEWATCH_MQTTS_PORT: '18883' })).toThrow(/\[tls\] is not configured/);
  });

  it('refuses a bad URL, a password without a user, and user with token, naming the key', () => {
    expect(() => parseConfig({ cluster: { servers: ['http://x'] } })).toThrow(ConfigError);
    expect(() => parseConfig({ cluster: { servers: ['http://x'] } })).toThrow(/cluster\.servers/);
    expect(() => parseConfig({ cluster: { servers: ['nats://a:1'], password_env: 'P' } })).toThrow(/cluster\.user/);
    expect(() => parseConfig({ cluster: { servers: ['nats://a:1'], user: 'u', token_env: 'T' } })).toThrow(/cluster\.token_env/);
    expect(() => parseConfig({ cluster: { servers: ['nats://a:1'], stream: 'a.b' } })).toThrow(/cluster\.stream/);
  });

  it('edges (issue 19, what flashing gives a RAK5010): host:port each, in order; a missing port or an empty list is refused', () => {
    expect(exampleCluster().edges).toEqual(['edge-1.example.org:1883', 'edge-2.example.org:1883']);
    const c = parseConfig({ cluster: { servers: ['nats://a:1'], edges: ['e1.example.org:1883', '[2001:db8::1]:1884'] } }).cluster!;
    expect(c.edges).toEqual(['e1.example.org:1883', '[2001:db8::1]:1884']);
    expect(parseConfig({ cluster: { servers: ['nats://a:1'] } }).cluster!.edges).toBeUndefined();
    expect(() => parseConfig({ cluster: { servers: ['nats://a:1'], edges: ['e1.example.org'] } })).toThrow(/cluster\.edges/);
    expect(() => parseConfig({ cluster: { servers: ['nats://a:1'], edges: [] } })).toThrow(/cluster\.edges/);
  });
});
