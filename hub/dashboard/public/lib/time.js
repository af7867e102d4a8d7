import { state } from './state.js';

// Times as the officer reads them: 24-hour local time with the zone, and relative times kept live.
export const now = () => Date.now() + state.skew;
export const pad = (n) => String(n).padStart(2, '0');
export function fmtTime(ms) {
  if (ms === null || ms === undefined) return '–';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
/** The browser's zone as people read it ("GMT", "BST"): dates on records say which clock they use. */
export function zoneOf(ms) {
  const part = new Intl.DateTimeFormat([], { timeZoneName: 'short' }).formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName');
  return part ? part.value : '';
}
export function fmtDateTime(ms) {
  if (ms === null || ms === undefined) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtTime(ms)} ${zoneOf(ms)}`.trim();
}
/** "4 min 10 s" from milliseconds. */
export function fmtDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
/** How fast a person took the alarm, in words (issue 15 item 15). */
export function responseText(r) {
  if (r.acknowledgedAt) return `taken after ${fmtDuration(r.acknowledgedAt - r.raisedAt)} by ${String(r.acknowledgedBy).replace(/^user:/, '')}`;
  return r.open ? 'not taken yet' : 'closed without being taken';
}
export function ago(ms) {
  if (ms === null || ms === undefined) return '–';
  const s = Math.round((now() - ms) / 1000);
  if (s < 60) return s <= 5 ? 'just now' : `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  return fmtDateTime(ms);
}
export function until(ms) {
  const s = Math.round((ms - now()) / 1000);
  const a = Math.abs(s);
  const text = a < 3600 ? `${Math.floor(a / 60)} min` : `${Math.floor(a / 3600)} h ${Math.floor((a % 3600) / 60)} min`;
  return s >= 0 ? `in ${text}` : `${text} overdue`;
}
/** How long since `ms`, without "ago": "silent for 34 min". */
export function since(ms) {
  const s = Math.max(0, Math.round((now() - ms) / 1000));
  if (s < 60) return 'under a minute';
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * Rewrites every relative time on screen. While the hub is unreachable a "told again in 1 min" is a
 * guess about a ladder the console cannot see, so it is replaced by a plain "not known" (item 4).
 */
export function tickLiveTimes() {
  for (const el of document.querySelectorAll('[data-until]')) {
    setText(el, state.hubLost ? '(not known: hub unreachable)' : until(Number(el.dataset.until)));
    el.classList.toggle('stale-time', state.hubLost);
  }
  for (const el of document.querySelectorAll('[data-ago]')) setText(el, ago(Number(el.dataset.ago)));
  for (const el of document.querySelectorAll('[data-since]')) setText(el, since(Number(el.dataset.since)));
}

/**
 * Rewrites the span's own text node in place: in a view rendered by preact that node is the one preact
 * keeps, so its next diff still updates what is on screen (a new node would leave preact's detached).
 */
function setText(el, text) {
  const t = el.firstChild;
  if (t && t.nodeType === 3 && !t.nextSibling) {
    if (t.data !== text) t.data = text;
  } else el.textContent = text;
}

/** The view's own text for the live spans, for the preact views (lib/live.js) to render the same words. */
export const untilText = (ms) => (state.hubLost ? '(not known: hub unreachable)' : until(ms));
