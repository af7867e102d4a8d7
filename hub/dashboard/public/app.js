// Lonewatch duty officer dashboard. Plain JS, no build step; the CSP allows only this file and
// style.css, so nothing here uses inline handlers or styles. Every piece of text from the hub is set
// with textContent (never innerHTML).
import { Alerting } from './alerting.js';
import { initMapView, onPositionEvent, positionPanel } from './map-view.js';

const $ = (sel, root = document) => root.querySelector(sel);
const view = $('#view');

const state = {
  me: null,
  csrf: null,
  /** serverNow - Date.now(): the hub may run on a drill (or test) clock. */
  skew: 0,
  /** Open alarms as last fetched (the sound's conditions are computed from them). */
  openAlarms: [],
  /** True while the live stream to the hub is down (item 4). */
  hubLost: false,
  openIds: null,
  events: null,
  timers: [],
  route: '',
};

const STEP_LABEL = {
  raised: 'Alarm raised',
  notify: 'Ladder step',
  acknowledged: 'Acknowledged',
  resolved: 'Resolved',
  cancelled: 'Cancelled (false alarm)',
  note: 'Note',
  script_answer: 'Script answer',
  callback_scheduled: 'Call-back timer started',
  callback_done: 'Called back',
  callback_due: 'Call-back due',
  police_called: '999 called',
  handover_viewed: 'Police hand-over opened',
  delivery: 'Delivery',
  escalated: 'Escalated',
  repeated: 'Ladder repeated',
  re_alert: 'Re-alert',
  police_advised: '999 advised',
  exhausted: 'Ladder exhausted',
  undeliverable: 'Undeliverable',
  refused: 'Refused',
  worker_cancelled: 'Cancelled by the worker: call back to confirm',
};
const ANSWER_LABEL = { yes: 'Yes', no: 'No', no_answer: 'No answer' };

