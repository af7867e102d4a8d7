import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALARM_KINDS, ALARM_STATES, COMMAND_KINDS, EVENT_KINDS, TOPIC, heartbeatSchema, alertSchema } from '../shared/index.js';

const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');

describe('docs/protocol.md matches the code', () => {
  it.each(Object.values(TOPIC))('documents topic lw/<deviceId>/%s', (leaf) => {
    expect(doc).toContain(`| \`lw/<deviceId>/${leaf}\` |`);
  });

  it.each(EVENT_KINDS)('documents event kind %s', (k) => {
    expect(doc).toMatch(new RegExp('^\\| `' + k + '` \\|', 'm'));
  });

  it.each(COMMAND_KINDS)('documents command kind %s', (k) => {
    expect(doc).toMatch(new RegExp('^\\| `' + k + '` \\|', 'm'));
  });

  it('documents every heartbeat field', () => {
    for (const key of Object.keys(heartbeatSchema.shape)) {
      expect(doc, key).toMatch(new RegExp('^\\| `' + key + '` \\|', 'm'));
    }
  });

  it('documents every alert field, alarm kind and state', () => {
    for (const key of Object.keys(alertSchema.shape)) expect(doc, key).toContain(`\`${key}\``);
    for (const k of [...ALARM_KINDS, ...ALARM_STATES]) expect(doc, k).toContain(`\`${k}\``);
  });
});
