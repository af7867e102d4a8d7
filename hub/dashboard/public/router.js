import { html, render } from '/vendor/preact.js';
import { currentParam, setRouter } from './lib/nav.js';
import { state, view } from './lib/state.js';
import { titleFor } from './duties.js';
import { alarmsView } from './views/board.js';
import { alarmView } from './views/alarm.js';
import { handoverView } from './views/handover.js';
import { workersView } from './views/workers.js';
import { workerView } from './views/worker.js';
import { recordsPrintView, recordsView } from './views/records.js';
import { adminView } from './views/admin.js';

// ---------------------------------------------------------------------------------------------
// Router


// Each call to route() is one screen being built; only the newest may reach the screen. A view's
// answer can come back after the officer has moved on (a live event re-reads the board, the officer
// opens an alarm, the alarm's answer comes first and the board's after it): shown, the late board
// would replace the alarm they just opened, and stay until the next event.
let latest = 0;

export async function route() {
  if (!state.me) return;
  const mine = ++latest;
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
    else content = html`<p>Nothing here.</p>`;
    if (mine !== latest) return;
    // Diffed into what is on screen: a note typed or an outcome picked while this loaded stays.
    show(content);
  } catch (err) {
    if (mine !== latest) return;
    if (err.status !== 401) show(html`<p class="error">${err.message}</p>`);
  }
}

/** Puts a view on screen: preact diffs it against what is there (inputs, focus and scroll stay). */
let mounted = false;
function show(content) {
  // The first render takes over #view from the page's own markup (its <noscript>).
  if (!mounted) view.replaceChildren();
  mounted = true;
  render(content, view);
}

export function wireRouter() {
  setRouter(route);
  window.addEventListener('hashchange', () => route());
}