// ---------------------------------------------------------------------------------------------
// Small DOM helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const now = () => Date.now() + state.skew;
const pad = (n) => String(n).padStart(2, '0');
function fmtTime(ms) {
  if (ms === null || ms === undefined) return '–';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
/** The browser's zone as people read it ("GMT", "BST"): dates on records say which clock they use. */
function zoneOf(ms) {
  const part = new Intl.DateTimeFormat([], { timeZoneName: 'short' }).formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName');
  return part ? part.value : '';
}
function fmtDateTime(ms) {
  if (ms === null || ms === undefined) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtTime(ms)} ${zoneOf(ms)}`.trim();
}
/** "4 min 10 s" from milliseconds. */
function fmtDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
/** How fast a person took the alarm, in words (issue 15 item 15). */
function responseText(r) {
  if (r.acknowledgedAt) return `taken after ${fmtDuration(r.acknowledgedAt - r.raisedAt)} by ${String(r.acknowledgedBy).replace(/^user:/, '')}`;
  return r.open ? 'not taken yet' : 'closed without being taken';
}
function ago(ms) {
  if (ms === null || ms === undefined) return '–';
  const s = Math.round((now() - ms) / 1000);
  if (s < 60) return s <= 5 ? 'just now' : `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  return fmtDateTime(ms);
}
function until(ms) {
  const s = Math.round((ms - now()) / 1000);
  const a = Math.abs(s);
  const text = a < 3600 ? `${Math.floor(a / 60)} min` : `${Math.floor(a / 3600)} h ${Math.floor((a % 3600) / 60)} min`;
  return s >= 0 ? `in ${text}` : `${text} overdue`;
}
/** How long since `ms`, without "ago": "silent for 34 min". */
function since(ms) {
  const s = Math.max(0, Math.round((now() - ms) / 1000));
  if (s < 60) return 'under a minute';
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
/** Relative times that stay true on screen (issue 15 item 15): the 1-second ticker rewrites them. */
const untilSpan = (ms) => h('span', { 'data-until': String(ms), text: until(ms) });
const agoSpan = (ms) => h('span', { 'data-ago': String(ms), text: ago(ms) });
const sinceSpan = (ms) => h('span', { 'data-since': String(ms), text: since(ms) });
/** "2026-11-23 09:12 (3 min ago)", the relative part live. */
const atAgo = (ms) => [fmtTime(ms), ' (', agoSpan(ms), ')'];

/**
 * The alarm's reason as it stands now: a "device silent" alarm's stored reason says how long the fob
 * was silent when the alarm was raised ("Device silent for 20 min"); while it is open the hub sends
 * when the fob was last heard from (`silentSince`), and the silence is counted live from that.
 */
function reasonNow(a) {
  if (a.kind === 'device_silent' && a.open && a.silentSince) {
    return [`Fob ${a.deviceId || ''} silent for `, sinceSpan(a.silentSince), ` (last heard ${fmtTime(a.silentSince)}) during a shift`];
  }
  return [a.reason || ''];
}

/**
 * Rewrites every relative time on screen. While the hub is unreachable a "told again in 1 min" is a
 * guess about a ladder the console cannot see, so it is replaced by a plain "not known" (item 4).
 */
function tickLiveTimes() {
  for (const el of document.querySelectorAll('[data-until]')) {
    el.textContent = state.hubLost ? '(not known: hub unreachable)' : until(Number(el.dataset.until));
    el.classList.toggle('stale-time', state.hubLost);
  }
  for (const el of document.querySelectorAll('[data-ago]')) el.textContent = ago(Number(el.dataset.ago));
  for (const el of document.querySelectorAll('[data-since]')) el.textContent = since(Number(el.dataset.since));
}

const canSee = (...roles) => state.me && roles.includes(state.me.role);

function toast(message, bad = false) {
  const t = $('#toast');
  t.textContent = message;
  t.className = bad ? 'toast bad' : 'toast';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), bad ? 8000 : 3500);
}

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `the hub answered ${status}`);
    this.status = status;
    this.field = body && body.field;
    this.refused = body && Array.isArray(body.refused) ? body.refused : null;
  }
}

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && state.csrf) headers['x-csrf-token'] = state.csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (data && typeof data.serverNow === 'number') state.skew = data.serverNow - Date.now();
  if (res.status === 401 && !path.startsWith('/api/auth/sign-in')) {
    showSignIn();
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
const get = (p) => api('GET', p);
const post = (p, b = {}) => api('POST', p, b);
initMapView({ get, now });

/** Runs an action from a button: disables it meanwhile, shows the hub's message when refused. */
async function act(button, fn, done) {
  if (button) button.disabled = true;
  try {
    const r = await fn();
    if (done) toast(done);
    return r;
  } catch (err) {
    toast(err.message, true);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Sound (issue 15 item 2): alerting.js repeats each duty's tone until it ends; this part only tells
// it the conditions and shows the officer whether sound is really on.

const alerting = new Alerting({ onChange: () => updateSoundButton() });

function updateSoundButton() {
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
function updateAlerting() {
  const open = state.openAlarms || [];
  alerting.set({
    alarm: open.some((a) => !a.acknowledgedAt),
    callback: open.some((a) => a.callbackDueAt !== null && a.callbackDueAt !== undefined && a.callbackDueAt <= now()),
    hubLost: Boolean(state.me) && state.hubLost === true,
    pathDown: Boolean(state.me) && state.pathDown === true,
  });
}

// ---------------------------------------------------------------------------------------------
// Sign-in and live events

function showSignIn() {
  state.me = null;
  if (state.events) state.events.close();
  state.events = null;
  $('#top').hidden = true;
  view.hidden = true;
  const fw = $('#forwarding-warning');
  if (fw) fw.hidden = true;
  $('#signin').hidden = false;
  $('#hub-lost').hidden = true;
  $('#duties').hidden = true;
  updateSoundButton();
  document.title = 'Sign in · Lonewatch';
  // `autofocus` acts only on page load, when this form is still hidden: focus it when shown.
  $('#signin-form input[name=username]').focus();
  firstRunHint();
}

// ---------------------------------------------------------------------------------------------
// First run (issue 15 item 9): with no admin account nobody can sign in. The sign-in page says how
// to create the first admin; the set-up page (the one-time link from the hub's log) creates it.

async function firstRunHint() {
  const hint = $('#signin-setup');
  try {
    const s = await get('/api/auth/setup');
    hint.hidden = !s.setupNeeded;
    hint.textContent = s.setupNeeded ? `This hub has no admin account yet. Open the one-time set-up link the hub printed in its log when it started, or run on the hub: ${s.command}` : '';
  } catch {
    hint.hidden = true;
  }
}

function showSetup(token) {
  $('#top').hidden = true;
  view.hidden = true;
  $('#signin').hidden = true;
  $('#setup').hidden = false;
  const form = $('#setup-form');
  const out = $('#setup-result');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = form.elements;
    out.hidden = false;
    try {
      const r = await post('/api/auth/setup', { token, username: f.username.value.trim(), name: f.name.value.trim() || undefined, password: f.password.value });
      out.className = 'ok';
      out.textContent = `Admin ${r.user.username} created. This link no longer works. Sign in now.`;
      form.querySelector('button[type=submit]').disabled = true;
      window.history.replaceState(null, '', '/');
      $('#setup').hidden = true;
      showSignIn();
      $('#signin-form input[name=username]').value = r.user.username;
      toast(`Admin ${r.user.username} created: sign in`);
    } catch (err) {
      out.className = 'error';
      out.textContent = err.message;
    }
  });
}

async function start() {
  if (location.hash.startsWith('#/setup/')) return showSetup(decodeURIComponent(location.hash.slice('#/setup/'.length)));
  try {
    const s = await get('/api/auth/session');
    if (s.user.role === 'worker') {
      await post('/api/auth/sign-out');
      showSignIn();
      return;
    }
    signedIn(s.user, s.csrf);
  } catch {
    showSignIn();
  }
}

// ---------------------------------------------------------------------------------------------
// Forwarding (issue 16): who was told, by what, and how it went; the standing warning when a policy
// can reach nobody or a channel's path (the ARC) is down or refusing. Kept apart from the rest so the
// board and alarm views only call these.

const CHANNEL_LABEL = { email: 'e-mail', webhook: 'webhook', arc: 'ARC', sms: 'SMS' };
// The words of each delivery (who, by what, what was confirmed) come from the hub
// (hub/notifiers/delivery-words.ts), so the board, the alarm view and the CSV say the same thing; the
// relay's own answers and the notice ids are only in the hover text (`technical`), for IT.
const DELIVERY_BAD = new Set(['failed', 'fallthrough', 'not_configured', 'no_address', 'no_contact']);

function deliveryChips(lines) {
  const shown = lines.filter((l) => !l.closed);
  if (shown.length === 0) return null;
  return h(
    'div',
    { class: 'told', 'data-told': String(shown.length) },
    shown.map((l) =>
      h('span', { class: `chip${DELIVERY_BAD.has(l.state) ? ' bad' : ''}`, 'data-delivery': l.state, title: l.text }, `${l.who} · ${CHANNEL_LABEL[l.channel] || l.channel || ''}${l.via ? ` (for ${CHANNEL_LABEL[l.via] || l.via})` : ''} · ${l.confirmed}`),
    ),
  );
}

function deliveryTable(lines) {
  if (lines.length === 0) return h('p', { class: 'muted', text: 'Nobody outside the dashboard has been told of this alarm.' });
  return h(
    'table',
    { class: 'told-table', id: 'told-table' },
    h('thead', {}, h('tr', {}, h('th', { text: 'Who' }), h('th', { text: 'Channel' }), h('th', { text: 'Address' }), h('th', { text: 'State' }), h('th', { text: 'Why' }), h('th', { text: 'At' }))),
    h(
      'tbody',
      {},
      lines.map((l) =>
        h(
          'tr',
          { 'data-delivery': l.state, class: DELIVERY_BAD.has(l.state) ? 'bad' : '', title: l.technical || '' },
          h('td', { text: l.who + (l.closed ? ' (told it is over)' : '') }),
          h('td', { text: `${CHANNEL_LABEL[l.channel] || l.channel || '–'}${l.via ? ` instead of ${CHANNEL_LABEL[l.via] || l.via}` : ''}` }),
          h('td', { text: l.address || '–' }),
          h('td', { text: l.confirmed }),
          h('td', { text: l.state === 'fallthrough' ? '' : l.reason || '' }),
          h('td', { text: fmtTime(l.at) }),
        ),
      ),
    ),
  );
}

/** The standing warning above every view: policies that reach nobody, and channel paths down or refusing. */
async function refreshForwardingWarning() {
  let d;
  try {
    d = await get('/api/forwarding');
  } catch {
    return;
  }
  let box = $('#forwarding-warning');
  if (!box) {
    box = h('div', { id: 'forwarding-warning', class: 'warning standing', role: 'alert' });
    view.parentNode.insertBefore(box, view);
  }
  const badPaths = d.paths.filter((p) => p.state !== 'up');
  const items = [
    ...badPaths.map((p) => {
      const arc = p.channel === 'arc';
      const what = arc ? 'alarm receiving centre' : CHANNEL_LABEL[p.channel] || p.channel;
      const todo = arc ? 'Alarms are not reaching the ARC: phone them about each open alarm, or dial 999 for an emergency.' : `Alarms are not reaching the ${what}: the people on the ladder are still told by the other channels.`;
      return h('p', { 'data-path': p.channel, class: 'path-alarm', text: `ALARM: the path to the ${what} is ${p.state === 'down' ? 'DOWN' : 'REFUSING our messages'} since ${fmtTime(p.since)}${p.reason ? `: ${p.reason}` : ''}. ${todo}` });
    }),
    ...d.reachesNobody.map((r) => h('p', { 'data-policy': r.policy, text: `Warning: ${r.message}. Configure [notifiers] in lonewatch.toml or add contacts.` })),
  ];
  box.hidden = items.length === 0;
  box.replaceChildren(...items);
  // A path that just went down or started refusing is an alarm: it sounds.
  const key = badPaths.map((p) => `${p.channel}:${p.state}`).join(',');
  // It repeats its own tone until the path is back (issue 16), like an alarm nobody has taken.
  state.pathDown = key !== '';
  if (key && key !== refreshForwardingWarning.last) updateAlerting();
  refreshForwardingWarning.last = key;
}

function signedIn(user, csrf) {
  state.me = user;
  state.csrf = csrf;
  $('#signin').hidden = true;
  $('#top').hidden = false;
  view.hidden = false;
  $('#me').textContent = `${user.name} · ${user.role.replace('_', ' ')}`;
  document.body.dataset.role = user.role;
  alerting.init();
  updateSoundButton();
  connectEvents();
  refreshAlarmCount();
  refreshForwardingWarning();
  clearInterval(signedIn.tick);
  signedIn.tick = setInterval(() => {
    tickLiveTimes();
    renderDuties();
    updateAlerting();
  }, 1000);
  // A safety net under the live stream (a proxy that buffers it, a laptop waking up): new alarms
  // still ring within 30 seconds.
  clearInterval(signedIn.poll);
  signedIn.poll = setInterval(() => state.me && (refreshAlarmCount(), refreshForwardingWarning()), 30_000);
  route();
}

$('#signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const err = $('#signin-error');
  err.hidden = true;
  if (alerting.wanted) alerting.enable(); // a click: the browser lets the page make sound from now on
  try {
    const r = await post('/api/auth/sign-in', { username: form.username.value, password: form.password.value });
    form.password.value = '';
    signedIn(r.user, r.csrf);
  } catch (ex) {
    err.textContent = ex.message;
    err.hidden = false;
  }
});

$('#sound-enable').addEventListener('click', () => alerting.enable());
$('#sign-out').addEventListener('click', async () => {
  await post('/api/auth/sign-out').catch(() => undefined);
  location.hash = '#/alarms';
  showSignIn();
});
$('#sound').addEventListener('click', () => {
  // Blocked (autoplay) or off: a click turns it on; on: a click turns it off, remembered.
  if (alerting.wanted && !alerting.blocked) alerting.disable();
  else alerting.enable();

});

function connectEvents() {
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
function typingInAdminForm() {
  const el = document.activeElement;
  return Boolean(el && el.closest && el.closest('#admin form') && ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}
function onAdminEvent() {
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
document.addEventListener('focusout', () => {
  // After the focus has moved: still inside an admin form (the next field) is still typing.
  setTimeout(() => {
    if (!adminPending || state.route !== 'admin' || typingInAdminForm()) return;
    onAdminEvent();
  }, 0);
});

let refreshTimer = null;
let reAlert = false;
function onAlarmEvent(data) {
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

async function refreshAlarmCount() {
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
      const loud = fresh.some((a) => a.priority <= 2);
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

// ---------------------------------------------------------------------------------------------
// Duties that stand above every view (issue 15 items 3, 4): call-backs due and a lost hub.

/** The hub's live stream dropped (or came back): banner, sound and the stale times follow. */
function setHubLost(lost) {
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
function renderDuties() {
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
function titleFor() {
  const names = { alarms: 'Alarms', alarm: 'Alarm', handover: 'Police hand-over', workers: 'Workers', worker: 'Worker', records: 'Records', admin: 'Administration' };
  const n = (state.openAlarms || []).length;
  const viewName = names[state.route] || 'Duty officer';
  document.title = `${n > 0 ? `(${n}) ALARM · ` : ''}${viewName} · Lonewatch`;
}

// ---------------------------------------------------------------------------------------------
// Router

function currentParam() {
  return decodeURIComponent(location.hash.split('/')[2] || '');
}

async function route(opts = {}) {
  if (!state.me) return;
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  const parts = location.hash.replace(/^#\/?/, '').split('?')[0].split('/');
  const name = parts[0] || 'alarms';
  const sub = parts[2] || '';
  state.route = name === 'alarm' && sub === 'handover' ? 'handover' : name;
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (name === 'alarm' ? 'alarms' : name === 'worker' ? 'workers' : name));
  titleFor();
  try {
    let content;
    if (name === 'alarms') content = await alarmsView();
    else if (name === 'alarm' && sub === 'handover') content = await handoverView(currentParam());
    else if (name === 'alarm') content = await alarmView(currentParam());
    else if (name === 'workers') content = await workersView();
    else if (name === 'worker') content = await workerView(currentParam());
    else if (name === 'records' && parts[1] === 'print') content = await recordsPrintView();
    else if (name === 'records') content = await recordsView();
    else if (name === 'admin') content = await adminView();
    else content = h('p', { text: 'Nothing here.' });
    // What the officer typed or chose is read just before the swap, not before the fetch: a choice
    // made while the refresh was loading (an outcome picked, a note typed) must not be lost.
    const keep = opts.keepScroll ? preserve() : null;
    view.replaceChildren(content);
    if (keep) keep();
  } catch (err) {
    if (err.status !== 401) view.replaceChildren(h('p', { class: 'error', text: err.message }));
  }
}
window.addEventListener('hashchange', () => route());

/** Keeps what the officer was typing (and the scroll position) across a live refresh. */
function preserve() {
  const values = new Map();
  for (const el of view.querySelectorAll('[data-keep]')) values.set(el.dataset.keep, el.value);
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.keep : undefined;
  const y = window.scrollY;
  return () => {
    for (const el of view.querySelectorAll('[data-keep]')) if (values.has(el.dataset.keep)) el.value = values.get(el.dataset.keep);
    if (focused) {
      const el = view.querySelector(`[data-keep="${focused}"]`);
      if (el) el.focus();
    }
    window.scrollTo(0, y);
  };
}

function queryParams() {
  const q = location.hash.split('?')[1] || '';
  return new URLSearchParams(q);
}

// ---------------------------------------------------------------------------------------------
// Alarm board

function alarmCard(a) {
  const fresh = state.freshIds && state.freshIds.has(a.id);
  return h(
    'article',
    { class: `alarm k-${a.kind}${a.open ? '' : ' closed'}${fresh ? ' fresh' : ''}`, 'data-alarm': a.id, 'data-kind': a.kind },
    h('div', {}, h('div', { class: 'kind' }, a.kindLabel), h('span', { class: `state s-${a.state}`, text: a.state }), a.drill ? h('span', { class: 'drill', text: 'DRILL' }) : null, a.stale ? h('span', { class: 'stale', title: 'raised on the fob more than 7 days before it reached the hub', text: 'STALE: happened days ago' }) : null),
    h(
      'div',
      {},
      h('div', { class: 'who-line', text: a.workerName || a.workerId || `device ${a.deviceId}` }),
      h('div', { class: 'meta' }, `Raised ${fmtTime(a.raisedAt)} (`, agoSpan(a.raisedAt), ')', a.visitRef ? ` · visit ${a.visitRef}` : '', a.acknowledgedBy ? ` · taken by ${a.acknowledgedBy.replace(/^user:/, '')}` : ''),
      h('div', { class: 'meta', 'data-reason': a.kind }, ...reasonNow(a)),
      a.open && a.workerCancelledAt ? h('div', { class: 'callout amber', 'data-worker-cancelled': 'true', text: `Cancelled by the worker at ${fmtTime(a.workerCancelledAt)}: call back to confirm` }) : null,
      a.open && a.step ? h('div', { class: 'step' }, stepLine(a)) : null,
      a.open && a.deliveries ? deliveryChips(a.deliveries) : null,
    ),
    h(
      'div',
      { class: 'actions' },
      a.open && !a.acknowledgedAt ? h('button', { class: 'primary big', 'data-action': 'ack', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/acknowledge`), 'Acknowledged: you are in charge').then(() => route({ keepScroll: true })) }, 'Acknowledge') : null,
      h('a', { class: 'button big', href: `#/alarm/${encodeURIComponent(a.id)}` }, a.open ? 'Open' : 'Record'),
    ),
  );
}

/** Where the escalation ladder is: what the policy says to do now, and when it moves on. */
function stepLine(a) {
  const waiting = a.nextStepAt && !a.acknowledgedAt;
  // Not "everyone has been told": whether anyone was is in the delivery lines (issue 16).
  if (a.allAtOnce) return ['Every level of the ladder was started at once (who was told: see below)', waiting ? ['; again ', untilSpan(a.nextStepAt), ' unless someone takes charge'] : ''];
  return [`Now: ${a.step} (step ${a.level + 1} of ${a.steps}`, waiting ? ['; next step ', untilSpan(a.nextStepAt)] : '', ')'];
}

async function alarmsView() {
  const data = await get('/api/alarms?limit=60');
  const open = data.alarms.filter((a) => a.open);
  const closed = data.alarms.filter((a) => !a.open).slice(0, 12);
  // "raised 3 min ago" stays true without a reload.
  state.timers.push(setInterval(() => route({ keepScroll: true }), 30_000));
  return h(
    'section',
    { id: 'board' },
    h('div', { class: 'board-head' }, h('h1', { text: open.length ? `${open.length} active alarm${open.length > 1 ? 's' : ''}` : 'No active alarms' }), h('span', { class: 'muted', text: `Loudest first · updated ${fmtTime(now())}` })),
    open.length ? h('div', { class: 'alarms', id: 'open-alarms' }, open.map(alarmCard)) : h('div', { class: 'empty', text: 'All quiet. New alarms appear here at once, with a sound.' }),
    closed.length ? h('h2', { text: 'Recently closed' }) : null,
    h('div', { class: 'alarms', id: 'closed-alarms' }, closed.map(alarmCard)),
  );
}

// ---------------------------------------------------------------------------------------------
// One alarm: actions, covert script, visit, last sighting, timeline

function stepText(e) {
  const d = e.detail || {};
  switch (e.type) {
    case 'script_answer':
      return `${d.text} → ${ANSWER_LABEL[d.answer] || d.answer}${d.note ? ` (${d.note})` : ''}`;
    case 'note':
      return d.text || '';
    case 'raised':
      return [d.reason, d.deviceId ? `fob ${d.deviceId}` : '', d.visitRef ? `visit ${d.visitRef}` : '', d.lastSightingAt ? `last sighting ${fmtTime(d.lastSightingAt)}` : '', d.drill ? 'DRILL' : ''].filter(Boolean).join(' · ');
    case 'notify':
      // What the ladder asked for; what came of it is in the delivery lines that follow.
      return `${d.name || `level ${(d.level ?? 0) + 1}`}: to tell ${(d.targets || []).join(', ').replace(/_/g, ' ')}${d.channels ? ` (policy channels: ${d.channels.join(', ')})` : ''}`;
    case 'delivery':
      // Worded by the hub; an older hub's entry without words falls back to its state.
      return e.text || String(d.status || '').replace(/_/g, ' ');
    case 'escalated':
      return `level ${(d.level ?? 0) + 1}: ${d.name || ''}`;
    case 'refused':
      return `${String(d.input || '').replace(/_/g, ' ')}: ${d.why || ''}`;
    case 'callback_scheduled':
      return `call back at ${fmtTime(d.dueAt)}`;
    case 'callback_due':
      return `the call-back promised for ${fmtTime(d.dueAt)} is due: call the worker now`;
    case 'police_called':
      return d.reference ? `reference ${d.reference}` : '';
    case 'resolved':
      return [d.outcome ? OUTCOME_LABEL[d.outcome] || d.outcome : '', d.note || '', d.override ? `override: taken by ${String(d.takenBy).replace(/^user:/, '')}` : ''].filter(Boolean).join(' · ');
    case 'cancelled':
    case 'worker_cancelled':
      return d.note || d.reason || '';
    case 'handover_viewed':
      return `details shown: ${(d.fields || []).join(', ')}`;
    default: {
      const rest = Object.entries(d)
        .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
        .map(([k, v]) => `${k}: ${v}`);
      return rest.join(' · ');
    }
  }
}

function timelineList(entries) {
  return h(
    'ol',
    { class: 'timeline', id: 'timeline' },
    // A delivery's actor is the notifier's internal name (notifier:email): its sentence already says
    // the channel, and the ids are in the hover text for IT.
    entries.map((e) =>
      h(
        'li',
        { 'data-step': e.type, title: e.technical || null },
        h('span', { class: 't', text: fmtTime(e.at) }),
        h('span', { class: 'type', text: STEP_LABEL[e.type] || e.type.replace(/_/g, ' ') }),
        h('span', {}, stepText(e), e.type === 'delivery' ? null : h('span', { class: 'muted', text: ` · ${e.actor}` })),
      ),
    ),
  );
}

function visitFacts(visit, lastSighting) {
  return h(
    'dl',
    { class: 'facts' },
    h('dt', { text: 'Visit' }),
    h('dd', { id: 'visit-ref' }, visit ? visit.ref : 'no visit on record'),
    visit ? [h('dt', { text: 'Expected' }), h('dd', { text: `${fmtTime(visit.scheduledStart)} – ${fmtTime(visit.expectedEnd)}${visit.startedAt ? ` (started ${fmtTime(visit.startedAt)})` : ''}` })] : null,
    visit ? [h('dt', { text: 'Risk' }), h('dd', {}, h('span', { class: `rag ${visit.rag}`, text: visit.rag.toUpperCase() }), ` Category ${visit.riskCategory}`, visit.unplanned ? ' · unplanned' : '')] : null,
    visit && visit.nextLocation ? [h('dt', { text: 'Next location' }), h('dd', { text: visit.nextLocation })] : null,
    visit && (visit.contactName || visit.contactPhone) ? [h('dt', { text: 'Contact at the address' }), h('dd', {}, visit.contactName || '', ' ', telLink(visit.contactPhone, 'visit-contact-facts'))] : null,
    h('dt', { text: 'Last sighting' }),
    h('dd', { id: 'last-sighting' }, ...(lastSighting ? [...atAgo(lastSighting.at), ` · ${lastSighting.kind}${lastSighting.place ? ` · ${lastSighting.place}` : ''}`] : ['none recorded'])),
  );
}

function scriptPanel(a, script) {
  const callbackBox = h('div', { id: 'callback' });
  const renderTimer = () => {
    callbackBox.replaceChildren();
    if (script.callbackDueAt) {
      const left = script.callbackDueAt - now();
      const s = Math.max(0, Math.round(Math.abs(left) / 1000));
      callbackBox.append(
        h('div', { class: left <= 0 ? 'timer due' : 'timer', id: 'callback-timer', text: left <= 0 ? 'CALL BACK NOW' : `Call back in ${Math.floor(s / 60)}:${pad(s % 60)}` }),
        h('button', { class: 'good', 'data-action': 'callback-done', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/callback`, { action: 'done' }), 'Call-back recorded') }, 'Called back'),
      );
    } else if (a.open) {
      callbackBox.append(h('button', { 'data-action': 'callback-start', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/callback`, { action: 'start' }), 'Call-back timer started: 5 minutes') }, 'Start 5-minute call-back timer'));
    }
  };
  renderTimer();
  state.timers.push(setInterval(renderTimer, 1000));

  return h(
    'section',
    { class: 'card script', id: 'script' },
    h('h2', { text: 'Purple file script' }),
    h('p', { class: 'muted', text: 'Code phrase: “I will need the purple file when I get back to the office.” Ask one question at a time; the worker may only be able to say yes or no.' }),
    script.noAnswer ? h('div', { class: 'callout red', id: 'dial-999' }, 'No answer: dial 999 and call the police.') : null,
    h(
      'ol',
      {},
      script.questions.map((q) =>
        h(
          'li',
          { 'data-question': q.id },
          h('div', { class: 'q', text: q.text }),
          h(
            'div',
            { class: 'answers' },
            ['yes', 'no', 'no_answer'].map((ans) =>
              h(
                'button',
                {
                  type: 'button',
                  class: q.answer === ans ? 'chosen' : '',
                  'data-answer': ans,
                  disabled: !a.open,
                  onclick: (e) => {
                    const note = e.target.closest('li').querySelector('input');
                    act(e.target, () => post(`/api/alarms/${a.id}/script`, { question: q.id, answer: ans, ...(note.value.trim() ? { note: note.value.trim() } : {}) })).then((r) => {
                      if (r) note.value = '';
                    });
                  },
                },
                ANSWER_LABEL[ans],
              ),
            ),
            h('input', { placeholder: 'what they said (optional)', 'data-keep': `note-${q.id}`, 'aria-label': `note for: ${q.text}`, disabled: !a.open }),
          ),
          q.answer ? h('div', { class: 'recorded', text: `Recorded: ${ANSWER_LABEL[q.answer]}${q.note ? ` (“${q.note}”)` : ''} at ${fmtTime(q.at)} by ${String(q.by).replace(/^user:/, '')}` }) : null,
        ),
      ),
    ),
    callbackBox,
    h('ul', {}, script.after.map((t) => h('li', { text: t }))),
  );
}

async function alarmView(id) {
  const d = await get(`/api/alarms/${encodeURIComponent(id)}`);
  const a = d.alarm;
  const noteInput = h('textarea', { placeholder: 'Add a note to the timeline', 'data-keep': 'note', 'aria-label': 'note' });
  const reasonInput = h('input', { placeholder: 'why is it a false alarm?', 'data-keep': 'reason', 'aria-label': 'false alarm reason' });
  const policeRef = h('input', { placeholder: 'police reference (optional)', 'data-keep': 'police-ref', 'aria-label': 'police reference' });
  // The override box of the close panel also covers "Cancel as false alarm" (item 10).
  const overrideChecked = () => Boolean(view.querySelector('#close-alarm [data-action="override"]:checked'));
  const actions = a.open
    ? h(
        'section',
        { class: 'card', id: 'actions' },
        h(
          'div',
          { class: 'row' },
          !a.acknowledgedAt ? h('button', { class: 'primary big', 'data-action': 'ack', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/acknowledge`), 'Acknowledged: you are in charge') }, 'Acknowledge') : h('span', { class: 'ok', text: `Taken by ${String(a.acknowledgedBy).replace(/^user:/, '')} at ${fmtTime(a.acknowledgedAt)}` }),
          h('a', { class: 'button big', href: `#/alarm/${encodeURIComponent(a.id)}/handover`, 'data-action': 'handover' }, 'Police hand-over'),
        ),
        h('h3', { text: 'Note' }),
        noteInput,
        h(
          'div',
          { class: 'row' },
          h(
            'button',
            {
              'data-action': 'note',
              onclick: (e) => {
                if (!noteInput.value.trim()) return toast('Write the note first', true);
                act(e.target, () => post(`/api/alarms/${a.id}/notes`, { text: noteInput.value.trim() }), 'Note added').then((r) => {
                  if (r) noteInput.value = '';
                });
              },
            },
            'Add note',
          ),
          policeRef,
          h('button', { class: 'danger', 'data-action': 'police', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/police-called`, policeRef.value.trim() ? { reference: policeRef.value.trim() } : {}), '999 call recorded') }, '999 called'),
        ),
        closePanel(a, noteInput),
        h('h3', { text: 'False alarm' }),
        h('div', { class: 'row' }, reasonInput, h('button', { 'data-action': 'cancel', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/cancel`, { reason: reasonInput.value.trim(), ...(overrideChecked() ? { override: true } : {}) }), 'Cancelled as a false alarm (kept on record)') }, 'Cancel as false alarm')),
      )
    : h('p', { class: 'ok', id: 'closed-banner', text: `Closed (${a.state}${a.outcome ? `: ${OUTCOME_LABEL[a.outcome] || a.outcome}` : ''}) at ${fmtDateTime(a.closedAt)} by ${String(a.closedBy).replace(/^user:/, '')}` });

  const privateBox = h('div', { id: 'private' });
  const showPrivate = h(
    'button',
    {
      'data-action': 'private',
      onclick: async (e) => {
        const r = await act(e.target, () => get(`/api/workers/${encodeURIComponent(a.workerId)}/private`));
        if (r) privateBox.replaceChildren(privateFacts(r));
      },
    },
    'Show private details (logged)',
  );

  return h(
    'section',
    { id: 'alarm', 'data-alarm': a.id, 'data-state': a.state },
    h('div', { class: `alarm-head k-${a.kind}` }, h('h1', { text: `${a.kindLabel}: ${a.workerName || a.workerId || a.deviceId || ''}` }), h('span', { class: `state s-${a.state}`, id: 'alarm-state', text: a.state }), a.drill ? h('span', { class: 'drill', text: 'DRILL' }) : null, a.stale ? h('span', { class: 'stale', title: 'raised on the fob more than 7 days before it reached the hub', text: 'STALE: happened days ago' }) : null, h('span', { class: 'spacer' }), h('span', { class: 'muted', id: 'alarm-raised' }, `raised ${fmtTime(a.raisedAt)} (`, agoSpan(a.raisedAt), `) · ${a.deviceId || ''}`)),
    h(
      'div',
      { class: 'cols' },
      h('div', {}, workerCancelledBanner(a), a.kind === 'covert_sos' ? scriptPanel(a, d.script) : null, actions),
      h(
        'div',
        {},
        h('section', { class: 'card' }, h('h2', { text: 'Where they should be' }), visitFacts(d.visit, d.lastSighting), h('p', { class: 'muted', id: 'alarm-reason' }, ...reasonNow(a)), a.open && a.step ? h('p', { class: 'step', id: 'ladder-step' }, stepLine(a)) : null),
        positionPanel(a.id, 'alarm', a.open),
        callPanel(a, d),
        a.workerId ? h('section', { class: 'card' }, h('h2', { text: 'Private details' }), h('p', { class: 'muted', text: 'Shown only while this alarm is active, or to roles that need them; every view is logged.' }), showPrivate, privateBox) : null,
        d.deliveries ? h('section', { class: 'card', id: 'told' }, h('h2', { text: 'Who was told' }), deliveryTable(d.deliveries)) : null,
        h('section', { class: 'card' }, h('h2', { text: 'Timeline' }), timelineList(d.timeline)),
      ),
    ),
  );
}

function privateFacts(r) {
  const label = { phone: 'Phone', homeAddress: 'Home address', medicalNotes: 'Medical notes', car: 'Car', emergencyContacts: 'Emergency contacts', emergencyContactsOldText: 'Emergency contacts (old text)', description: 'Description' };
  return h(
    'div',
    {},
    h(
      'dl',
      { class: 'facts' },
      Object.entries(r.details)
        .filter(([k, v]) => k !== 'emergencyContactsOldText' || v)
        .map(([k, v]) => [h('dt', { text: label[k] || k }), k === 'emergencyContacts' ? h('dd', {}, emergencyFacts(v, null)) : h('dd', { 'data-field': k, text: v || '–' })]),
    ),
    r.withheld.length ? h('p', { class: 'warning', text: `Not shown: ${r.withheld.map((w) => label[w.field]).join(', ')}. ${r.withheld[0].reason}.` }) : null,
  );
}

// ---------------------------------------------------------------------------------------------
// Closing an alarm (issue 15 items 10, 11): the officer says how it ended, and who closes it is on
// the record. Only the officer who took the alarm may close it; an admin or manager may override,
// and the override is recorded.

const OUTCOME_LABEL = {
  genuine: 'Genuine: the worker needed help',
  false_alarm: 'False alarm',
  test: 'Test',
  safe_after_callback: 'Worker safe after call-back',
  police_attended: 'Police attended',
};

function closePanel(a, noteInput) {
  const me = state.me ? `user:${state.me.username}` : '';
  const takenByOther = a.acknowledgedBy && a.acknowledgedBy !== me;
  const mayOverride = canSee('admin', 'manager');
  const outcome = h('select', { name: 'outcome', 'aria-label': 'outcome', 'data-keep': 'outcome' }, h('option', { value: '', text: '(choose the outcome)' }), Object.entries(OUTCOME_LABEL).map(([v, t]) => h('option', { value: v, text: t })));
  const override = takenByOther && mayOverride ? h('input', { type: 'checkbox', name: 'override', 'data-action': 'override' }) : null;
  const who = state.me ? `${state.me.name || state.me.username} (${state.me.username})` : '';
  return h(
    'div',
    { id: 'close-alarm' },
    h('h3', { text: 'Close the alarm' }),
    takenByOther ? h('p', { class: 'muted', id: 'close-taken', text: `Taken by ${String(a.acknowledgedBy).replace(/^user:/, '')}: only they may close it${mayOverride ? ', or you, overriding (on the record)' : ''}.` }) : null,
    h(
      'div',
      { class: 'row' },
      h('label', {}, 'Outcome', outcome),
      override ? h('label', { class: 'inline' }, override, 'Override: close it for them') : null,
      h(
        'button',
        {
          class: 'good big',
          'data-action': 'resolve',
          disabled: Boolean(takenByOther && !mayOverride),
          onclick: (e) => {
            if (!outcome.value) return toast('Choose the outcome first: how did this alarm end?', true);
            const body = { outcome: outcome.value, ...(noteInput.value.trim() ? { note: noteInput.value.trim() } : {}), ...(override && override.checked ? { override: true } : {}) };
            act(e.target, () => post(`/api/alarms/${a.id}/resolve`, body), `Closed: ${OUTCOME_LABEL[outcome.value]}`);
          },
        },
        'Close alarm',
      ),
    ),
    h('p', { class: 'muted', id: 'close-who', text: `Closed as ${who}; the outcome, your name and the note go on the record.` }),
  );
}

/** A fob cancel after an SOS may be forced: the alarm waits for the officer's call-back (item 11). */
function workerCancelledBanner(a) {
  if (!a.open || !a.workerCancelledAt) return null;
  return h(
    'section',
    { class: 'card callout amber', id: 'worker-cancelled' },
    h('h2', { text: 'Cancelled by the worker: call back to confirm' }),
    h('p', { text: `The worker cancelled this alarm from the fob at ${fmtTime(a.workerCancelledAt)}. A cancel can be forced under duress: call them back, check they are safe (use the code questions if in doubt), then close the alarm with the outcome.` }),
  );
}

// ---------------------------------------------------------------------------------------------
// Numbers to call (issue 15 item 5): every number one click away as a tel: link. The worker's phone
// and home contact are private (R22): they are fetched, and logged, only when the officer asks.

function telLink(number, label) {
  if (!number) return h('span', { class: 'muted', text: 'no number on record' });
  return h('a', { class: 'button tel', href: `tel:${String(number).replace(/[^0-9+]/g, '')}`, 'data-tel': label, text: number });
}

function callPanel(a, d) {
  const v = d.visit;
  const c = d.contacts || {};
  const privateNumbers = h('dd', { id: 'call-worker' });
  const rows = [
    h('dt', { text: 'Worker and home contact' }),
    privateNumbers,
    h('dt', { text: `Contact at the visit address${v && v.contactName ? ` (${v.contactName})` : ''}` }),
    h('dd', {}, v ? telLink(v.contactPhone, 'visit-contact') : h('span', { class: 'muted', text: 'no visit on record' })),
    h('dt', { text: `Buddy${c.buddy ? ` (${c.buddy.name})` : ''}` }),
    h('dd', {}, c.buddy ? telLink(c.buddy.phone, 'buddy') : h('span', { class: 'muted', text: 'no buddy on record' })),
    h('dt', { text: `Line manager${c.lineManager ? ` (${c.lineManager.name})` : ''}` }),
    h('dd', {}, c.lineManager ? telLink(c.lineManager.phone, 'line-manager') : h('span', { class: 'muted', text: 'no line manager on record' })),
  ];
  if (a.workerId) {
    privateNumbers.append(
      h(
        'button',
        {
          'data-action': 'show-numbers',
          onclick: async (e) => {
            const r = await act(e.target, () => get(`/api/workers/${encodeURIComponent(a.workerId)}/private?fields=phone,emergencyContacts,emergencyContactsOldText`));
            if (!r) return;
            privateNumbers.replaceChildren(
              h('span', {}, 'Worker: ', r.details.phone !== undefined ? telLink(r.details.phone, 'worker') : h('span', { class: 'muted', text: 'not shown to you' })),
              h('br'),
              h('span', {}, 'Emergency contacts: ', r.details.emergencyContacts !== undefined ? emergencyFacts(r.details.emergencyContacts, r.details.emergencyContactsOldText) : h('span', { class: 'muted', text: 'not shown to you' })),
            );
          },
        },
        'Show the worker’s numbers (logged)',
      ),
    );
  } else privateNumbers.append(h('span', { class: 'muted', text: 'no worker on record' }));
  return h('section', { class: 'card', id: 'call' }, h('h2', { text: 'Numbers to call' }), h('dl', { class: 'facts' }, rows));
}


// ---------------------------------------------------------------------------------------------
// Police hand-over (R5): one printable page

async function handoverView(id) {
  const d = await get(`/api/alarms/${encodeURIComponent(id)}/handover`);
  const w = d.worker;
  const v = d.visit;
  const answered = d.script.questions.filter((q) => q.answer);
  return h(
    'section',
    { id: 'handover' },
    h('div', { class: 'row no-print' }, h('a', { class: 'button', href: `#/alarm/${encodeURIComponent(id)}` }, '← Back to the alarm'), h('button', { class: 'primary', 'data-action': 'print', onclick: () => window.print() }, 'Print')),
    h(
      'div',
      { class: 'paper' },
      h('h1', { text: `Police hand-over: ${d.alarm.kindLabel} for ${w.name}` }),
      h('p', { text: `Alarm ${d.alarm.id} raised ${fmtDateTime(d.alarm.raisedAt)}. Generated ${fmtDateTime(d.generatedAt)} by ${String(d.generatedBy).replace(/^user:/, '')}. CONFIDENTIAL.` }),
      h('h2', { text: 'Location' }),
      h(
        'dl',
        { class: 'facts big-fact' },
        h('dt', { text: 'Visit reference' }),
        h('dd', { 'data-field': 'visit', text: v ? `${v.ref} (look up the address in the case system)` : 'no visit on record' }),
        v ? [h('dt', { text: 'Expected there' }), h('dd', { text: `${fmtTime(v.scheduledStart)} – ${fmtTime(v.expectedEnd)}` })] : null,
        v ? [h('dt', { text: 'Risk' }), h('dd', { text: `${v.rag.toUpperCase()}, Category ${v.riskCategory}` })] : null,
        v && v.nextLocation ? [h('dt', { text: 'Next location' }), h('dd', { text: v.nextLocation })] : null,
        v ? [h('dt', { text: `Contact at the visit address${v.contactName ? ` (${v.contactName})` : ''}` }), h('dd', { 'data-field': 'visitContact' }, v.contactPhone ? telLink(v.contactPhone, 'visit-contact') : '–')] : null,
        h('dt', { text: 'Last confirmed sighting' }),
        h('dd', { text: d.lastSighting ? `${fmtDateTime(d.lastSighting.at)} · ${d.lastSighting.kind}${d.lastSighting.place ? ` · ${d.lastSighting.place}` : ''}${d.lastSighting.position ? ` · near ${d.lastSighting.position.lat}, ${d.lastSighting.position.lon} (within ${d.lastSighting.position.accuracyM} m)` : ''}` : 'none recorded' }),
        h('dt', { text: 'Home address' }),
        h('dd', { 'data-field': 'homeAddress', text: w.homeAddress || '–' }),
      ),
      // The one place the hand-over shows the position (issue 20): the card with the map, age, accuracy and geo:/OSM links.
      positionPanel(id, 'handover', d.alarm.open !== false),
      h('h2', { text: 'The worker' }),
      h(
        'dl',
        { class: 'facts big-fact' },
        h('dt', { text: 'Name' }),
        h('dd', { text: w.name }),
        h('dt', { text: 'Description' }),
        h('dd', { 'data-field': 'description', text: w.description || '–' }),
        h('dt', { text: 'Phone' }),
        h('dd', { 'data-field': 'phone' }, w.phone ? telLink(w.phone, 'worker') : '–'),
        h('dt', { text: 'Emergency contacts' }),
        h('dd', {}, emergencyFacts(w.emergencyContacts, w.emergencyContactsOldText)),
        h('dt', { text: 'Medical details' }),
        h('dd', { 'data-field': 'medicalNotes', text: w.medicalNotes || '–' }),
        h('dt', { text: 'Car (make, colour, registration)' }),
        h('dd', { 'data-field': 'car', text: w.car || '–' }),
        h('dt', { text: 'Fob' }),
        h('dd', { text: d.device ? `${d.device.id}${d.device.board ? ` (${d.device.board})` : ''}, last heard ${fmtDateTime(d.device.lastSeenAt)}` : '–' }),
      ),
      d.withheld.length ? h('p', { class: 'warning', text: `Not shown to you: ${d.withheld.map((x) => x.field).join(', ')}.` }) : null,
      handoverRecord(d),
      answered.length ? [h('h2', { text: 'What the worker said (purple file script)' }), h('ul', {}, answered.map((q) => h('li', { text: `${q.text} ${ANSWER_LABEL[q.answer]}${q.note ? ` (“${q.note}”)` : ''} at ${fmtTime(q.at)}` })))] : null,
    ),
  );
}

/** The 999 reference, the officer's notes and who else to phone, for the police (issue 15 item 14). */
function handoverRecord(d) {
  const refs = d.policeReferences || [];
  const c = d.contacts || {};
  const who = (by) => String(by).replace(/^user:/, '');
  return [
    h('h2', { text: 'Police (999) reference' }),
    h('p', { id: 'handover-999', text: refs.length ? refs.map((r) => `${r.reference || 'no reference given'} (999 called ${fmtTime(r.at)} by ${who(r.by)})`).join('; ') : '999 not yet recorded as called: record it on the alarm page with the reference the police give' }),
    h('h2', { text: 'Officer’s notes' }),
    (d.notes || []).length ? h('ul', { id: 'handover-notes' }, d.notes.map((n) => h('li', { text: `${fmtTime(n.at)} ${who(n.by)}: ${n.text}` }))) : h('p', { id: 'handover-notes', class: 'muted', text: 'no notes' }),
    h('h2', { text: 'Others to phone' }),
    h(
      'dl',
      { class: 'facts' },
      h('dt', { text: `Buddy${c.buddy ? ` (${c.buddy.name})` : ''}` }),
      h('dd', {}, c.buddy && c.buddy.phone ? telLink(c.buddy.phone, 'buddy') : '–'),
      h('dt', { text: `Line manager${c.lineManager ? ` (${c.lineManager.name})` : ''}` }),
      h('dd', {}, c.lineManager && c.lineManager.phone ? telLink(c.lineManager.phone, 'line-manager') : '–'),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------
// Workers board and one worker

const chipClass = (s) => `chip ${s.replace(/\s+/g, '-')}`;

async function workersView() {
  const d = await get('/api/workers');
  // Check-ins and sightings do not raise events: the board refreshes itself too.
  state.timers.push(setInterval(() => route({ keepScroll: true }), 30_000));
  return h(
    'section',
    { id: 'workers' },
    h('h1', { text: 'Workers' }),
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ['Worker', 'Status', 'Visit', 'Next check-in due', 'Last sighting', 'Fob'].map((t) => h('th', { text: t })))),
      h(
        'tbody',
        {},
        d.workers.map((w) =>
          h(
            'tr',
            { class: w.status.includes('alarm') ? 'hl' : '', 'data-worker': w.id },
            h('td', {}, h('a', { href: `#/worker/${encodeURIComponent(w.id)}`, text: w.name }), h('div', { class: 'muted', text: w.id })),
            h('td', {}, w.status.map((s) => h('span', { class: chipClass(s), text: s }))),
            h('td', {}, w.activeVisit ? `${w.activeVisit.ref} until ${fmtTime(w.activeVisit.expectedEnd)}` : w.nextVisit ? h('span', { class: 'muted', text: `next: ${w.nextVisit.ref} at ${fmtTime(w.nextVisit.scheduledStart)}` }) : '–'),
            h('td', { 'data-next-due': w.id }, ...(w.nextDue ? [fmtTime(w.nextDue.at), ' (', untilSpan(w.nextDue.at), `) · ${String(w.nextDue.reason).replace(/_/g, ' ')}`] : ['–'])),
            h('td', {}, w.lastSighting ? `${fmtTime(w.lastSighting.at)} · ${w.lastSighting.kind}${w.lastSighting.place ? ` · ${w.lastSighting.place}` : ''}` : '–'),
            h('td', {}, w.devices.length ? w.devices.map((f) => h('div', { text: `${f.id}: ${f.online ? 'online' : 'offline'}${f.battery !== null ? `, ${f.battery}%` : ''}` })) : '–'),
          ),
        ),
      ),
    ),
    h('p', { class: 'muted', text: 'Open a worker to record or change visits (unplanned visits too), extend or end a visit, or check them in after a phone call.' }),
  );
}

function toInstant(local) {
  return local ? new Date(local).getTime() : undefined;
}
function localInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function workerView(id) {
  const d = await get(`/api/workers/${encodeURIComponent(id)}`);
  const w = d.worker;
  const st = d.state || {};
  const active = d.visits.find((v) => v.id === st.activeVisitId && v.status === 'active');
  const planned = d.visits.filter((v) => v.status === 'planned');
  const result = h('div', { id: 'visit-result' });
  const refresh = () => route({ keepScroll: true });
  const doAction = (btn, body, msg) => act(btn, () => post(`/api/workers/${encodeURIComponent(id)}/actions`, body), msg).then((r) => r && refresh());

  const extendMin = h('input', { type: 'number', min: '1', max: '720', value: '30', 'aria-label': 'minutes to extend', 'data-keep': 'extend' });
  const startSelect = h('select', { 'aria-label': 'visit to start' }, planned.map((v) => h('option', { value: v.ref, text: `${v.ref} at ${fmtTime(v.scheduledStart)}` })));

  const form = h(
    'form',
    { class: 'card', id: 'visit-form' },
    h('h2', { text: 'Record a visit' }),
    h(
      'div',
      { class: 'grid2' },
      h('label', {}, 'Reference (never the address)', h('input', { name: 'ref', required: true, placeholder: 'e.g. CASE-1042', 'data-keep': 'v-ref' })),
      h('label', {}, 'Start', h('input', { name: 'start', type: 'datetime-local', value: localInput(now()) })),
      h('label', {}, 'Duration (minutes)', h('input', { name: 'duration', type: 'number', min: '1', value: '60' })),
      h('label', {}, 'Risk category', h('select', { name: 'category' }, h('option', { value: '1', text: '1: lone working suitable' }), h('option', { value: '2', text: '2: two workers needed' }))),
      h('label', {}, 'RAG', h('select', { name: 'rag' }, ['green', 'amber', 'red'].map((r) => h('option', { value: r, text: r })))),
      h('label', {}, 'Check in every (min, blank = at end)', h('input', { name: 'interval', type: 'number', min: '5' })),
      h('label', {}, 'Next location', h('input', { name: 'next', placeholder: 'office, home, next ref' })),
      h('label', {}, 'Second worker (id)', h('input', { name: 'second' })),
      h('label', {}, 'Contact at the address (name)', h('input', { name: 'contactName', placeholder: 'who the office calls (R13)' })),
      h('label', {}, 'Contact’s phone', h('input', { name: 'contactPhone', type: 'tel' })),
    ),
    h('div', { class: 'row' }, h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'unplanned' }), 'Unplanned (phoned in)'), h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'startNow' }), 'Starting now'), h('button', { type: 'submit', class: 'primary' }, 'Record visit')),
    result,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = form.elements;
    result.replaceChildren();
    const body = {
      ref: f.ref.value.trim(),
      scheduledStart: toInstant(f.start.value),
      durationMin: Number(f.duration.value),
      riskCategory: Number(f.category.value),
      rag: f.rag.value,
      checkinIntervalMin: f.interval.value ? Number(f.interval.value) : null,
      nextLocation: f.next.value.trim() || null,
      secondWorkerId: f.second.value.trim() || null,
      unplanned: f.unplanned.checked,
      startNow: f.startNow.checked,
      contactName: f.contactName.value.trim() || null,
      contactPhone: f.contactPhone.value.trim() || null,
    };
    try {
      const r = await post(`/api/workers/${encodeURIComponent(id)}/visits`, body);
      result.append(h('p', { class: 'ok', text: `Visit ${r.visit.ref} recorded.` }));
      for (const warn of r.warnings) result.append(h('p', { class: 'warning', text: `Warning: ${warn}` }));
      f.ref.value = '';
      setTimeout(refresh, 1500);
    } catch (err) {
      result.append(h('p', { class: 'error', 'data-field': err.field || '', text: err.message }));
    }
  });

  const privateBox = h('div', { id: 'private' });
  return h(
    'section',
    { id: 'worker', 'data-worker': w.id },
    h('h1', { text: w.name }),
    h(
      'div',
      { class: 'cols' },
      h(
        'div',
        {},
        h(
          'section',
          { class: 'card' },
          h('h2', { text: 'Now' }),
          h(
            'dl',
            { class: 'facts' },
            h('dt', { text: 'Shift' }),
            h('dd', { text: st.onShift ? 'on shift' : 'off shift' }),
            h('dt', { text: 'Visit' }),
            h('dd', { id: 'active-visit', text: active ? `${active.ref} until ${fmtTime(active.expectedEnd)}` : 'between visits' }),
            h('dt', { text: 'Next check-in due' }),
            h('dd', {}, ...(st.due ? [fmtTime(st.due.at), ' (', untilSpan(st.due.at), ')'] : ['–'])),
            h('dt', { text: 'Last sighting' }),
            h('dd', { text: st.lastSighting ? `${fmtTime(st.lastSighting.at)} · ${st.lastSighting.kind}${st.lastSighting.place ? ` · ${st.lastSighting.place}` : ''}` : '–' }),
          ),
          h('h3', { text: 'The worker phoned in' }),
          h(
            'div',
            { class: 'row' },
            h('button', { 'data-action': 'checkin', onclick: (e) => doAction(e.target, { type: 'checkin' }, 'Checked in') }, 'Check in'),
            planned.length ? [startSelect, h('button', { 'data-action': 'start', onclick: (e) => doAction(e.target, { type: 'visit_start', ref: startSelect.value }, 'Visit started') }, 'Start visit')] : null,
            active ? [extendMin, h('button', { 'data-action': 'extend', onclick: (e) => doAction(e.target, { type: 'extend', minutes: Number(extendMin.value) }, 'Visit extended') }, 'Extend'), h('button', { 'data-action': 'end', onclick: (e) => doAction(e.target, { type: 'visit_end' }, 'Visit ended') }, 'End visit')] : null,
            h('button', { 'data-action': 'end-shift', onclick: (e) => doAction(e.target, { type: 'end_of_shift' }, 'Shift ended: safe') }, 'End of shift'),
          ),
        ),
        form,
      ),
      h(
        'div',
        {},
        h(
          'section',
          { class: 'card' },
          h('h2', { text: "Today's visits" }),
          d.visits.length
            ? h(
                'table',
                {},
                h('thead', {}, h('tr', {}, ['Ref', 'Time', 'Risk', 'Status', 'Flags'].map((t) => h('th', { text: t })))),
                h(
                  'tbody',
                  { id: 'itinerary' },
                  d.visits.map((v) =>
                    h(
                      'tr',
                      { 'data-visit': v.ref },
                      h('td', { text: v.ref + (v.unplanned ? ' (unplanned)' : '') }),
                      h('td', { text: `${fmtTime(v.scheduledStart)} – ${fmtTime(v.expectedEnd)}` }),
                      h('td', {}, h('span', { class: `rag ${v.rag}`, text: v.rag }), ` C${v.riskCategory}`),
                      h('td', { text: v.status }),
                      h('td', { text: v.policyFlags.join(', ') }),
                    ),
                  ),
                ),
              )
            : h('p', { class: 'muted', text: 'No visits recorded for today.' }),
        ),
        h(
          'section',
          { class: 'card' },
          h('h2', { text: 'Record' }),
          h('dl', { class: 'facts' }, h('dt', { text: 'Buddy' }), h('dd', { text: w.buddyName || '–' }), h('dt', { text: 'Line manager' }), h('dd', { text: w.lineManagerName || '–' }), h('dt', { text: 'Training' }), h('dd', { text: `${w.trainingDate || 'never'}${w.newStarter ? ' · new starter' : ''}` }), h('dt', { text: 'Fobs' }), h('dd', { text: d.devices.map((f) => `${f.id}${f.revokedAt ? ' (revoked)' : ''}`).join(', ') || '–' })),
          h('h3', { text: 'Private details' }),
          h('p', { class: 'muted', text: 'Only roles that need them see these, and the duty officer during an active alarm. Every view and every refused attempt is logged.' }),
          h(
            'button',
            {
              'data-action': 'private',
              onclick: async (e) => {
                privateBox.replaceChildren();
                try {
                  const r = await get(`/api/workers/${encodeURIComponent(id)}/private`);
                  privateBox.append(privateFacts(r));
                } catch (err) {
                  privateBox.append(h('p', { class: 'error', text: err.message }));
                }
                void e;
              },
            },
            'Show private details (logged)',
          ),
          privateBox,
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Records: search, CSV, printable

function recordsQuery(form) {
  const p = new URLSearchParams();
  for (const k of ['q', 'kind', 'state', 'from', 'to']) {
    const v = form ? form.elements[k].value.trim() : '';
    if (v) p.set(k, v);
  }
  return p;
}

async function recordsView() {
  const params = queryParams();
  const d = await get(`/api/records?${params}`);
  const form = h(
    'form',
    { class: 'card row', id: 'records-form' },
    h('label', {}, 'Search', h('input', { name: 'q', value: params.get('q') || '', placeholder: 'worker, visit ref, note…' })),
    h('label', {}, 'Kind', h('select', { name: 'kind' }, h('option', { value: '', text: 'any' }), ['sos', 'covert_sos', 'man_down', 'missed_checkin', 'device_silent', 'low_battery'].map((k) => h('option', { value: k, text: k.replace(/_/g, ' '), selected: params.get('kind') === k })))),
    h('label', {}, 'State', h('select', { name: 'state' }, h('option', { value: '', text: 'any' }), h('option', { value: 'open', text: 'open', selected: params.get('state') === 'open' }), h('option', { value: 'closed', text: 'closed', selected: params.get('state') === 'closed' }))),
    h('label', {}, 'From', h('input', { name: 'from', type: 'date', value: params.get('from') || '' })),
    h('label', {}, 'To', h('input', { name: 'to', type: 'date', value: params.get('to') || '' })),
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/records?${recordsQuery(form)}`;
  });
  return h(
    'section',
    { id: 'records' },
    h('h1', { text: 'Incident records' }),
    h('p', { class: 'muted', id: 'records-zone', text: `Times are 24-hour, ${Intl.DateTimeFormat().resolvedOptions().timeZone} (${zoneOf(now())}). The CSV has the hub’s local time beside the exact ISO time.` }),
    form,
    h('div', { class: 'row' }, h('a', { class: 'button', href: `/api/records/export.csv?${params}`, download: '', 'data-action': 'csv' }, 'Export CSV'), h('a', { class: 'button', href: `#/records/print?${params}`, 'data-action': 'printable' }, 'Printable page'), h('span', { class: 'muted', text: `${d.records.length} incident(s)` })),
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ['Raised', 'Kind', 'Worker', 'Visit', 'State', 'Response', 'Outcome', 'Steps', ''].map((t) => h('th', { text: t })))),
      h(
        'tbody',
        { id: 'records-rows' },
        d.records.map((r) => h('tr', { 'data-alarm': r.id }, h('td', { text: fmtDateTime(r.raisedAt) }), h('td', { text: r.kindLabel + (r.drill ? ' (drill)' : '') + (r.stale ? ' (stale: happened more than 7 days before it arrived)' : '') }), h('td', { text: r.workerName || r.workerId || '–' }), h('td', { text: r.visitRef || '–' }), h('td', {}, h('span', { class: `state s-${r.state}`, text: r.state })), h('td', { 'data-col': 'response', text: responseText(r) }), h('td', { 'data-col': 'outcome', text: r.outcome ? OUTCOME_LABEL[r.outcome] || r.outcome : r.open ? '–' : r.state === 'cancelled' ? 'Cancelled' : 'not recorded' }), h('td', { text: String(r.steps) }), h('td', {}, h('a', { href: `#/alarm/${encodeURIComponent(r.id)}`, text: 'timeline' })))),
      ),
    ),
  );
}

async function recordsPrintView() {
  const params = queryParams();
  params.set('limit', '50');
  const d = await get(`/api/records?${params}`);
  const details = [];
  for (const r of d.records) details.push(await get(`/api/alarms/${encodeURIComponent(r.id)}`));
  params.delete('limit');
  return h(
    'section',
    { id: 'records-print' },
    h('div', { class: 'row no-print' }, h('a', { class: 'button', href: `#/records?${params}` }, '← Back to records'), h('button', { class: 'primary', onclick: () => window.print() }, 'Print')),
    h(
      'div',
      { class: 'paper' },
      h('h1', { text: 'Lonewatch incident records' }),
      h('p', { text: `${details.length} incident(s) · ${params.toString() || 'all'} · printed ${fmtDateTime(now())} by ${state.me.username}` }),
      details.map((x) =>
        h(
          'div',
          { class: 'incident' },
          h('h2', { text: `${x.alarm.kindLabel}: ${x.alarm.workerName || x.alarm.workerId || x.alarm.deviceId || ''} (${fmtDateTime(x.alarm.raisedAt)})` }),
          h('p', { text: `${responseText(x.alarm)} · ${x.alarm.outcome ? `outcome: ${OUTCOME_LABEL[x.alarm.outcome] || x.alarm.outcome}` : 'no outcome recorded'}` }),
          h('p', { text: `Incident ${x.alarm.id} · state ${x.alarm.state}${x.alarm.closedAt ? ` at ${fmtDateTime(x.alarm.closedAt)}` : ''} · visit ${x.alarm.visitRef || '–'} · policy ${x.alarm.policy}${x.alarm.drill ? ' · DRILL' : ''}${x.alarm.stale ? ' · STALE: happened more than 7 days before it reached the hub' : ''}` }),
          timelineList(x.timeline),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Admin

async function adminView() {
  const isAdmin = canSee('admin');
  const isManager = canSee('manager', 'admin');
  const [devices, policies, contacts, workers, users, tokens, audit] = await Promise.all([
    get('/api/admin/devices'),
    get('/api/admin/policies'),
    get('/api/admin/contacts'),
    get('/api/workers'),
    isManager ? get('/api/admin/users') : null,
    isAdmin ? get('/api/admin/tokens') : null,
    isManager ? get('/api/admin/audit?limit=40') : null,
  ]);
  const refresh = () => route({ keepScroll: true });

  const secretBox = h('div', { id: 'device-secret', 'data-once': 'device-secret' });
  const devForm = h(
    'form',
    { class: 'row', id: 'device-form' },
    h('label', {}, 'Device id', h('input', { name: 'deviceId', required: true, placeholder: 'fob-012' })),
    h('label', {}, 'Worker', h('select', { name: 'workerId' }, h('option', { value: '', text: '(none)' }), workers.workers.map((w) => h('option', { value: w.id, text: w.name })))),
    h('label', {}, 'Board', h('select', { name: 'board' }, h('option', { value: '', text: '(unknown)' }), h('option', { value: 'puck', text: 'Puck.js (BLE)' }), h('option', { value: 'rak5010', text: 'RAK5010 (LTE-M)' }))),
    h('button', { type: 'submit', class: 'primary' }, 'Register fob'),
  );
  devForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = devForm.elements;
    try {
      const r = await post('/api/admin/devices', { deviceId: f.deviceId.value.trim(), workerId: f.workerId.value || null, board: f.board.value || null });
      secretBox.replaceChildren(h('div', { class: 'warning' }, h('p', { text: `Registered ${r.deviceId}. Its secret, shown this once (write it to the fob now with \`lonewatch flash\`):` }), h('div', { class: 'secret', id: 'secret-value', text: r.secret })));
      f.deviceId.value = '';
    } catch (err) {
      secretBox.replaceChildren(h('p', { class: 'error', text: err.message }));
    }
  });

  const sections = [];
  sections.push(
    h(
      'section',
      { class: 'card', id: 'admin-devices' },
      h('h2', { text: 'Fobs' }),
      isAdmin ? [devForm, secretBox] : null,
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ['Fob', 'Worker', 'Board', 'State', 'Battery', 'Last heard', ''].map((t) => h('th', { text: t })))),
        h(
          'tbody',
          {},
          devices.devices.map((d) =>
            h(
              'tr',
              { 'data-device': d.id },
              h('td', { text: d.id }),
              h('td', { text: d.workerId || '–' }),
              h('td', { text: d.board || '–' }),
              h('td', { text: d.revokedAt ? `revoked ${fmtDateTime(d.revokedAt)}` : d.online ? 'online' : 'offline' }),
              h('td', { text: d.battery === null ? '–' : `${d.battery}%` }),
              h('td', {}, d.lastSeenAt ? agoSpan(d.lastSeenAt) : 'never'),
              h('td', {}, isAdmin && !d.revokedAt ? h('button', { class: 'danger', 'data-action': 'revoke', onclick: (e) => confirm(`Revoke ${d.id}? It is refused from now on.`) && act(e.target, () => post(`/api/admin/devices/${encodeURIComponent(d.id)}/revoke`), `${d.id} revoked`).then(refresh) }, 'Revoke') : null),
            ),
          ),
        ),
      ),
    ),
  );

  // Workers: the admin form (workerForm below) starts empty for every new worker (issue 15 item 1).
  const wForm = workerForm(contacts, refresh);
  sections.push(
    h(
      'section',
      { class: 'card', id: 'admin-workers' },
      h('h2', { text: 'Workers' }),
      h('table', {}, h('thead', {}, h('tr', {}, ['Worker', 'Buddy', 'Line manager', 'Training', ''].map((t) => h('th', { text: t })))), h('tbody', {}, workers.workers.map((w) => h('tr', {}, h('td', { text: `${w.name} (${w.id})` }), h('td', { text: personName(w.buddyId, workers, contacts) }), h('td', { text: personName(w.lineManagerId, workers, contacts) }), h('td', { text: `${w.trainingDate || 'never'}${w.newStarter ? ' · new starter' : ''}` }), h('td', {}, isAdmin ? h('button', { 'data-action': 'edit-worker', 'data-worker': w.id, onclick: (e) => act(e.target, () => editWorker(wForm, w)) }, 'Edit') : null))))),
      isAdmin ? [h('h3', { id: 'worker-form-title', text: 'Add a worker' }), wForm] : null,
    ),
  );

  sections.push(
    h(
      'section',
      { class: 'card', id: 'admin-policies' },
      h('h2', { text: 'Escalation policies (from lonewatch.toml)' }),
      h('p', {}, policies.alarmPolicies.map((p) => h('span', { class: 'chip', text: `${p.label} → ${p.policy}` }))),
      policies.policies.map((p) =>
        h(
          'div',
          {},
          h('h3', { text: `${p.name} (${p.mode === 'all_at_once' ? 'everyone at once' : 'one step at a time'}; repeat ${p.repeat}×; re-alert ${p.reAlertAfterAckMin} min after acknowledgement${p.policeAfterSightingMin ? `; 999 advised ${p.policeAfterSightingMin} min after last sighting` : ''})` }),
          h('ol', {}, p.levels.map((l) => h('li', { text: `${l.name}: ${l.targets.join(', ')} by ${l.channels.join(', ')}; next after ${l.delayMin} min` }))),
        ),
      ),
    ),
  );

  if (users) {
    const uForm = h(
      'form',
      { class: 'row', id: 'user-form' },
      h('label', {}, 'Username', h('input', { name: 'username', required: true })),
      h('label', {}, 'Name', h('input', { name: 'name' })),
      h('label', {}, 'Role', h('select', { name: 'role' }, ['duty_officer', 'manager', 'admin', 'worker'].map((r) => h('option', { value: r, text: r.replace('_', ' ') })))),
      h('label', {}, 'Worker (for worker accounts)', h('select', { name: 'workerId' }, h('option', { value: '', text: '(none)' }), workers.workers.map((w) => h('option', { value: w.id, text: w.name })))),
      h('label', {}, 'Password (12+ characters)', h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true })),
      h('button', { type: 'submit', class: 'primary' }, 'Add user'),
      h('span', { id: 'user-result' }),
    );
    uForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const f = uForm.elements;
      const out = $('#user-result');
      try {
        await post('/api/admin/users', { username: f.username.value.trim(), name: f.name.value.trim() || undefined, role: f.role.value, password: f.password.value, workerId: f.workerId.value || null });
        refresh();
      } catch (err) {
        out.className = 'error';
        out.textContent = err.message;
      }
    });
    sections.push(
      h(
        'section',
        { class: 'card', id: 'admin-users' },
        h('h2', { text: 'Users' }),
        isAdmin ? uForm : null,
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, ['User', 'Role', 'Worker', 'Sessions', ''].map((t) => h('th', { text: t })))),
          h(
            'tbody',
            {},
            users.users.map((u) =>
              h(
                'tr',
                { 'data-user': u.username },
                h('td', { text: `${u.name} (${u.username})${u.disabled ? ' · disabled' : ''}` }),
                h('td', { text: u.role.replace('_', ' ') }),
                h('td', { text: u.workerId || '–' }),
                h('td', { text: String(u.sessions) }),
                h('td', {}, u.sessions > 0 && (isAdmin || u.role === 'worker') ? h('button', { 'data-action': 'sign-out-user', onclick: (e) => act(e.target, () => api('DELETE', `/api/users/${encodeURIComponent(u.username)}/sessions`), `${u.username} signed out everywhere`).then(refresh) }, 'Sign out everywhere') : null, isAdmin && u.username !== state.me.username ? h('button', { onclick: (e) => act(e.target, () => post(`/api/admin/users/${encodeURIComponent(u.username)}/disable`, { disabled: !u.disabled })).then(refresh) }, u.disabled ? 'Enable' : 'Disable') : null),
              ),
            ),
          ),
        ),
      ),
    );
  }

  if (tokens) {
    const tokenBox = h('div', { id: 'token-secret', 'data-once': 'token-secret' });
    const tForm = h('form', { class: 'row' }, h('label', {}, 'Integration', h('input', { name: 'name', required: true })), h('label', {}, 'Acts as', h('select', { name: 'role' }, ['duty_officer', 'manager', 'admin'].map((r) => h('option', { value: r, text: r.replace('_', ' ') })))), h('button', { type: 'submit', class: 'primary' }, 'Create API token'));
    tForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const r = await post('/api/admin/tokens', { name: tForm.elements.name.value.trim(), role: tForm.elements.role.value });
        tokenBox.replaceChildren(h('div', { class: 'warning' }, h('p', { text: `Token for ${r.name}, shown this once:` }), h('div', { class: 'secret', text: r.token })));
      } catch (err) {
        tokenBox.replaceChildren(h('p', { class: 'error', text: err.message }));
      }
    });
    sections.push(
      h(
        'section',
        { class: 'card', id: 'admin-tokens' },
        h('h2', { text: 'API tokens' }),
        tForm,
        tokenBox,
        h('table', {}, h('tbody', {}, tokens.tokens.map((t) => h('tr', {}, h('td', { text: t.name }), h('td', { text: t.role }), h('td', {}, ...(t.revokedAt ? ['revoked'] : t.lastUsedAt ? ['last used ', agoSpan(t.lastUsedAt)] : ['last used never'])), h('td', {}, t.revokedAt ? null : h('button', { class: 'danger', onclick: (e) => act(e.target, () => post(`/api/admin/tokens/${t.id}/revoke`), 'Token revoked').then(refresh) }, 'Revoke')))))),
      ),
    );
  }

  if (audit) {
    sections.push(
      h(
        'section',
        { class: 'card', id: 'admin-audit' },
        h('h2', { text: 'Audit log (latest 40)' }),
        h('table', {}, h('thead', {}, h('tr', {}, ['When', 'Who', 'What', 'About', 'Detail'].map((t) => h('th', { text: t })))), h('tbody', {}, audit.entries.map((e) => h('tr', { 'data-audit': e.action }, h('td', { text: fmtDateTime(e.at) }), h('td', { text: e.actor }), h('td', { text: e.action }), h('td', { text: e.subject }), h('td', { class: 'wrap', text: JSON.stringify(e.detail) }))))),
      ),
    );
  }

  sections.splice(2, 0, visitImportCard(refresh));
  // Lists follow every change at once through the live stream's `admin` events (onAdminEvent); no poll.
  return h('section', { id: 'admin' }, h('h1', { text: 'Administration' }), sections);
}

