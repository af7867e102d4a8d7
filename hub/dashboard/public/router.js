import { render } from '/vendor/preact.js';
import { h } from './lib/dom.js';
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

export function currentParam() {
  return decodeURIComponent(location.hash.split('/')[2] || '');
}

export async function route(opts = {}) {
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
    show(content, Boolean(opts.keepScroll));
  } catch (err) {
    if (err.status !== 401) show(h('p', { class: 'error', text: err.message }), false);
  }
}

/** True while #view holds a tree preact rendered (a converted view), false for a hand-built one. */
let preactMounted = false;

/**
 * Puts a view on screen. A preact element (the converted views) is rendered into #view, and on a
 * live refresh preact diffs it against what is there: inputs, focus and scroll stay as they are,
 * with no saving and restoring. A DOM node (the views still built with lib/dom.js h()) replaces
 * the content, keeping what the officer typed in its `data-keep` fields (preserve).
 */
function show(content, refresh) {
  if (content instanceof Node) {
    if (preactMounted) render(null, view);
    preactMounted = false;
    const keep = refresh ? preserve() : null;
    view.replaceChildren(content);
    if (keep) keep();
    return;
  }
  if (!preactMounted) view.replaceChildren();
  preactMounted = true;
  render(content, view);
}
export function wireRouter() {
  window.addEventListener('hashchange', () => route());
}

/** Keeps what the officer was typing (and the scroll position) across a live refresh. */
export function preserve() {
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

export function queryParams() {
  const q = location.hash.split('?')[1] || '';
  return new URLSearchParams(q);
}
