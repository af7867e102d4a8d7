import { onPositionEvent } from './map-view.js';
import { $, toast } from './lib/dom.js';
import { state } from './lib/state.js';

import { get } from './lib/api.js';
import { alerting } from './sound.js';
import { refreshAlarmCount } from './open-alarms.js';
import { refreshForwardingWarning } from './forwarding.js';
import { setHubLost } from './duties.js';
import { route } from './router.js';
import { currentParam } from './lib/nav.js';

// The live stream (SSE) from the hub's change feed and what each event refreshes.
export function connectEvents() {
  if (state.events) state.events.close();
  const es = new EventSource('/api/events');
  state.events = es;
  const live = $('#live');
  let opened = false;
  es.addEventListener('open', () => {
    live.textContent = 'live';
    live.className = 'live';
    setHubLost(false);
    // After a reconnection, catch up on whatever changed while the stream was down.
    if (opened) {
      onAlarmEvent({});
      onPositionEvent({});
    }
    opened = true;
  });
  es.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
    setHubLost(true);
    // A stream refused because the session ended: the session check shows the sign-in form.
    clearTimeout(connectEvents.check);
    connectEvents.check = setTimeout(() => get('/api/auth/session').catch(() => undefined), 3000);
  });
  // A new position of an alarm (issue 20): the map on screen redraws in place (map-view.js).
  es.addEventListener('position', (ev) => onPositionEvent(eventData(ev)));
  es.addEventListener('admin', (ev) => onAdminEvent(eventData(ev)));
  // Changes on the hub's change feed (docs/hub.md, "The change feed"): a worker's day (a check-in, a
  // visit, a due time), a fob connecting or dropping, an itinerary or a record changed through the
  // command service (the CLI's commands sent to the running hub included). The lists re-read on each,
  // and a worker's own page on a change to that worker: the views are diffed, so a form in use stays.
  for (const topic of ['worker', 'device', 'visit']) {
    es.addEventListener(topic, (ev) => {
      const data = eventData(ev);
      if (state.route === 'worker' && data.workerId && data.workerId !== currentParam()) return;
      onAdminEvent();
    });
  }
  es.addEventListener('alarm', (ev) => onAlarmEvent(eventData(ev)));
}

/** An SSE event's JSON data; {} for data that is not JSON (each handler then re-reads what it shows). */
function eventData(ev) {
  try {
    return JSON.parse(ev.data);
  } catch {
    return {};
  }
}

/**
 * A worker, fob, user, token or visit changed here, on another console or with the CLI (hub/http/
 * admin-live.ts), or a worker's day changed: the admin page, the workers board and the worker page
 * fetch what they show again at once (issue 15 item 13). They are preact views: the new answer is
 * diffed into the page, so a half-filled form, the focus and a secret shown once (a new fob's, a new
 * token's: component state) stay as they are.
 */
let adminTimer = null;
export function onAdminEvent() {
  clearTimeout(adminTimer);
  adminTimer = setTimeout(() => {
    const r = state.route;
    if (r === 'admin' || r === 'workers' || r === 'worker') route();
  }, 120);
}

let refreshTimer = null;
let reAlert = false;
export function onAlarmEvent(data) {
  // An alarm already on the board notifying again (escalated, repeated, not resolved after being
  // taken): sound again, once per burst.
  if (data.type === 'notify' && state.openIds && state.openIds.has(data.alarmId)) reAlert = true;
  // Coalesce bursts (a raise is several events) into one refresh.
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    await refreshAlarmCount();
    // 'reload': the stream could not replay what was missed (away longer than the feed keeps).
    if (data.type === 'path' || data.type === 'delivery' || data.type === 'reload' || !data.type) refreshForwardingWarning();
    if (reAlert) {
      alerting.play('reAlert');
      toast('An alarm on the board notified again: see who is on it', true);
    }
    reAlert = false;
    const r = state.route;
    if (r === 'alarms' || r === 'workers' || (r === 'alarm' && currentParam() === data.alarmId)) route();
  }, 120);
}
