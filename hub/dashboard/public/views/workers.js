import { h } from '../lib/dom.js';
import { state } from '../lib/state.js';
import { fmtTime, untilSpan } from '../lib/time.js';
import { get } from '../lib/api.js';
import { route } from '../router.js';

// ---------------------------------------------------------------------------------------------
// Workers board and one worker

export const chipClass = (s) => `chip ${s.replace(/\s+/g, '-')}`;

export async function workersView() {
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
