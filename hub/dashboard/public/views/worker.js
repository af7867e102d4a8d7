// One worker (preact): their day, the phoned-in actions, recording a visit, their record and private
// details. The page re-reads itself after the officer's own actions; preact diffs it, so a visit
// being typed into the form, or minutes chosen to extend, stay as they are.
import { html, useRef, useState } from '/vendor/preact.js';
import { fmtTime, now, pad } from '../lib/time.js';
import { Until } from '../lib/live.js';
import { act, get, post } from '../lib/api.js';
import { route } from '../lib/nav.js';
import { PrivateFacts } from './alarm.js';

function toInstant(local) {
  return local ? new Date(local).getTime() : undefined;
}
function localInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const refresh = () => route();
const sighting = (s) => `${fmtTime(s.at)} · ${s.kind}${s.place ? ` · ${s.place}` : ''}`;

/** What the worker told the office by phone: the same actions as the fob's, recorded for them. */
function PhonedIn({ id, active, planned }) {
  const startRef = useRef(null);
  const extendRef = useRef(null);
  const doAction = (body, msg) => (e) => act(e.currentTarget, () => post(`/api/workers/${encodeURIComponent(id)}/actions`, body()), msg).then((r) => r && refresh());
  return html`
    <div class="row">
      <button data-action="checkin" onClick=${doAction(() => ({ type: 'checkin' }), 'Checked in')}>Check in</button>
      ${planned.length
        ? html`<select ref=${startRef} aria-label="visit to start">${planned.map((v) => html`<option key=${v.ref} value=${v.ref}>${`${v.ref} at ${fmtTime(v.scheduledStart)}`}</option>`)}</select><button data-action="start" onClick=${doAction(() => ({ type: 'visit_start', ref: startRef.current.value }), 'Visit started')}>Start visit</button>`
        : null}
      ${active
        ? html`<input ref=${extendRef} type="number" min="1" max="720" defaultValue="30" aria-label="minutes to extend" name="extend" /><button data-action="extend" onClick=${doAction(() => ({ type: 'extend', minutes: Number(extendRef.current.value) }), 'Visit extended')}>Extend</button><button data-action="end" onClick=${doAction(() => ({ type: 'visit_end' }), 'Visit ended')}>End visit</button>`
        : null}
      <button data-action="end-shift" onClick=${doAction(() => ({ type: 'end_of_shift' }), 'Shift ended: safe')}>End of shift</button>
    </div>`;
}

/** Recording a visit (R7-R9): the hub checks the visit policy and says what it refused, by field. */
function VisitForm({ id }) {
  const [result, setResult] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const f = e.currentTarget.elements;
    setResult(null);
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
      setResult({ ok: `Visit ${r.visit.ref} recorded.`, warnings: r.warnings });
      f.ref.value = '';
      setTimeout(refresh, 1500);
    } catch (err) {
      setResult({ error: err.message, field: err.field || '' });
    }
  };
  return html`
    <form class="card" id="visit-form" onSubmit=${submit}>
      <h2>Record a visit</h2>
      <div class="grid2">
        <label>Reference (never the address)<input name="ref" required placeholder="e.g. CASE-1042" /></label>
        <label>Start<input name="start" type="datetime-local" defaultValue=${localInput(now())} /></label>
        <label>Duration (minutes)<input name="duration" type="number" min="1" defaultValue="60" /></label>
        <label>Risk category<select name="category"><option value="1">1: lone working suitable</option><option value="2">2: two workers needed</option></select></label>
        <label>RAG<select name="rag">${['green', 'amber', 'red'].map((r) => html`<option value=${r}>${r}</option>`)}</select></label>
        <label>Check in every (min, blank = at end)<input name="interval" type="number" min="5" /></label>
        <label>Next location<input name="next" placeholder="office, home, next ref" /></label>
        <label>Second worker (id)<input name="second" /></label>
        <label>Contact at the address (name)<input name="contactName" placeholder="who the office calls (R13)" /></label>
        <label>Contact’s phone<input name="contactPhone" type="tel" /></label>
      </div>
      <div class="row"><label class="inline"><input type="checkbox" name="unplanned" />Unplanned (phoned in)</label><label class="inline"><input type="checkbox" name="startNow" />Starting now</label><button type="submit" class="primary">Record visit</button></div>
      <div id="visit-result">
        ${result && result.ok ? html`<p class="ok">${result.ok}</p>${result.warnings.map((w) => html`<p class="warning">${`Warning: ${w}`}</p>`)}` : null}
        ${result && result.error ? html`<p class="error" data-field=${result.field}>${result.error}</p>` : null}
      </div>
    </form>`;
}