/** A person by name, not internal id (issue 15 item 15): a worker or an office contact. */
function personName(id, workers, contacts) {
  if (!id) return '–';
  const w = workers.workers.find((x) => x.id === id);
  if (w) return w.name;
  const c = contacts.contacts.find((x) => x.id === id);
  return c ? c.name : `${id} (not on record)`;
}

/**
 * Itinerary upload (issue 15 item 13): the file goes to the hub, which checks it with the CLI's own
 * parser and imports it all or nothing; every refused line is listed with its reason.
 */
function visitImportCard(refresh) {
  const out = h('div', { id: 'import-result', role: 'status' });
  const file = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv', required: true });
  const form = h(
    'form',
    { class: 'row', id: 'import-form' },
    h('label', {}, 'Itinerary CSV file', file),
    h('button', { type: 'submit', class: 'primary' }, 'Import visits'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = file.files && file.files[0];
    if (!f) return;
    out.replaceChildren();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const r = await post('/api/admin/visits/import', { csv: await f.text(), file: f.name });
      out.append(h('p', { class: 'ok', text: `Imported ${r.imported} visit(s) from ${f.name}.` }), r.warnings.length ? h('ul', {}, r.warnings.map((w) => h('li', { class: 'warning', text: w }))) : null);
      file.value = '';
      void refresh; // the visits are on each worker's page; this page keeps the result on screen
    } catch (err) {
      out.append(h('p', { class: 'error', text: err.message }), err.refused && err.refused.length ? h('ul', { id: 'import-refused' }, err.refused.map((x) => h('li', { text: x }))) : null);
    } finally {
      button.disabled = false;
    }
  });
  return h(
    'section',
    { class: 'card', id: 'admin-import' },
    h('h2', { text: 'Import visits' }),
    h('p', { class: 'muted', text: 'The same CSV as “lonewatch visits import”: worker, ref, start, end, and the optional columns (docs/examples/visits.csv). The whole file is checked first; if any line is wrong nothing is imported.' }),
    form,
    out,
  );
}

