/* global document, window, navigator, localStorage, fetch, crypto, AudioContext */
// The worker's companion: sign-in, the day's visits, and the relay between the fob (BLE) and the
// hub (MQTT over WebSocket). Every action that must not be lost is an event with an id, kept in
// the outbox (IndexedDB) until the hub's ack: see docs/companion.md.
// The protocol's names (topics' leaves, event and command kinds) are the firmware's own, from
// shared/protocol-core.ts as the hub serves it: never re-typed here.
import { COMMAND, EVENT, STATUS_OFFLINE, STATUS_ONLINE, TOPIC } from '/protocol-core.js';
import { FobLink } from './fob-link.js';
import { HubLink } from './hub-link.js';
import * as outbox from './outbox.js';
import { confirmationCode, hhmm, renderAlarmScreen, zoneName } from './alarm-screen.js';
import { ALARM_EVENTS, locationLine, PhoneLocation } from './location.js';

const $ = (id) => document.getElementById(id);
const TOKEN = 'lw.token';
const ME = 'lw.me';
const TODAY = 'lw.today';
const RESEND_MS = 5000;

const state = {
  me: null,
  today: null,
  prompted: false,
  fobConnected: false,
  lastSent: new Map(),
  siren: null,
  /** The loud SOS sent from this phone, while its screen is up (item 7); null otherwise. */
  alarm: null,
  safeCode: null,
};

// ---------------------------------------------------------------- the hub's API

class SignedOut extends Error {}

