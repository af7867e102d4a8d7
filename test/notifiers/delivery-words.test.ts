// Delivery records in words a duty officer can act on (issue 15 item 15): who, by what channel, what
// was confirmed; never a notice id or a relay's answer in the sentence (those are in `technical`).
import { describe, expect, it } from 'vitest';
import { deliveryWords } from '../../hub/notifiers/delivery-words.js';
import { describeDeliveries, summariseDeliveries } from '../../hub/notifiers/delivery-summary.js';
import type { TimelineEntry } from '../../hub/store/store-types.js';

const sam = { recipientId: 'c-sam', recipientName: 'Sam Patel', recipientRole: 'line_manager' };

describe('deliveryWords', () => {
  it('says what each channel can confirm: an e-mail accepted by the relay is not read, an SMS sent is not yet on the phone', () => {
    expect(deliveryWords({ status: 'sent', channel: 'email', ...sam, address: 's***@example.org', detail: '250 2.0.0 Ok: queued as 4F2A1', noticeId: 'n-77' })).toEqual({
      text: 'E-mail to Sam Patel (line manager) at s***@example.org: sent, not yet confirmed read',
      who: 'Sam Patel (line manager)',
      confirmed: 'sent, not yet confirmed read',
      technical: 'relay: 250 2.0.0 Ok: queued as 4F2A1 · notice n-77 · channel email',
      bad: false,
    });
    expect(deliveryWords({ status: 'sent', channel: 'sms', ...sam }).text).toBe('SMS to Sam Patel (line manager): sent, not yet confirmed delivered to the phone');
    expect(deliveryWords({ status: 'delivered', channel: 'sms', ...sam }).text).toBe('SMS to Sam Patel (line manager): delivered to the phone, not yet confirmed read');
    expect(deliveryWords({ status: 'delivered', channel: 'arc', recipientId: null }).text).toBe('Alarm signal to the alarm receiving centre (ARC): received and acknowledged by the ARC');
  });

  it('says plainly when nobody was told, and why', () => {
    const failed = deliveryWords({ status: 'failed', channel: 'email', ...sam, reason: 'connection refused by smtp.example.org', retryable: true });
    expect(failed).toMatchObject({ text: 'E-mail to Sam Patel (line manager): FAILED, trying again: connection refused by smtp.example.org', bad: true });
    expect(deliveryWords({ status: 'no_contact', target: 'line_manager', reason: 'Ali has no line manager among the contacts' }).text).toBe('The line manager: NOBODY TOLD: Ali has no line manager among the contacts');
    expect(deliveryWords({ status: 'fallthrough', channel: 'sms', recipientId: 'c-sam', to: 'email', reason: 'gave up; handed to email' }).text).toBe(
      'SMS to a contact of the ladder: FAILED, given up: trying by e-mail instead',
    );
    expect(deliveryWords({ status: 'queued', channel: 'email', ...sam, via: 'sms', event: 'closed' }).text).toBe('E-mail to Sam Patel (line manager), that the alarm is over, instead of the SMS that failed: waiting to be sent');
  });
});

describe('the timeline and the summary in words', () => {
  const at = 1_000;
  const timeline: TimelineEntry[] = [
    { at, type: 'delivery', actor: 'notifier:sms', detail: { status: 'queued', channel: 'sms', noticeId: 'n-1', ...sam, address: '***123' } },
    { at: at + 1, type: 'delivery', actor: 'notifier:sms', detail: { status: 'fallthrough', channel: 'sms', to: 'email', recipientId: 'c-sam', why: 'sms gave up' } },
  ];

  it('names the contact of a record that carries only their id, from the record that named them', () => {
    const described = describeDeliveries(timeline);
    expect(described.map((e) => e.text)).toEqual(['SMS to Sam Patel (line manager) at ***123: waiting to be sent', 'SMS to Sam Patel (line manager): FAILED, given up: trying by e-mail instead']);
    expect(described.every((e) => !/n-1|c-sam|notifier:/.test(e.text ?? ''))).toBe(true);
    const [line] = summariseDeliveries(timeline);
    expect(line).toMatchObject({ who: 'Sam Patel (line manager)', confirmed: 'FAILED, given up: trying by e-mail instead' });
  });
});