// ---------------------------------------------------------------------------------------------
// Admin worker form (issue 15 item 1). A form that kept the last worker's values carried one worker's
// medical notes and car into the next worker's record, and the police would be handed the wrong
// ones. So: the form is emptied after every save and by "New worker"; Edit loads that worker's own
// private fields (an admin view, logged under R22); every field is sent, and a blank one clears it.

const WORKER_TEXT_FIELDS = ['buddyId', 'lineManagerId', 'trainingDate', 'phone', 'homeAddress', 'medicalNotes', 'car', 'description'];
const WORKER_PRIVATE_FIELDS = ['phone', 'homeAddress', 'medicalNotes', 'car', 'description'];

// ---------------------------------------------------------------------------------------------
// Emergency contacts as records of (name, relationship, phone) (issue 15 item 13), as the hub keeps
// them since schema version 10. The free text they were kept in before is shown beside them, read
// only, until the admin clears it (emergencyContactsOldText), so nothing written there is lost.

/** One contact in words with its number one click away (a tel: link), or "no number on record". */
function emergencyLine(c, i) {
  return h('span', { class: 'ec-line', 'data-ec-line': String(i + 1) }, `${c.name}${c.relationship ? ` (${c.relationship})` : ''} `, telLink(c.phone, i === 0 ? 'home-contact' : `home-contact-${i + 1}`), ' ');
}

