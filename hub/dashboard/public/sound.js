import { Alerting } from './alerting.js';
import { $ } from './lib/dom.js';
import { state } from './lib/state.js';
import { now } from './lib/time.js';

// ---------------------------------------------------------------------------------------------
// Sound (issue 15 item 2): alerting.js repeats each duty's tone until it ends; this part only tells
// it the conditions and shows the officer whether sound is really on.

export const alerting = new Alerting({ onChange: () => updateSoundButton() });

export function updateSoundButton() {
  const b = $('#sound');
  const blocked = alerting.blocked;
  b.textContent = !alerting.wanted ? 'Sound: off (click)' : blocked ? 'Sound: blocked (click)' : 'Sound: on';
  b.className = alerting.wanted && !blocked ? 'ghost' : 'danger';
  b.setAttribute('aria-pressed', String(alerting.wanted && !blocked));
  // The browser's autoplay policy keeps sound off after a reload until a click: a banner that stays
  // until the officer clicks, because a silent console misses alarms.
  const banner = $('#sound-banner');
  if (banner) {
    banner.hidden = !state.me || !(blocked || !alerting.wanted);
    $('#sound-banner-text').textContent = blocked ? 'Alarm sound is blocked by the browser until you click. Alarms on the board will not be heard.' : 'Alarm sound is turned off on this console. Alarms on the board will not be heard.';
  }
}

/** What sounds now: alarms nobody has taken, call-backs due, the hub out of reach. */
export function updateAlerting() {
  const open = state.openAlarms || [];
  alerting.set({
    alarm: open.some((a) => !a.acknowledgedAt),
    callback: open.some((a) => a.callbackDueAt !== null && a.callbackDueAt !== undefined && a.callbackDueAt <= now()),
    hubLost: Boolean(state.me) && state.hubLost === true,
    pathDown: Boolean(state.me) && state.pathDown === true,
  });
}
