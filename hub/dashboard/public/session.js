import { $, toast } from './lib/dom.js';
import { state, view } from './lib/state.js';
import { tickLiveTimes } from './lib/time.js';
import { get, onSignedOut, post } from './lib/api.js';
import { alerting, updateAlerting, updateSoundButton } from './sound.js';
import { refreshForwardingWarning } from './forwarding.js';
import { connectEvents } from './live-feed.js';
import { refreshAlarmCount } from './open-alarms.js';
import { renderDuties } from './duties.js';
import { route } from './router.js';

// Sign-in, first run and the signed-in frame (top bar, sound button, sign-out).
// ---------------------------------------------------------------------------------------------
// Sign-in and live events

export function showSignIn() {
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

export async function firstRunHint() {
  const hint = $('#signin-setup');
  try {
    const s = await get('/api/auth/setup');
    hint.hidden = !s.setupNeeded;
    hint.textContent = s.setupNeeded ? `This hub has no admin account yet. Open the one-time set-up link the hub printed in its log when it started, or run on the hub: ${s.command}` : '';
  } catch {
    hint.hidden = true;
  }
}

export function showSetup(token) {
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

export async function start() {
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

export function signedIn(user, csrf) {
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

/** The sign-in form, the sound button and Sign out: wired once, at start. */
export function wireSessionControls() {
  onSignedOut(showSignIn);
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
}