function Itinerary({ visits }) {
  if (!visits.length) return html`<p class="muted">No visits recorded for today.</p>`;
  return html`
    <table>
      <thead><tr>${['Ref', 'Time', 'Risk', 'Status', 'Flags'].map((t) => html`<th>${t}</th>`)}</tr></thead>
      <tbody id="itinerary">
        ${visits.map((v) => html`<tr key=${v.ref} data-visit=${v.ref}><td>${v.ref + (v.unplanned ? ' (unplanned)' : '')}</td><td>${`${fmtTime(v.scheduledStart)} – ${fmtTime(v.expectedEnd)}`}</td><td><span class=${`rag ${v.rag}`}>${v.rag}</span>${` C${v.riskCategory}`}</td><td>${v.status}</td><td>${v.policyFlags.join(', ')}</td></tr>`)}
      </tbody>
    </table>`;
}

function WorkerPrivate({ id }) {
  const [shown, setShown] = useState(null);
  const ask = async () => {
    setShown(null);
    try {
      setShown({ r: await get(`/api/workers/${encodeURIComponent(id)}/private`) });
    } catch (err) {
      setShown({ error: err.message });
    }
  };
  return html`
    <button data-action="private" onClick=${ask}>Show private details (logged)</button>
    <div id="private">${shown && shown.r ? html`<${PrivateFacts} r=${shown.r} />` : null}${shown && shown.error ? html`<p class="error">${shown.error}</p>` : null}</div>`;
}

function WorkerPage({ d }) {
  const w = d.worker;
  const st = d.state || {};
  const active = d.visits.find((v) => v.id === st.activeVisitId && v.status === 'active');
  const planned = d.visits.filter((v) => v.status === 'planned');
  return html`
    <section id="worker" data-worker=${w.id}>
      <h1>${w.name}</h1>
      <div class="cols">
        <div>
          <section class="card">
            <h2>Now</h2>
            <dl class="facts">
              <dt>Shift</dt>
              <dd>${st.onShift ? 'on shift' : 'off shift'}</dd>
              <dt>Visit</dt>
              <dd id="active-visit">${active ? `${active.ref} until ${fmtTime(active.expectedEnd)}` : 'between visits'}</dd>
              <dt>Next check-in due</dt>
              <dd>${st.due ? html`${fmtTime(st.due.at)} (<${Until} at=${st.due.at} />)` : '–'}</dd>
              <dt>Last sighting</dt>
              <dd>${st.lastSighting ? sighting(st.lastSighting) : '–'}</dd>
            </dl>
            <h3>The worker phoned in</h3>
            <${PhonedIn} id=${w.id} active=${active} planned=${planned} />
          </section>
          <${VisitForm} id=${w.id} />
        </div>
        <div>
          <section class="card"><h2>Today's visits</h2><${Itinerary} visits=${d.visits} /></section>
          <section class="card">
            <h2>Record</h2>
            <dl class="facts"><dt>Buddy</dt><dd>${w.buddyName || '–'}</dd><dt>Line manager</dt><dd>${w.lineManagerName || '–'}</dd><dt>Training</dt><dd>${`${w.trainingDate || 'never'}${w.newStarter ? ' · new starter' : ''}`}</dd><dt>Fobs</dt><dd>${d.devices.map((f) => `${f.id}${f.revokedAt ? ' (revoked)' : ''}`).join(', ') || '–'}</dd></dl>
            <h3>Private details</h3>
            <p class="muted">Only roles that need them see these, and the duty officer during an active alarm. Every view and every refused attempt is logged.</p>
            <${WorkerPrivate} id=${w.id} />
          </section>
        </div>
      </div>
    </section>`;
}

/** One worker as a preact element, keyed by the worker: another worker's page starts with an empty form. */
export async function workerView(id) {
  const d = await get(`/api/workers/${encodeURIComponent(id)}`);
  return html`<${WorkerPage} key=${d.worker.id} d=${d} />`;
}
