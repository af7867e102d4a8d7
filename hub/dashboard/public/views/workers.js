// The workers board (preact): every worker's status, visit, next check-in due, last sighting and fobs.
// Live from the change feed only: the hub sends a `worker` change when a worker's day changes (a
// check-in, a visit started or ended, a shift ended, a check-in falling due), a `device` change when a
// fob connects or drops, and `visit` / `admin` changes for itineraries and records (live-feed.js
// re-reads the board on each, and on every reconnection of the stream). Re-rendering diffs the rows.
import { html } from '/vendor/preact.js';
import { state } from '../lib/state.js';
import { fmtTime, now } from '../lib/time.js';
import { Until } from '../lib/live.js';
import { get } from '../lib/api.js';
import { route } from '../lib/nav.js';

export const chipClass = (s) => `chip ${s.replace(/\s+/g, '-')}`;

const sighting = (s) => `${fmtTime(s.at)} · ${s.kind}${s.place ? ` · ${s.place}` : ''}`;

function WorkerRow({ w }) {
  return html`
    <tr class=${w.status.includes('alarm') ? 'hl' : ''} data-worker=${w.id}>
      <td><a href=${`#/worker/${encodeURIComponent(w.id)}`}>${w.name}</a><div class="muted">${w.id}</div></td>
      <td>${w.status.map((s) => html`<span class=${chipClass(s)}>${s}</span>`)}</td>
      <td>${w.activeVisit ? `${w.activeVisit.ref} until ${fmtTime(w.activeVisit.expectedEnd)}` : w.nextVisit ? html`<span class="muted">next: ${w.nextVisit.ref} at ${fmtTime(w.nextVisit.scheduledStart)}</span>` : '–'}</td>
      <td data-next-due=${w.id}>${w.nextDue ? html`${fmtTime(w.nextDue.at)} (<${Until} at=${w.nextDue.at} />) · ${String(w.nextDue.reason).replace(/_/g, ' ')}` : '–'}</td>
      <td>${w.lastSighting ? sighting(w.lastSighting) : '–'}</td>
      <td>${w.devices.length ? w.devices.map((f) => html`<div>${`${f.id}: ${f.online ? 'online' : 'offline'}${f.battery !== null ? `, ${f.battery}%` : ''}`}</div>`) : '–'}</td>
    </tr>`;
}

function WorkersBoard({ data }) {
  return html`
    <section id="workers">
      <h1>Workers</h1>
      <table>
        <thead><tr>${['Worker', 'Status', 'Visit', 'Next check-in due', 'Last sighting', 'Fob'].map((t) => html`<th>${t}</th>`)}</tr></thead>
        <tbody>${data.workers.map((w) => html`<${WorkerRow} key=${w.id} w=${w} />`)}</tbody>
      </table>
      <p class="muted">Open a worker to record or change visits (unplanned visits too), extend or end a visit, or check them in after a phone call.</p>
    </section>`;
}

export async function workersView() {
  const data = await get('/api/workers');
  // Not a poll: the hub words a status against its clock when asked ("overdue" once a check-in's due
  // time has passed, before any alarm or change is written), so the board is read again once, at the
  // next due time it shows.
  const t = now();
  const next = Math.min(...data.workers.map((w) => (w.nextDue && w.nextDue.at > t ? w.nextDue.at : Infinity)));
  if (Number.isFinite(next)) {
    state.timers.push(setTimeout(() => state.route === 'workers' && route(), Math.min(next - t + 1000, 2 ** 31 - 1)));
  }
  return html`<${WorkersBoard} data=${data} />`;
}
