import { onPositionEvent } from './map-view.js';
import { $, toast } from './lib/dom.js';
import { kindSound } from './lib/words.js';
import { state, view } from './lib/state.js';

import { get } from './lib/api.js';
import { alerting, updateAlerting } from './sound.js';
import { refreshForwardingWarning } from './forwarding.js';
import { renderDuties, setHubLost, titleFor } from './duties.js';
import { currentParam, route } from './router.js';

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
  es.addEventListener('position', (ev) => {
    try {
      onPositionEvent(JSON.parse(ev.data));
    } catch {
      onPositionEvent({});
    }
  });
  es.addEventListener('admin', (ev) => {
    let data = {};
    try {
      data = JSON.parse(ev.data);
    } catch {
      data = {};
    }
    onAdminEvent(data);
  });
  // Changes on the hub's change feed (docs/hub.md, "The change feed"): a worker, fob or itinerary
  // changed through the command service, the CLI's commands sent to the running hub included (they
  // are neither this API's writes nor another process's commits, which the `admin` event covers).
  // Only the lists refresh on these: a worker's own page has forms in use and shows the results of
  // the officer's own actions, which its own requests refresh.
  for (const topic of ['worker', 'device', 'visit']) {
    es.addEventListener(topic, () => {
      if (state.route === 'admin' || state.route === 'workers') onAdminEvent();
    });
  }
  es.addEventListener('alarm', (ev) => {
    let data = {};
    try {
      data = JSON.parse(ev.data);
    } catch {
      data = {};
    }
    onAlarmEvent(data);
  });
}

/**
 * A worker, fob, user, token or visit changed here, on another console or with the CLI (hub/http/
 * admin-live.ts): the admin page and the workers views fetch their lists again at once (issue 15
 * item 13). Not while the admin is typing in one of the admin page's forms: that refresh waits until
 * the focus leaves the form, so a half-filled form is never taken away.
 */
let adminTimer = null;
let adminPending = false;
/** The admin is in a field of one of the admin page's forms (a button pressed there is not typing). */
export function typingInAdminForm() {
  const el = document.activeElement;
  return Boolean(el && el.closest && el.closest('#admin form') && ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}
export function onAdminEvent() {
  clearTimeout(adminTimer);
  adminTimer = setTimeout(() => {
    const r = state.route;
    // Not a worker's own page: it has forms in use (a visit being added, an extension) and shows the
    // results of the officer's own actions; a refresh there replaced the form under a click.
    if (r !== 'admin' && r !== 'workers') return;
    if (r === 'admin' && typingInAdminForm()) {
      adminPending = true;
      return;
    }
    adminPending = false;
    // A secret shown this once (a new fob's, a new token's) stays on screen through the refresh: the
    // admin has not written it down yet, and the hub cannot show it again.
    const once = [...view.querySelectorAll('[data-once]')].map((el) => [el.dataset.once, [...el.childNodes]]);
    route({ keepScroll: true }).then(() => {
      for (const [key, nodes] of once) view.querySelector(`[data-once="${key}"]`)?.replaceChildren(...nodes);
    });
  }, 120);
}
/** A refresh held back while the admin typed runs once the focus leaves the form. */
export function wireAdminFocus() {
  document.addEventListener('focusout', () => {
    // After the focus has moved: still inside an admin form (the next field) is still typing.
    setTimeout(() => {
      if (!adminPending || state.route !== 'admin' || typingInAdminForm()) return;
      onAdminEvent();
    }, 0);
  });
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
    if (r === 'alarms' || r === 'workers' || (r === 'alarm' && currentParam() === data.alarmId)) route({ keepScroll: true });
  }, 120);
}

export async function refreshAlarmCount() {
  let data;
  try {
    data = await get('/api/alarms?open=true');
  } catch (err) {
    // A fetch that never reached the hub (network down) is a lost hub too, even if the stream
    // has not noticed yet; a refusal (401, 500) is not.
    if (err instanceof TypeError) setHubLost(true);
    return;
  }
  const open = data.alarms.filter((a) => a.open);
  const badge = $('#alarm-count');
  badge.textContent = String(open.length);
  badge.hidden = open.length === 0;
  const ids = new Set(open.map((a) => a.id));
  if (state.openIds) {
    const fresh = open.filter((a) => !state.openIds.has(a.id));
    if (fresh.length > 0) {
      const loud = fresh.some((a) => kindSound(a.kind) === 'alarm');
      toast(`New alarm: ${fresh.map((a) => `${a.kindLabel} · ${a.workerName || a.deviceId || 'unknown'}`).join(', ')}`, loud);
      state.freshIds = new Set(fresh.map((a) => a.id));
    }
  }
  state.openIds = ids;
  state.openAlarms = open;
  updateAlerting();
  renderDuties();
  titleFor();
}
