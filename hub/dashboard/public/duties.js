import { $, h } from './lib/dom.js';
import { state } from './lib/state.js';
import { fmtTime, now, tickLiveTimes, untilSpan } from './lib/time.js';
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
  box.replaceChildren(
    ...items.map((a) => {
      const due = a.callbackDueAt <= now();
      const who = a.workerName || a.workerId || a.deviceId || 'the worker';
      return h(
        'div',
        { class: `duty${due ? ' due' : ''}`, 'data-duty': 'callback', 'data-alarm': a.id },
        h('strong', { text: due ? 'CALL BACK NOW' : 'Call-back promised' }),
        h('span', { text: ` ${who} (${a.kindLabel}): due ${fmtTime(a.callbackDueAt)}, ` }),
        untilSpan(a.callbackDueAt),
        h('a', { class: 'button', href: `#/alarm/${encodeURIComponent(a.id)}` }, 'Open the alarm'),
      );
    }),
  );
}

/** One title per view, with the alarm count first so a background tab still says ALARM. */
export function titleFor() {
  const names = { alarms: 'Alarms', alarm: 'Alarm', handover: 'Police hand-over', workers: 'Workers', worker: 'Worker', records: 'Records', admin: 'Administration' };
  const n = (state.openAlarms || []).length;
  const viewName = names[state.route] || 'Duty officer';
  document.title = `${n > 0 ? `(${n}) ALARM · ` : ''}${viewName} · Lonewatch`;
}
