/**
 * The SMS channel's pure parts: what one SMS can carry (GSM 7-bit default alphabet through IRA, 160
 * septets), the alert text built to fit, the meanings of +CMS ERROR and status-report codes, and the
 * `[notifiers.sms]` config.
 */
import { describe, expect, it } from 'vitest';
import { fitSms, fitsOneSms, septets, SMS_MAX_SEPTETS, toSendable } from '../../hub/notifiers/sms/gsm7.js';
import { smsText } from '../../hub/notifiers/sms/sms-text.js';
import { cmsReason, dialable, reportStatus } from '../../hub/notifiers/sms/sms-codes.js';
import { splitParams } from '../../hub/notifiers/sms/at-link.js';
import { parseConfig, ConfigError } from '../../hub/config/load-config.js';
import { redactNotifiers } from '../../hub/notifiers/notifiers-config.js';
import type { Notice } from '../../hub/notifiers/notifier.js';
import { reachProblemsWith } from '../../hub/hub.js';

const iso = '2026-11-23T09:00:00.000Z';
function notice(over: Partial<Notice> = {}, summary = 'SOS from Sam Carter (visit V-1042): SOS pressed'): Notice {
  return {
    noticeId: 'a1.L0.r0.sms.do-1',
    alert: { v: 1, alarmId: 'amhx1c2d3e4f5', kind: 'sos', state: 'notifying', priority: 1, deviceId: 'fob-1', workerId: 'sam', workerName: 'Sam Carter', visitRef: 'V-1042', level: 0, targets: ['duty_officer'], raisedAt: iso, at: iso, drill: false, summary },
    recipient: { id: 'do-1', name: 'Dana Duty', role: 'duty_officer', phone: '+447700900123' },
    link: 'https://lonewatch.example.org/alarms/amhx1c2d3e4f5',
    attempt: 1,
    ...over,
  } as Notice;
}

describe('one SMS', () => {
  it('counts extension-table characters as two septets and makes text sendable without losing it silently', () => {
    expect(septets('abc')).toBe(3);
    expect(septets('[x]')).toBe(5);
    expect(toSendable('Zoë “Ann” – O’Neil…')).toBe('Zoe "Ann" - O\'Neil...');
    expect(toSendable('`ok` 日本')).toBe('?ok? ??');
    expect(fitsOneSms('x'.repeat(160))).toBe(true);
    expect(fitsOneSms('x'.repeat(161))).toBe(false);
    expect(fitsOneSms('x'.repeat(159) + '{')).toBe(false);
  });

  it('keeps what the alarm is and the link whole, shortening the middle with "..."', () => {
    const text = fitSms('LONEWATCH SOS alarm: Sam Carter', 'y'.repeat(300), 'https://hub.example/alarms/a1');
    expect(septets(text)).toBe(SMS_MAX_SEPTETS);
    expect(text.startsWith('LONEWATCH SOS alarm: Sam Carter\nyyy')).toBe(true);
    expect(text.endsWith('...\nhttps://hub.example/alarms/a1')).toBe(true);
  });

  it('an alert SMS says what it is, who, when and the link, in one SMS', () => {
    expect(smsText(notice())).toBe('LONEWATCH SOS alarm: Sam Carter\nSOS from Sam Carter (visit V-1042): SOS pressed at 09:00 UTC.\nhttps://lonewatch.example.org/alarms/amhx1c2d3e4f5');
    expect(smsText(notice({ reason: 'police' }))).toMatch(/^LONEWATCH CALL 999 NOW: SOS alarm: Sam Carter\n/);
    expect(smsText(notice({ event: 'closed', alert: { ...notice().alert, state: 'resolved', at: '2026-11-23T09:12:41.000Z' } }))).toMatch(/^LONEWATCH OVER \(resolved\): SOS alarm: Sam Carter\nOver: resolved at 09:12 UTC/);
    const long = smsText(notice({}, `SOS from ${'Bartholomew-Featherstonehaugh '.repeat(8)}`));
    expect(fitsOneSms(long)).toBe(true);
    expect(long.endsWith('...\nhttps://lonewatch.example.org/alarms/amhx1c2d3e4f5')).toBe(true);
  });
});