/** The records, and the old text when there still is one, for the numbers panel and the hand-over. */
function emergencyFacts(list, oldText) {
  const rows = (list || []).map(emergencyLine);
  return [
    rows.length ? h('span', { 'data-field': 'emergencyContacts' }, rows) : h('span', { class: 'muted', 'data-field': 'emergencyContacts', text: 'none on record' }),
    oldText ? h('div', { class: 'muted ec-old', 'data-field': 'emergencyContactsOldText', text: `Old text (from before contacts were kept as records): ${oldText}` }) : null,
  ];
}

function emergencyRow(box, row = { name: '', relationship: '', phone: '' }) {
  const n = box.children.length + 1;
  const line = h(
    'div',
    { class: 'row ec-row', 'data-ec': String(n) },
    h('label', {}, `Contact ${n}: name`, h('input', { 'data-ec-field': 'name', value: row.name || '' })),
    h('label', {}, 'Relationship', h('input', { 'data-ec-field': 'relationship', value: row.relationship || '', placeholder: 'partner, parent…' })),
    h('label', {}, 'Phone', h('input', { 'data-ec-field': 'phone', type: 'tel', value: row.phone || '' })),
    h('button', { type: 'button', 'data-action': 'remove-ec', 'aria-label': `remove emergency contact ${n}`, onclick: () => line.remove() }, 'Remove'),
  );
  box.append(line);
}

