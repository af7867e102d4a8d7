import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, ConfigError } from '../../hub/config/load-config.js';
import { redactNotifiers, resolveSecret } from '../../hub/notifiers/notifiers-config.js';
import { createDispatcher } from '../../hub/notifiers/create-dispatcher.js';
import { ManualClock } from '../../hub/clock.js';
import { silentLogger } from '../../hub/logger.js';

describe('[notifiers] config', () => {
  it('has defaults for retry and lists every problem at once, with fallbacks cross-checked', () => {
    const ok = parseConfig({ notifiers: { webhook: { url: 'https://x.example/h', secret: 'env:WH' } } });
    expect(ok.notifiers.webhook?.retry).toEqual({ timeout_s: 15, first_retry_s: 5, factor: 2, max_retry_s: 120, give_up_after_s: 600, max_attempts: 10 });
    let err: ConfigError | null = null;
    try {
      parseConfig({
        notifiers: {
          arc: { host: 'arc', port: 70000, account: 'XYZ', fallback: ['email'] },
          webhook: { url: 'ftp://x', secret: 's', fallback: ['webhook'] },
          sms: {},
        },
      });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = err!.problems.join('\n');
    expect(text).toMatch(/notifiers.arc.port/);
    expect(text).toMatch(/notifiers.arc.account: must be 3-16 hex digits/);
    expect(text).toMatch(/notifiers.webhook.url/);
    expect(text).toMatch(/sms/);
    expect(text).toMatch(/notifiers.arc.fallback.0: no \[notifiers.email\] to fall back to/);
    expect(text).toMatch(/notifiers.webhook.fallback.0: a channel cannot fall back to itself/);
  });

  it('resolves env: and file: secrets; errors name the reference, never a value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lw-secret-'));
    writeFileSync(join(dir, 'k'), 'from-file\n');
    expect(resolveSecret('env:X', 'w', { X: 'from-env' })).toBe('from-env');
    expect(resolveSecret(`file:${join(dir, 'k')}`, 'w')).toBe('from-file');
    expect(resolveSecret('literal', 'w')).toBe('literal');
    expect(() => resolveSecret('env:NOPE', 'notifiers.x', {})).toThrow('notifiers.x: the environment variable NOPE is not set');
    expect(() => resolveSecret(`file:${join(dir, 'missing')}`, 'notifiers.x')).toThrow(/ENOENT/);
  });

  it('a config dump shows references and hides literal secrets', () => {
    const c = parseConfig({
      notifiers: {
        email: { host: 'smtp', from: 'a@b.c', username: 'u', password: 'hunter2' },
        webhook: { url: 'https://x.example/h', secret: 'env:WH' },
        arc: { host: 'arc', port: 5000, account: '1234', encryption_key: '00112233445566778899AABBCCDDEEFF' },
      },
    });
    const dump = JSON.stringify(redactNotifiers(c.notifiers));
    expect(dump).not.toContain('hunter2');
    expect(dump).not.toContain('00112233445566778899AABBCCDDEEFF');
    expect(dump).toContain('env:WH');
    expect(dump).toContain('[redacted]');
  });

  it('a bad ARC key stops the start with the key path in the message', () => {
    const c = parseConfig({ notifiers: { arc: { host: 'arc', port: 5000, account: '1234', encryption_key: 'env:K' } } });
    expect(() => createDispatcher({ notifiers: c.notifiers, hubName: 'x', clock: new ManualClock(), log: silentLogger, record: async () => undefined, env: { K: 'abcd' } })).toThrow(
      /notifiers.arc.encryption_key: a DC-09 key is 32, 48 or 64 hex digits/,
    );
    expect(createDispatcher({ notifiers: parseConfig({}).notifiers, hubName: 'x', clock: new ManualClock(), log: silentLogger, record: async () => undefined })).toBeNull();
  });
});

describe('lonewatch.example.toml [notifiers]', () => {
  it('the commented channel tables are valid config once uncommented', async () => {
    const { readFileSync } = await import('node:fs');
    const TOML = (await import('@iarna/toml')).default;
    const text = readFileSync(new URL('../../lonewatch.example.toml', import.meta.url), 'utf8');
    const from = text.indexOf('\n[notifiers]\n');
    expect(from).toBeGreaterThan(0);
    const block = text
      .slice(from)
      .split('\n')
      .filter((l) => /^# (\[notifiers\.|[a-z_]+ = )/.test(l) || l === '[notifiers]')
      .map((l) => l.replace(/^# /, ''))
      .join('\n');
    const c = parseConfig(TOML.parse(block), 'example');
    expect(Object.keys(c.notifiers).sort()).toEqual(['arc', 'email', 'retain_days', 'sms', 'webhook']);
    expect(c.notifiers.sms).toMatchObject({ modem: { port: '/dev/ttyUSB2', baud_rate: 115200 }, fallback: ['email'] });
    expect(c.notifiers.retain_days).toBe(90);
    expect(c.notifiers.arc).toMatchObject({ account: '1234', supervision_s: 90, fallback: ['email'] });
    expect(c.notifiers.email?.retry.give_up_after_s).toBe(600);
  });
});
