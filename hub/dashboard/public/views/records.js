import { h } from '../lib/dom.js';
import { state } from '../lib/state.js';
import { fmtDateTime, now, responseText, zoneOf } from '../lib/time.js';
import { get } from '../lib/api.js';
import { queryParams } from '../router.js';
import { timelineList } from './alarm.js';
import { OUTCOME_LABEL } from '../lib/words.js';
import { ALARM_KIND, ALARM_KINDS } from '/vocabulary.js';

// ---------------------------------------------------------------------------------------------
// Records: search, CSV, printable

export function recordsQuery(form) {
  const p = new URLSearchParams();
  for (const k of ['q', 'kind', 'state', 'from', 'to']) {
    const v = form ? form.elements[k].value.trim() : '';
    if (v) p.set(k, v);
  }
  return p;
}

export async function recordsView() {
  const params = queryParams();
  const d = await get(`/api/records?${params}`);
  const form = h(
    'form',
    { class: 'card row', id: 'records-form' },
    h('label', {}, 'Search', h('input', { name: 'q', value: params.get('q') || '', placeholder: 'worker, visit ref, note…' })),
    h('label', {}, 'Kind', h('select', { name: 'kind' }, h('option', { value: '', text: 'any' }), ALARM_KINDS.map((k) => h('option', { value: k, text: ALARM_KIND[k].label, selected: params.get('kind') === k })))),
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

export async function recordsPrintView() {
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
