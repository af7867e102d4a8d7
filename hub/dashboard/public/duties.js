import { html, render } from '/vendor/preact.js';
import { $ } from './lib/dom.js';
import { Until } from './lib/live.js';
import { state } from './lib/state.js';
import { fmtTime, now, tickLiveTimes } from './lib/time.js';
import { updateAlerting } from './sound.js';

// ---------------------------------------------------------------------------------------------
// Duties that stand above every view (issue 15 items 3, 4): call-backs due and a lost hub.

/** The hub's live stream dropped (or came back): banner, sound and the stale times follow. */
export function setHubLost(lost) {
  if (lost && !state.hubLost) state.hubLostSince = now();
  state.hubLost = lost;
  const banner = $('#hub-lost');
  banner.hidden = !lost || !state.me;
  $('#hub-lost-since').textContent = lost ? ` at ${fmtTime(state.hubLostSince)}` : '';
  document.body.classList.toggle('hub-lost', lost);
  tickLiveTimes();
  updateAlerting();
}

/** Call-backs the officer promised, due or coming up, on every view (not only in the covert view). */
export function renderDuties() {
  const box = $('#duties');
  const items = (state.openAlarms || []).filter((a) => a.callbackDueAt !== null && a.callbackDueAt !== undefined).sort((x, y) => x.callbackDueAt - y.callbackDueAt);
  box.hidden = !state.me || items.length === 0;
  // Rendered every second (the ticker): preact diffs it, so "Open the alarm" is not replaced under a click.
  render(
    items.map((a) => {
      const due = a.callbackDueAt <= now();
      const who = a.workerName || a.workerId || a.deviceId || 'the worker';
      return html`<div key=${a.id} class=${`duty${due ? ' due' : ''}`} data-duty="callback" data-alarm=${a.id}><strong>${due ? 'CALL BACK NOW' : 'Call-back promised'}</strong><span>${` ${who} (${a.kindLabel}): due ${fmtTime(a.callbackDueAt)}, `}</span><${Until} at=${a.callbackDueAt} /><a class="button" href=${`#/alarm/${encodeURIComponent(a.id)}`}>Open the alarm</a></div>`;
    }),
    box,
  );
}

/** One title per view, with the alarm count first so a background tab still says ALARM. */
export function titleFor() {
  const names = { alarms: 'Alarms', alarm: 'Alarm', handover: 'Police hand-over', workers: 'Workers', worker: 'Worker', records: 'Records', admin: 'Administration' };
  const n = state.openTotal;
  const viewName = names[state.route] || 'Duty officer';
  document.title = `${n > 0 ? `(${n}) ALARM · ` : ''}${viewName} · Lonewatch`;
}