function emergencyEditor() {
  const box = h('div', { id: 'ec-rows' });
  const old = h('div', { id: 'ec-old', hidden: true });
  const el = h('fieldset', { class: 'ec', id: 'emergency-contacts' }, h('legend', { text: 'Emergency contacts (private)' }), box, h('button', { type: 'button', 'data-action': 'add-ec', onclick: () => emergencyRow(box) }, 'Add an emergency contact'), old);
  return {
    el,
    /** The rows with a name, in order; a row with only a number is refused by the hub with its reason. */
    get: () =>
      [...box.querySelectorAll('.ec-row')]
        .map((r) => ({ name: r.querySelector('[data-ec-field=name]').value.trim(), relationship: r.querySelector('[data-ec-field=relationship]').value.trim() || null, phone: r.querySelector('[data-ec-field=phone]').value.trim() || null }))
        .filter((c) => c.name || c.phone),
    /** True when the admin ticked "clear the old text". */
    clearOld: () => Boolean(old.querySelector('input[name=clearOldText]:checked')),
    set: (list, oldText) => {
      box.replaceChildren();
      for (const r of list || []) emergencyRow(box, r);
      if (box.children.length === 0) emergencyRow(box);
      old.hidden = !oldText;
      old.replaceChildren(
        ...(oldText
          ? [
              h('p', { class: 'muted', text: 'Old text, from before contacts were kept as records (read into the rows above when the hub was upgraded: check them):' }),
              h('pre', { class: 'ec-old', 'data-field': 'emergencyContactsOldText', text: oldText }),
              h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'clearOldText' }), 'Clear the old text when saving'),
            ]
          : []),
      );
    },
  };
}

