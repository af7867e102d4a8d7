import { readFileSync } from 'node:fs';
import TOML from '@iarna/toml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../hub/config/load-config.js';

const text = readFileSync(new URL('../../lonewatch.example.toml', import.meta.url), 'utf8');

describe('lonewatch.example.toml', () => {
  it('is valid and equals the built-in defaults where it shows them', () => {
    const example = parseConfig(TOML.parse(text), 'example');
    const defaults = parseConfig({}, 'defaults');
    for (const section of ['hub', 'mqtt', 'http', 'log', 'map', 'rules'] as const) expect(example[section]).toEqual(defaults[section]);
    expect(example.alarm_policies).toEqual(defaults.alarm_policies);
    expect(example.policies.missed_checkin).toEqual(defaults.policies.missed_checkin);
  });

  it('shows every key of every section, each under a comment', () => {
    const defaults = parseConfig({}, 'defaults') as unknown as Record<string, Record<string, unknown>>;
    const lines = text.split('\n');
    for (const section of ['hub', 'mqtt', 'http', 'log', 'map', 'rules']) {
      const start = lines.indexOf(`[${section}]`);
      expect(start, section).toBeGreaterThanOrEqual(0);
      for (const key of Object.keys(defaults[section])) {
        if (Array.isArray(defaults[section][key])) {
          // Lists of tables are shown as a commented example.
          expect(text, `${section}.${key}`).toContain(`# [[${section}.${key}]]`);
          continue;
        }
        const at = lines.findIndex((l, i) => i > start && l.startsWith(`${key} = `));
        expect(at, `${section}.${key}`).toBeGreaterThan(start);
        // Walk up over neighbouring keys to the comment that explains this group.
        let j = at - 1;
        while (j > start && /^\w+ = /.test(lines[j])) j--;
        expect(lines[j].startsWith('#') || j === start, `${section}.${key} has no comment above it`).toBe(true);
      }
    }
  });
});