describe('what the modem and the network say', () => {
  it('+CMS ERROR codes in words, with whether a retry can help', () => {
    expect(cmsReason(331)).toEqual({ reason: "+CMS ERROR: 331: the hub's modem has no network service", retryable: true });
    expect(cmsReason(330).retryable).toBe(false);
    expect(cmsReason(999)).toEqual({ reason: '+CMS ERROR: 999', retryable: true });
  });

  it('TP-Status: 0 delivered, 0x20-0x3F still trying, 0x40 and up not delivered', () => {
    expect(reportStatus(0)).toMatchObject({ final: true, delivered: true });
    expect(reportStatus(0x22)).toMatchObject({ final: false });
    expect(reportStatus(0x41)).toMatchObject({ final: true, delivered: false, text: 'NOT delivered: incompatible destination' });
    expect(reportStatus(0x62)).toMatchObject({ final: true, delivered: false });
  });

  it('reads +CDS parameters with quoted commas, and dialable numbers', () => {
    expect(splitParams(' 6,12,"+447700900123",145,"26/12/01,09:30:05+00","26/12/01,09:30:09+00",0')).toEqual(['6', '12', '+447700900123', '145', '26/12/01,09:30:05+00', '26/12/01,09:30:09+00', '0']);
    expect(dialable('+44 (0)7700 900-123')).toBe('+4407700900123');
    expect(dialable('call Dana')).toBeNull();
  });
});

describe('[notifiers.sms] config', () => {
  it('needs exactly one adapter, and may be named by a policy level', () => {
    const problems = (raw: unknown): string => {
      try {
        parseConfig({ notifiers: { sms: raw } });
        return '';
      } catch (e) {
        return (e as ConfigError).problems.join('\n');
      }
    };
    expect(problems({})).toMatch(/notifiers\.sms: set exactly one of \[notifiers\.sms\.modem\] or \[notifiers\.sms\.gateway\]/);
    expect(problems({ modem: { port: '/dev/ttyUSB2' }, gateway: { url: 'https://sms.example/v1', token: 't', callback_token: 'c' } })).toMatch(/exactly one/);
    expect(problems({ modem: { port: '/dev/ttyUSB2', baud_rate: 7 } })).toMatch(/notifiers\.sms\.modem\.baud_rate/);
    expect(problems({ gateway: { url: 'ftp://x', token: 't', callback_token: 'c' } })).toMatch(/notifiers\.sms\.gateway\.url/);
    const ok = parseConfig({ notifiers: { sms: { modem: { port: '/dev/ttyUSB2' } } }, policies: { p: { mode: 'all_at_once', levels: [{ name: 'x', targets: ['duty_officer'], channels: ['sms'], delay_min: 1 }] } }, alarm_policies: { sos: 'p', covert_sos: 'p', man_down: 'p', missed_checkin: 'p', device_silent: 'p', low_battery: 'p' } });
    expect(ok.notifiers.sms?.modem).toEqual({ port: '/dev/ttyUSB2', baud_rate: 115200, command_timeout_s: 5 });
  });

  it('redacts the gateway tokens one table down, keeping env:/file: references', () => {
    const cfg = parseConfig({ notifiers: { sms: { gateway: { url: 'https://sms.example/v1', token: 'literal-secret', callback_token: 'env:CB' } } } });
    const red = redactNotifiers(cfg.notifiers) as { sms: { gateway: Record<string, string> } };
    expect(red.sms.gateway.token).toBe('[redacted]');
    expect(red.sms.gateway.callback_token).toBe('env:CB');
    expect(JSON.stringify(red)).not.toContain('literal-secret');
  });

  it('the start-up reach check says when nobody a level names by SMS has a phone number', () => {
    const policy = { mode: 'all_at_once', levels: [{ name: 'x', targets: ['duty_officer'], channels: ['dashboard', 'sms'], delay_min: 1 }] };
    const cfg = parseConfig({
      notifiers: { sms: { modem: { port: '/dev/ttyUSB2' } } },
      policies: { p: policy },
      alarm_policies: { sos: 'p', covert_sos: 'p', man_down: 'p', missed_checkin: 'p', device_silent: 'p', low_battery: 'p' },
    });
    const dana = { id: 'do-1', name: 'Dana', role: 'duty_officer', email: null };
    const without = reachProblemsWith(cfg, [{ ...dana, phone: null }]);
    expect(without.map((p) => p.kind)).toContain('reaches_nobody');
    expect(without.some((p) => p.kind === 'no_address' && /no duty officer has a SMS address/.test(p.message))).toBe(true);
    const withPhone = reachProblemsWith(cfg, [{ ...dana, phone: '+44 7700 900555' }]);
    expect(withPhone.filter((p) => p.policy === 'p' && p.kind !== 'no_contact')).toEqual([]);
  });
});
