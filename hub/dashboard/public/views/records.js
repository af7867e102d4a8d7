// Incident records (preact): search, CSV export and a printable page of whole timelines.
import { html } from '/vendor/preact.js';
import { ALARM_KIND, ALARM_KINDS } from '/vocabulary.js';
import { state } from '../lib/state.js';
import { fmtDateTime, now, responseText, zoneOf } from '../lib/time.js';
import { get } from '../lib/api.js';
import { OUTCOME_LABEL } from '../lib/words.js';
import { queryParams } from '../lib/nav.js';
import { Timeline } from './alarm.js';

const FILTERS = ['q', 'kind', 'state', 'from', 'to'];

function recordsQuery(form) {
  const p = new URLSearchParams();
  for (const k of FILTERS) {
    const v = form.elements[k].value.trim();
    if (v) p.set(k, v);
  }
  return p;
}

const outcomeText = (r) => (r.outcome ? OUTCOME_LABEL[r.outcome] || r.outcome : r.open ? '–' : r.state === 'cancelled' ? 'Cancelled' : 'not recorded');

function RecordRow({ r }) {
  return html`
    <tr data-alarm=${r.id}>
      <td>${fmtDateTime(r.raisedAt)}</td>
      <td>${r.kindLabel + (r.drill ? ' (drill)' : '') + (r.stale ? ' (stale: happened more than 7 days before it arrived)' : '')}</td>
      <td>${r.workerName || r.workerId || '–'}</td>
      <td>${r.visitRef || '–'}</td>
      <td><span class=${`state s-${r.state}`}>${r.state}</span></td>
      <td data-col="response">${responseText(r)}</td>
      <td data-col="outcome">${outcomeText(r)}</td>
      <td>${String(r.steps)}</td>
      <td><a href=${`#/alarm/${encodeURIComponent(r.id)}`}>timeline</a></td>
    </tr>`;
}

function Records({ params, d }) {
  const search = (e) => {
    e.preventDefault();
    location.hash = `#/records?${recordsQuery(e.currentTarget)}`;
  };
  const kind = params.get('kind');
  return html`
    <section id="records">
      <h1>Incident records</h1>
      <p class="muted" id="records-zone">${`Times are 24-hour, ${Intl.DateTimeFormat().resolvedOptions().timeZone} (${zoneOf(now())}). The CSV has the hub’s local time beside the exact ISO time.`}</p>
      <form class="card row" id="records-form" onSubmit=${search}>
        <label>Search<input name="q" defaultValue=${params.get('q') || ''} placeholder="worker, visit ref, note…" /></label>
        <label>Kind<select name="kind"><option value="">any</option>${ALARM_KINDS.map((k) => html`<option value=${k} selected=${kind === k}>${ALARM_KIND[k].label}</option>`)}</select></label>
        <label>State<select name="state"><option value="">any</option><option value="open" selected=${params.get('state') === 'open'}>open</option><option value="closed" selected=${params.get('state') === 'closed'}>closed</option></select></label>
        <label>From<input name="from" type="date" defaultValue=${params.get('from') || ''} /></label>
        <label>To<input name="to" type="date" defaultValue=${params.get('to') || ''} /></label>
        <button type="submit" class="primary">Search</button>
      </form>
      <div class="row">
        <a class="button" href=${`/api/records/export.csv?${params}`} download="" data-action="csv">Export CSV</a>
        <a class="button" href=${`#/records/print?${params}`} data-action="printable">Printable page</a>
        <span class="muted">${`${d.records.length} incident(s)`}</span>
      </div>
      <table>
        <thead><tr>${['Raised', 'Kind', 'Worker', 'Visit', 'State', 'Response', 'Outcome', 'Steps', ''].map((t) => html`<th>${t}</th>`)}</tr></thead>
        <tbody id="records-rows">${d.records.map((r) => html`<${RecordRow} key=${r.id} r=${r} />`)}</tbody>
      </table>
    </section>`;
}

export async function recordsView() {
  const params = queryParams();
  const d = await get(`/api/records?${params}`);
  // Keyed by the query: a new search starts from the fields it was made with.
  return html`<${Records} key=${params.toString()} params=${params} d=${d} />`;
}

function Incident({ x }) {
  const a = x.alarm;
  return html`
    <div class="incident">
      <h2>${`${a.kindLabel}: ${a.workerName || a.workerId || a.deviceId || ''} (${fmtDateTime(a.raisedAt)})`}</h2>
      <p>${`${responseText(a)} · ${a.outcome ? `outcome: ${OUTCOME_LABEL[a.outcome] || a.outcome}` : 'no outcome recorded'}`}</p>
      <p>${`Incident ${a.id} · state ${a.state}${a.closedAt ? ` at ${fmtDateTime(a.closedAt)}` : ''} · visit ${a.visitRef || '–'} · policy ${a.policy}${a.drill ? ' · DRILL' : ''}${a.stale ? ' · STALE: happened more than 7 days before it reached the hub' : ''}`}</p>
      <${Timeline} entries=${x.timeline} />
    </div>`;
}

export async function recordsPrintView() {
  const params = queryParams();
  params.set('limit', '50');
  const d = await get(`/api/records?${params}`);
  const details = [];
  for (const r of d.records) details.push(await get(`/api/alarms/${encodeURIComponent(r.id)}`));
  params.delete('limit');
  return html`
    <section id="records-print">
      <div class="row no-print"><a class="button" href=${`#/records?${params}`}>← Back to records</a><button class="primary" onClick=${() => window.print()}>Print</button></div>
      <div class="paper">
        <h1>Lonewatch incident records</h1>
        <p>${`${details.length} incident(s) · ${params.toString() || 'all'} · printed ${fmtDateTime(now())} by ${state.me.username}`}</p>
        ${details.map((x) => html`<${Incident} key=${x.alarm.id} x=${x} />`)}
      </div>
    </section>`;
}