function workerForm(contacts, refresh) {
  const ec = emergencyEditor();
  const form = h(
    'form',
    { id: 'worker-form', 'data-mode': 'new' },
    h(
      'div',
      { class: 'grid2' },
      h('label', {}, 'Worker id', h('input', { name: 'id', required: true })),
      h('label', {}, 'Name', h('input', { name: 'name', required: true })),
      h('label', {}, 'Buddy (worker or contact id)', h('input', { name: 'buddyId' })),
      h('label', {}, 'Line manager', h('select', { name: 'lineManagerId' }, h('option', { value: '', text: '(none)' }), contacts.contacts.filter((c) => c.lineManager).map((c) => h('option', { value: c.id, text: `${c.name} (${c.role.replace(/_/g, ' ')})` })))),
      h('label', {}, 'Training date', h('input', { name: 'trainingDate', type: 'date' })),
      h('label', { class: 'inline' }, h('input', { name: 'newStarter', type: 'checkbox' }), 'New starter'),
      h('label', {}, 'Phone (private)', h('input', { name: 'phone' })),
      h('label', {}, 'Home address (private)', h('input', { name: 'homeAddress' })),
      h('label', {}, 'Medical notes (private)', h('input', { name: 'medicalNotes' })),
      h('label', {}, 'Car: make, colour, reg (private)', h('input', { name: 'car' })),
      h('label', {}, 'Description for the police: height, build, hair, clothing (private)', h('input', { name: 'description' })),
    ),
    ec.el,
    h('p', { class: 'muted', text: 'Every field is saved as shown: a blank field is saved blank.' }),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Save worker'), h('button', { type: 'button', 'data-action': 'new-worker', onclick: () => (clearWorkerForm(form), ec.set([], null)) }, 'New worker'), h('span', { id: 'worker-result' })),
  );
  form.emergency = ec;
  ec.set([], null);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = form.elements;
    const id = f.id.value.trim();
    const body = { name: f.name.value.trim(), newStarter: f.newStarter.checked };
    for (const k of WORKER_TEXT_FIELDS) body[k] = f[k].value.trim() || null;
    body.emergencyContacts = ec.get();
    if (ec.clearOld()) body.emergencyContactsOldText = null;
    const out = $('#worker-result');
    try {
      await api('PUT', `/api/workers/${encodeURIComponent(id)}`, body);
      clearWorkerForm(form);
      ec.set([], null);
      toast(`Saved ${id}`);
      refresh();
    } catch (err) {
      out.className = 'error';
      out.textContent = err.message;
    }
  });
  return form;
}

function clearWorkerForm(form) {
  form.reset();
  form.elements.id.readOnly = false;
  form.dataset.mode = 'new';
  const title = $('#worker-form-title');
  if (title) title.textContent = 'Add a worker';
  const out = $('#worker-result');
  if (out) out.textContent = '';
}

/** Loads one worker into the form: their record and their own private fields (nothing left over). */
async function editWorker(form, w) {
  const r = await get(`/api/workers/${encodeURIComponent(w.id)}/private`);
  clearWorkerForm(form);
  const f = form.elements;
  f.id.value = w.id;
  f.id.readOnly = true;
  f.name.value = w.name;
  f.buddyId.value = w.buddyId || '';
  f.lineManagerId.value = w.lineManagerId || '';
  f.trainingDate.value = w.trainingDate || '';
  f.newStarter.checked = w.newStarter;
  for (const k of WORKER_PRIVATE_FIELDS) f[k].value = (r.details && r.details[k]) || '';
  form.emergency.set((r.details && r.details.emergencyContacts) || [], (r.details && r.details.emergencyContactsOldText) || null);
  form.dataset.mode = 'edit';
  $('#worker-form-title').textContent = `Edit ${w.name} (${w.id})`;
  f.name.focus();
  return r;
}

start();