async function api(method, path, body) {
  const token = localStorage.getItem(TOKEN);
  const res = await fetch(`/api/companion${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && path !== '/sign-in') {
    signedOut();
    throw new SignedOut(data.error ?? 'signed out');
  }
  if (!res.ok) throw Object.assign(new Error(data.error ?? `the hub answered ${res.status}`), { status: res.status });
  return data;
}

// ---------------------------------------------------------------- phone event ids

/** Phone-made events need ids that never collide with the fob's `<boot>-<seq>`: `z<random>-<seq>`. */
function nextEventId() {
  let prefix = localStorage.getItem('lw.idp');
  if (!prefix) {
    prefix = 'z' + Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => (b % 36).toString(36)).join('');
    localStorage.setItem('lw.idp', prefix);
  }
  const seq = Number(localStorage.getItem('lw.seq') ?? '0') + 1;
  localStorage.setItem('lw.seq', String(seq));
  return `${prefix}-${seq.toString(36)}`;
}

// ---------------------------------------------------------------- relay

const fob = new FobLink({
  onLine: (leaf, json) => fromFob(leaf, json),
  onState: (s) => fobState(s),
});

const hub = new HubLink({
  getCredential: () => api('POST', '/relay-token'),
  onCommand: (json) => fromHub(json),
  onState: (s) => hubState(s),
});

// The phone's own position, only during a shift and an alarm (location.js, docs/companion.md).
const phoneLocation = new PhoneLocation({
  geolocation: navigator.geolocation,
  now: () => Date.now(),
  timers: window,
  sendPosition: (position) => hub.publish(TOPIC.position, JSON.stringify(position), 0),
  onChange: () => renderLocation(),
});

/** An alarm event made or relayed: the phone's position goes with it (and on `ps` until closed). */
function positionFor(event) {
  if (event.k === EVENT.cancel) phoneLocation.workerCancelled();
  if (!ALARM_EVENTS.has(event.k)) return {};
  const fix = phoneLocation.alarmStarted();
  return fix ? { fix } : {};
}

async function fromFob(leaf, json) {
  if (leaf === TOPIC.heartbeat) {
    hub.publish(TOPIC.heartbeat, json, 0);
    return;
  }
  if (leaf !== TOPIC.event) return;
  let ev;
  try {
    ev = JSON.parse(json);
  } catch {
    return;
  }
  if (!ev || typeof ev.i !== 'string') return;
  const { ag, ...event } = ev;
  await outbox.add({ i: ev.i, event, ag0: typeof ag === 'number' ? ag : 0, heldSince: Date.now(), origin: 'fob', ...positionFor(event) });
  await flush();
}

async function fromHub(json) {
  let cmd;
  try {
    cmd = JSON.parse(json);
  } catch {
    return;
  }
  if (cmd.k === COMMAND.ack && typeof cmd.i === 'string') {
    alarmAcked(cmd.i);
    const entry = (await outbox.all()).find((e) => e.i === cmd.i);
    await outbox.remove(cmd.i);
    state.lastSent.delete(cmd.i);
    await showWaiting();
    if (entry?.origin === 'phone') {
      refreshToday();
      return;
    }
  }
  if (cmd.k === COMMAND.prompt) {
    state.prompted = true;
    $('prompt').hidden = false;
    vibrate([400, 200, 400]);
  } else if (cmd.k === COMMAND.helpComing) {
    vibrate(300); // one discreet pulse; on screen only on the loud alarm's own screen
    if (state.alarm && state.alarm.takenAt === null) state.alarm.takenAt = Date.now();
    showAlarm();
  } else if (cmd.k === COMMAND.stopAlarm || cmd.k === COMMAND.alarmClosed) {
    stopSiren();
    // clr also follows the worker's own cancel (the fob stands down while the alarm stays open for
    // the officer's call-back, docs/hub.md): only without a cancel from here does it mean closed.
    if (cmd.k === COMMAND.alarmClosed && state.alarm && state.alarm.cancelAt === null) state.alarm.closedAt = Date.now();
    if (cmd.k === COMMAND.alarmClosed) phoneLocation.cleared();
    showAlarm();
  }
  // Every command also goes to the fob, which acts on its own (acks empty its outbox).
  if (state.fobConnected) await fob.send(TOPIC.command, json);
}

/**
 * Sends what waits in the outbox, oldest first (the hub acts on events in the order they arrive: a
 * visit must start before it is extended): new entries at once, unacknowledged ones again after
 * RESEND_MS. A flush asked for while one runs runs again after it, so nothing new waits for the timer.
 */
let flushing = null;
let flushAgain = false;
async function flush() {
  if (flushing) {
    flushAgain = true;
    return flushing;
  }
  flushing = (async () => {
    do {
      flushAgain = false;
      const now = Date.now();
      for (const entry of await outbox.all()) {
        if (!hub.connected) break;
        const last = state.lastSent.get(entry.i);
        if (last !== undefined && now - last < RESEND_MS) continue;
        state.lastSent.set(entry.i, now);
        await hub.publish(TOPIC.event, outbox.payload(entry, now), 1);
      }
    } while (flushAgain && hub.connected);
    await showWaiting();
  })();
  try {
    await flushing;
  } finally {
    flushing = null;
  }
}

async function phoneEvent(k, extra = {}) {
  const i = nextEventId();
  if (k === EVENT.sos) state.alarm = { i, sentAt: Date.now(), ackedAt: null, takenAt: null, closedAt: null, cancelI: null, cancelAt: null, cancelAckedAt: null };
  if (k === EVENT.cancel && state.alarm) Object.assign(state.alarm, { cancelI: i, cancelAt: Date.now() });
  await outbox.add({ i, event: { i, k, ...extra }, ag0: 0, heldSince: Date.now(), origin: 'phone', ...positionFor({ k }) });
  applyLocally(k, extra);
  await showWaiting();
  showAlarm();
  await flush();
}

// ---------------------------------------------------------------- the loud alarm's screen (item 7)

function alarmAcked(i) {
  const a = state.alarm;
  if (!a) return;
  if (i === a.i && a.ackedAt === null) a.ackedAt = Date.now();
  if (i === a.cancelI && a.cancelAckedAt === null) a.cancelAckedAt = Date.now();
  showAlarm();
}

function showAlarm() {
  if (!state.alarm) return;
  renderAlarmScreen(state.alarm, hub.connected, state.siren !== null);
}

function closeAlarmScreen() {
  stopSiren();
  state.alarm = null;
  state.safeCode = null;
  $('alarm-screen').hidden = true;
  $('safe-confirm').hidden = true;
}

function fobState(s) {
  state.fobConnected = s.connected;
  const pill = $('fob-state');
  pill.textContent = s.connected ? `Fob: ${s.name}` : s.lost ? 'Fob: DISCONNECTED' : 'Fob: not paired';
  pill.className = `pill ${s.connected ? 'ok' : s.lost ? 'bad' : ''}`;
  $('pair').textContent = s.connected ? 'Fob connected' : s.lost ? 'Reconnect fob' : 'Pair fob';
  $('fob-lost').hidden = !(s.lost && !s.connected);
  if (s.connected) hub.publish(TOPIC.status, STATUS_ONLINE, 1);
  if (!s.connected && s.lost) {
    // Told at once: the hub raises "device silent" if the fob stays unheard during the shift (R16).
    vibrate([600, 200, 600, 200, 600]);
    hub.publish(TOPIC.status, STATUS_OFFLINE, 1);
  }
}

/** The hub pill, in words (docs/companion.md): "connected" only once the hub's CONNACK and SUBACK came. */
function hubStateText(s) {
  const n = s.hub?.count ?? 1;
  const at = (s.hub?.index ?? 0) + 1;
  if (n <= 1) return s.connected ? 'Hub: connected' : 'Hub: offline';
  if (s.connected) return `Hub: connected (hub address ${at} of ${n})`;
  if (s.lost) return `Hub: connection lost, trying the next hub address (${at} of ${n})`;
  if (s.failed) return `Hub: could not connect, trying the next hub address (${at} of ${n})`;
  return 'Hub: offline';
}

function hubState(s) {
  const pill = $('hub-state');
  pill.textContent = hubStateText(s);
  pill.className = `pill ${s.connected ? 'ok' : 'bad'}`;
  showAlarm();
  if (s.connected) {
    state.lastSent.clear();
    flush();
    refreshToday();
  }
}

async function showWaiting() {
  const n = (await outbox.all()).length;
  const el = $('waiting');
  el.hidden = n === 0;
  el.textContent = `${n} waiting to send`;
}

// ---------------------------------------------------------------- the day


/** What the worker did shows at once, even while the hub is unreachable. */
function applyLocally(k, extra) {
  const t = state.today;
  if (!t) return;
  const now = Date.now();
  const active = t.visits.find((v) => v.ref === t.activeVisitRef);
  if (k === EVENT.visitStart) {
    if (active) active.status = 'ended';
    const v = t.visits.find((x) => x.ref === extra.v);
    if (v) Object.assign(v, { status: 'active', startedAt: now });
    t.activeVisitRef = v ? v.ref : null;
    t.onShift = true;
  } else if (k === EVENT.visitEnd && active) {
    Object.assign(active, { status: 'ended', endedAt: now });
    t.activeVisitRef = null;
  } else if (k === EVENT.extend && active) {
    active.expectedEnd = Math.max(active.expectedEnd, t.serverNow ?? now) + extra.m * 60_000;
  } else if (k === EVENT.endOfShift) {
    if (active) Object.assign(active, { status: 'ended', endedAt: now });
    t.activeVisitRef = null;
    t.onShift = false;
  }
  if (k === EVENT.checkIn || k === EVENT.visitEnd || k === EVENT.extend || k === EVENT.endOfShift || k === EVENT.visitStart) {
    state.prompted = false;
    $('prompt').hidden = true;
  }
  renderToday();
}

async function refreshToday() {
  try {
    state.today = await api('GET', '/today');
    localStorage.setItem(TODAY, JSON.stringify(state.today));
    renderToday();
  } catch {
    /* offline: the last copy stays on screen */
  }
}

/** The line that tells the worker whether their location is in use (issue 20: told plainly). */
function renderLocation() {
  const line = locationLine(phoneLocation.mode, phoneLocation.permission);
  const el = $('location-line');
  el.textContent = line.text;
  el.dataset.on = line.on ? 'on' : 'off';
  el.className = `location-line ${line.on ? 'on' : 'off'}`;
}

/**
 * At sign-in: the browser asks for the location once, after the plain explanation (the fix that
 * request returns is thrown away, never sent). Granted or refused, the choice is the browser's.
 */
async function offerLocation(atSignIn) {
  if (!navigator.geolocation) return renderLocation();
  let st = 'prompt';
  try {
    st = (await navigator.permissions.query({ name: 'geolocation' })).state;
  } catch {
    /* no Permissions API: ask */
  }
  if (st === 'denied') phoneLocation.permission = 'denied';
  $('location-ask').hidden = !(atSignIn && st === 'prompt');
  renderLocation();
}

function renderToday() {
  const t = state.today;
  phoneLocation.setOnShift(!!t && t.onShift);
  const list = $('visits');
  list.replaceChildren();
  $('no-visits').hidden = !!t && t.visits.length > 0;
  if (!t) return;
  const active = t.visits.find((v) => v.ref === t.activeVisitRef && v.status === 'active');
  $('now-title').textContent = active ? `At ${active.ref}` : t.onShift ? 'Between visits' : 'Not on shift';
  $('now-detail').textContent = active ? `Expected to end ${hhmm(active.expectedEnd)}` : '';
  $('now-detail').dataset.expectedEnd = active ? String(active.expectedEnd) : '';
  $('visit-controls').hidden = !active;
  for (const v of t.visits) {
    const li = document.createElement('li');
    li.className = v.status;
    li.dataset.ref = v.ref;
    const what = document.createElement('div');
    what.className = 'what';
    const ref = document.createElement('div');
    ref.className = 'ref';
    ref.textContent = v.ref + (v.unplanned ? ' (unplanned)' : '');
    const meta = document.createElement('div');
    meta.className = 'meta';
    const cat = document.createElement('span');
    cat.className = v.riskCategory === 2 ? 'cat2' : '';
    cat.textContent = `Cat ${v.riskCategory}`;
    meta.append(`${hhmm(v.scheduledStart)}–${hhmm(v.expectedEnd)} · `, cat, v.checkinIntervalMin ? ` · check in every ${v.checkinIntervalMin} min` : '', v.status === 'ended' ? ' · done' : '');
    what.append(ref, meta);
    li.append(what);
    if (v.status === 'planned' && v.late) {
      // Past its start and not started (issue 15 item 6): the hub counts it as overdue and, after
      // the grace, runs the missed-check-in ladder for it. Say so, and offer what the worker should
      // do now, not a plain Start as if nothing were wrong.
      li.classList.add('overdue');
      li.dataset.late = v.late.officeTold ? 'office-told' : 'late';
      const note = document.createElement('div');
      note.className = 'late-note';
      note.textContent = v.late.officeTold ? `OVERDUE: due to start at ${hhmm(v.late.since)}. The office has been told you are late.` : `OVERDUE: due to start at ${hhmm(v.late.since)}. Start it now, or the office will be told.`;
      what.append(note);
      const start = document.createElement('button');
      start.className = 'big start late';
      start.textContent = v.late.officeTold ? 'Start now, the office has been told you are late' : 'Start now: you are late';
      start.addEventListener('click', () => act(EVENT.visitStart, { v: v.ref }, `Visit ${v.ref} started`));
      li.append(start);
      if (v.late.officeTold) {
        // Not going in yet, but safe: a check-in tells the office so.
        const chk = document.createElement('button');
        chk.className = 'big checkin';
        chk.dataset.action = 'late-checkin';
        chk.textContent = 'Check in now: I am safe';
        chk.addEventListener('click', () => act(EVENT.checkIn, {}, 'Checked in: the office knows you are safe'));
        li.append(chk);
      }
    } else if (v.status === 'planned') {
      const start = document.createElement('button');
      start.className = 'big start';
      start.textContent = 'Start';
      start.addEventListener('click', () => act(EVENT.visitStart, { v: v.ref }, `Visit ${v.ref} started`));
      li.append(start);
    }
    list.append(li);
  }
}

async function act(k, extra, message) {
  if (state.me && !state.me.device) return toast(k === EVENT.sos ? 'SOS NOT SENT: no fob is assigned to you. Call 999.' : 'No fob is assigned to you: phone the office instead.');
  await phoneEvent(k, extra);
  toast(hub.connected ? message : `${message} (will send when the hub is back)`);
}

function toast(text) {
  $('toast').textContent = text;
}

function vibrate(pattern) {
  if (navigator.vibrate) navigator.vibrate(pattern);
}

function startSiren() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.type = 'square';
    osc.frequency.value = 2700;
    osc.connect(ctx.destination);
    osc.start();
    document.body.dataset.siren = 'on';
    // Until the worker stops it on the alarm screen, or the office stops or closes the alarm (the
    // hub's stop / clr): a siren that stops by itself after 30 s was one the worker could not stop
    // sooner. A 10-minute bound keeps a forgotten phone from sounding all night.
    state.siren = { ctx, osc, timer: setTimeout(stopSiren, 10 * 60_000) };
  } catch {
    /* no audio: the fob's buzzer is the deterrent */
  }
}

function stopSiren() {
  if (!state.siren) return;
  clearTimeout(state.siren.timer);
  state.siren.osc.stop();
  state.siren.ctx.close();
  state.siren = null;
  document.body.dataset.siren = 'off';
  showAlarm();
}

// ---------------------------------------------------------------- screens

function signedOut() {
  localStorage.removeItem(TOKEN);
  localStorage.removeItem(ME);
  localStorage.removeItem(TODAY);
  hub.stop();
  fob.disconnect();
  phoneLocation.stop();
  $('location-ask').hidden = true;
  $('day').hidden = true;
  $('signin').hidden = false;
}

async function showDay() {
  $('signin').hidden = true;
  $('day').hidden = false;
  const cachedToday = localStorage.getItem(TODAY);
  if (cachedToday) {
    state.today = JSON.parse(cachedToday);
    renderToday();
  }
  try {
    state.me = await api('GET', '/me');
    localStorage.setItem(ME, JSON.stringify(state.me));
  } catch (err) {
    if (err instanceof SignedOut) return;
    state.me = JSON.parse(localStorage.getItem(ME) ?? 'null');
  }
  document.title = state.me ? `Lonewatch: ${state.me.worker.name}` : 'Lonewatch';
  $('zone').textContent = `Times are 24-hour, ${zoneName()} (${Intl.DateTimeFormat().resolvedOptions().timeZone}).`;
  hubState({ connected: false });
  // Check-ins and alarms travel as the worker's fob's events: with no fob assigned they cannot reach
  // the hub, and the worker must know that rather than see them wait forever.
  const noFob = !!state.me && !state.me.device;
  $('no-fob').hidden = !noFob;
  if (!noFob) hub.start();
  await showWaiting();
  refreshToday();
  if (FobLink.supported()) fob.reconnectKnown().catch(() => undefined);
}

function wire() {
  $('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('signin-error').textContent = '';
    try {
      const res = await api('POST', '/sign-in', { username: $('username').value, password: $('password').value });
      localStorage.setItem(TOKEN, res.token);
      $('password').value = '';
      await showDay();
      await offerLocation(true);
    } catch (err) {
      $('signin-error').textContent = err instanceof TypeError ? 'The hub is unreachable: try again when you have a signal.' : err.message;
    }
  });
  $('location-allow').addEventListener('click', () => {
    $('location-ask').hidden = true;
    navigator.geolocation.getCurrentPosition(
      () => {
        phoneLocation.permission = 'granted';
        phoneLocation.apply();
      },
      (err) => phoneLocation.failed(err),
      { maximumAge: Infinity, timeout: 60_000 },
    );
  });
  $('location-later').addEventListener('click', () => {
    $('location-ask').hidden = true;
  });
  $('pair').addEventListener('click', async () => {
    if (!FobLink.supported()) return toast('This browser cannot talk to the fob (Web Bluetooth): use Chrome on Android.');
    try {
      if (!(await fob.reconnectKnown().catch(() => false))) await fob.pair();
    } catch (err) {
      toast(`Could not connect to the fob: ${err.message}`);
    }
  });
  $('checkin').addEventListener('click', () => act(EVENT.checkIn, state.prompted ? { p: 1 } : {}, 'Checked in'));
  $('end-visit').addEventListener('click', () => act(EVENT.visitEnd, state.today?.activeVisitRef ? { v: state.today.activeVisitRef } : {}, 'Visit ended'));
  for (const id of ['extend-15', 'extend-30', 'extend-60']) {
    $(id).addEventListener('click', (e) => {
      const m = Number(e.currentTarget.dataset.minutes);
      act(EVENT.extend, { m }, `Visit extended by ${m} min`);
    });
  }
  $('end-shift').addEventListener('click', () => act(EVENT.endOfShift, {}, 'Shift ended: safe home'));
  $('sos').addEventListener('click', () => {
    $('sos').hidden = true;
    $('sos-confirm').hidden = false;
  });
  $('sos-no').addEventListener('click', () => {
    $('sos').hidden = false;
    $('sos-confirm').hidden = true;
  });
  $('sos-yes').addEventListener('click', async () => {
    $('sos').hidden = false;
    $('sos-confirm').hidden = true;
    if (state.me && !state.me.device) return act(EVENT.sos, {}, '');
    startSiren();
    vibrate([1000, 200, 1000]);
    await act(EVENT.sos, {}, 'SOS kept on the phone until the office has it');
  });
  // The covert alarm: an ordinary-looking button with an ordinary answer (R1, the code phrase).
  $('late').addEventListener('click', async () => {
    // Never a false "Noted." when nothing can be sent.
    if (state.me && !state.me.device) return toast('Not sent: no fob is assigned to you.');
    await phoneEvent(EVENT.covert);
    toast('Noted.');
  });
  $('unplanned-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('unplanned-error').textContent = '';
    try {
      const res = await api('POST', '/visits', { ref: $('unplanned-ref').value.trim(), minutes: Number($('unplanned-minutes').value), riskCategory: Number($('unplanned-category').value), rag: $('unplanned-rag').value });
      $('unplanned').open = false;
      $('unplanned-ref').value = '';
      await refreshToday();
      toast(`Visit ${res.visit.ref} recorded${res.warnings.length ? `: ${res.warnings.join('; ')}` : ''}. Tap Start when you go in.`);
    } catch (err) {
      $('unplanned-error').textContent = err instanceof TypeError ? 'The hub is unreachable: phone the office to record the visit before you go in.' : err.message;
    }
  });
  $('siren-stop').addEventListener('click', () => stopSiren());
  // "I'm safe" is two steps with a code to type (the StaySafe / Peoplesafe pattern): a stray tap or
  // a pocket cannot cancel a real alarm. The cancel travels as the fob's own cancel event (`can`
  // with the SOS's id), so the hub treats it exactly as a cancel from the fob: the alarm stays on
  // the board until the duty officer has called back (docs/hub.md).
  $('im-safe').addEventListener('click', () => {
    state.safeCode = confirmationCode(Math.random);
    $('safe-code-text').textContent = `To cancel, type ${state.safeCode}. The office will phone you to check.`;
    $('safe-code').value = '';
    $('safe-error').textContent = '';
    $('safe-confirm').hidden = false;
    showAlarm();
    $('safe-code').focus();
  });
  $('safe-no').addEventListener('click', () => {
    $('safe-confirm').hidden = true;
    state.safeCode = null;
    showAlarm();
  });
  $('safe-confirm').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!state.alarm || $('safe-code').value.trim() !== state.safeCode) {
      $('safe-error').textContent = 'That is not the code shown: the alarm is NOT cancelled.';
      return;
    }
    $('safe-confirm').hidden = true;
    state.safeCode = null;
    stopSiren();
    await phoneEvent(EVENT.cancel, { r: state.alarm.i });
  });
  $('alarm-close').addEventListener('click', () => closeAlarmScreen());
  $('sign-out').addEventListener('click', async () => {
    await api('POST', '/sign-out').catch(() => undefined);
    signedOut();
  });
  window.addEventListener('online', () => hub.nudge());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      hub.nudge();
      refreshToday();
    }
  });
  setInterval(() => {
    flush();
    if (!state.fobConnected && fob.wanted) fob.reconnectKnown().catch(() => undefined);
  }, RESEND_MS);
  setInterval(refreshToday, 60_000);
}

if ('serviceWorker' in navigator) navigator.serviceWorker.register('/companion/sw.js', { scope: '/companion/' }).catch(() => undefined);
wire();
if (localStorage.getItem(TOKEN)) showDay().then(() => offerLocation(false));
else $('signin').hidden = false;
