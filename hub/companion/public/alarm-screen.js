/* global document */
// The loud SOS's screen on the phone (issue 15 item 7). Lone-worker apps (StaySafe, Peoplesafe)
// switch to a full-screen alarm view: what has happened to the alarm, a way to stop the siren, and a
// protected "I'm safe" to cancel a false alarm. The screen never claims more than the phone knows:
// "the office system has your alarm" only after the hub's ack of that event, "a duty officer has
// taken it" only after the hub's help-coming command (protocol: ack, hc, clr).

/** 24-hour local time, "14:05". */
export function hhmm(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** The phone's time zone as people read it ("GMT", "BST", "CET"), for "times are ..." lines. */
export function zoneName(ms = Date.now()) {
  const part = new Intl.DateTimeFormat([], { timeZoneName: 'short' }).formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName');
  return part ? part.value : Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * What the screen says, from what the phone knows of the alarm.
 * @param {{sentAt:number, ackedAt:number|null, takenAt:number|null, closedAt:number|null,
 *   cancelAt:number|null, cancelAckedAt:number|null}} a
 * @param {boolean} hubConnected
 * @returns {{title:string, status:string, advice:string, done:boolean}}
 */
export function alarmScreenText(a, hubConnected) {
  if (a.closedAt !== null) {
    return { title: 'Alarm closed', status: `The office closed your alarm at ${hhmm(a.closedAt)}.`, advice: '', done: true };
  }
  if (a.cancelAt !== null) {
    if (a.cancelAckedAt !== null) {
      return {
        title: 'Cancel received',
        status: `The office system has your cancel (${hhmm(a.cancelAckedAt)}). The alarm stays open until the duty officer has phoned you to check you are safe: answer their call.`,
        advice: '',
        done: true,
      };
    }
    return {
      title: 'Cancelling',
      status: hubConnected ? 'Sending your cancel to the office: not confirmed yet.' : 'No connection: your cancel is waiting on this phone and goes as soon as there is signal. Until then the office treats this as a real alarm.',
      advice: '',
      done: false,
    };
  }
  if (a.takenAt !== null) {
    return { title: 'Help is coming', status: `A duty officer took your alarm at ${hhmm(a.takenAt)}. Help is coming.`, advice: 'Get somewhere safe if you can. Keep the phone with you: the office may call.', done: false };
  }
  if (a.ackedAt !== null) {
    return {
      title: 'Alarm sent',
      status: `The office system has your alarm (${hhmm(a.ackedAt)}) and is alerting the duty officer. No one has confirmed they have taken it yet.`,
      advice: 'Get somewhere safe if you can. If you can, call 999.',
      done: false,
    };
  }
  return {
    title: 'Sending alarm',
    status: hubConnected ? `Sending your alarm to the office (since ${hhmm(a.sentAt)}): not confirmed yet.` : 'NO CONNECTION: your alarm has not reached the office. It is kept on this phone and sent as soon as there is signal.',
    advice: 'Call 999 now if you can.',
    done: false,
  };
}

/** A fresh 4-digit code the worker types to cancel: a pocket or a stray tap cannot cancel. */
export function confirmationCode(random) {
  return String(1000 + Math.floor(random() * 9000));
}

const $ = (id) => document.getElementById(id);

/** Puts the text on screen; the buttons follow what can still be done. */
export function renderAlarmScreen(a, hubConnected, sirenOn) {
  const text = alarmScreenText(a, hubConnected);
  $('alarm-screen').hidden = false;
  $('alarm-screen').dataset.state = text.title.toLowerCase().replace(/\s+/g, '-');
  $('alarm-title').textContent = text.title;
  $('alarm-status').textContent = text.status;
  $('alarm-advice').textContent = text.advice;
  $('siren-stop').hidden = !sirenOn;
  $('im-safe').hidden = a.cancelAt !== null || a.closedAt !== null || !$('safe-confirm').hidden;
  $('alarm-close').hidden = !text.done;
}
