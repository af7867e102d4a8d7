/**
 * pino, one JSON line per event; readable (pino-pretty) when a person is watching a terminal.
 * Lines that concern a device or an alarm carry `deviceId` / `alarmId` (use `log.child({ deviceId })`).
 */
import pino, { type Logger } from 'pino';

export type { Logger };

/** Secrets never reach a log line, whatever object they hide in. */
export const REDACT_PATHS = [
  'password',
  'secret',
  '*.password',
  '*.secret',
  '*.pw',
  'config.notifiers.*.password',
  'config.notifiers.*.secret',
  'config.notifiers.*.encryption_key',
];

export function createLogger(opts: { level: string; pretty: 'auto' | 'always' | 'never'; name?: string }): Logger {
  const pretty = opts.pretty === 'always' || (opts.pretty === 'auto' && process.stdout.isTTY === true);
  return pino({
    name: opts.name ?? 'lonewatch',
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } } } : {}),
  });
}

export const silentLogger: Logger = pino({ level: 'silent' });
