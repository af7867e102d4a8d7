/**
 * The text of an alert SMS: what it is (the e-mail's subject line: `SOS alarm: Sam Carter`,
 * `CALL 999 NOW: ...`, `OVER (resolved): ...`), the summary and time, and the link, in one SMS of at
 * most 160 characters (see gsm7.ts). Nothing private (R22): a Notice carries no phone number, address
 * or medical detail, and this adds none. Pure.
 */
import { emailSubject } from '../email-notifier.js';
import type { Notice } from '../notifier.js';
import { fitSms } from './gsm7.js';

function hhmm(iso: string): string {
  return `${iso.slice(11, 16)} UTC`;
}

export function smsText(notice: Notice): string {
  const a = notice.alert;
  const head = `LONEWATCH ${emailSubject(notice)}`;
  let middle: string;
  if (notice.event === 'closed') middle = `Over: ${a.state === 'cancelled' ? 'cancelled' : 'resolved'} at ${hhmm(a.at)}. Nothing more needed.`;
  else if (notice.failed) middle = `${notice.failed.advice ?? `${notice.failed.channel} failed.`} ${a.summary}`;
  else middle = `${a.summary} at ${hhmm(a.raisedAt)}.`;
  return fitSms(head, middle, notice.link);
}
