// The police hand-over (R5), preact: one printable page with what the police need, location first.
import { html } from '/vendor/preact.js';
import { ANSWER_LABEL } from '../lib/words.js';
import { positionPanel } from '../map-view.js';
import { fmtDateTime, fmtTime } from '../lib/time.js';
import { get } from '../lib/api.js';
import { DomSlot } from '../lib/dom-slot.js';
import { EmergencyFacts, TelLink } from './numbers.js';

const who = (by) => String(by).replace(/^user:/, '');

/** The 999 reference, the officer's notes and who else to phone, for the police (issue 15 item 14). */
function HandoverRecord({ d }) {
  const refs = d.policeReferences || [];
  const c = d.contacts || {};
  const notes = d.notes || [];
  return html`
    <h2>Police (999) reference</h2>
    <p id="handover-999">${refs.length ? refs.map((r) => `${r.reference || 'no reference given'} (999 called ${fmtTime(r.at)} by ${who(r.by)})`).join('; ') : '999 not yet recorded as called: record it on the alarm page with the reference the police give'}</p>
    <h2>Officer’s notes</h2>
    ${notes.length ? html`<ul id="handover-notes">${notes.map((n) => html`<li>${`${fmtTime(n.at)} ${who(n.by)}: ${n.text}`}</li>`)}</ul>` : html`<p id="handover-notes" class="muted">no notes</p>`}
    <h2>Others to phone</h2>
    <dl class="facts">
      <dt>${`Buddy${c.buddy ? ` (${c.buddy.name})` : ''}`}</dt>
      <dd>${c.buddy && c.buddy.phone ? html`<${TelLink} number=${c.buddy.phone} label="buddy" />` : '–'}</dd>
      <dt>${`Line manager${c.lineManager ? ` (${c.lineManager.name})` : ''}`}</dt>
      <dd>${c.lineManager && c.lineManager.phone ? html`<${TelLink} number=${c.lineManager.phone} label="line-manager" />` : '–'}</dd>
    </dl>`;
}

function Handover({ id, d }) {
  const w = d.worker;
  const v = d.visit;
  const s = d.lastSighting;
  const answered = d.script.questions.filter((q) => q.answer);
  // The position is shown once, in the map card (positionPanel: map, age, accuracy, geo:/OSM links,
  // printed as text on paper too); issue 20.
  const sighting = s ? `${fmtDateTime(s.at)} · ${s.kind}${s.place ? ` · ${s.place}` : ''}${s.position ? ` · near ${s.position.lat}, ${s.position.lon} (within ${s.position.accuracyM} m)` : ''}` : 'none recorded';
  return html`
    <section id="handover">
      <div class="row no-print"><a class="button" href=${`#/alarm/${encodeURIComponent(id)}`}>← Back to the alarm</a><button class="primary" data-action="print" onClick=${() => window.print()}>Print</button></div>
      <div class="paper">
        <h1>${`Police hand-over: ${d.alarm.kindLabel} for ${w.name}`}</h1>
        <p>${`Alarm ${d.alarm.id} raised ${fmtDateTime(d.alarm.raisedAt)}. Generated ${fmtDateTime(d.generatedAt)} by ${who(d.generatedBy)}. CONFIDENTIAL.`}</p>
        <h2>Location</h2>
        <dl class="facts big-fact">
          <dt>Visit reference</dt>
          <dd data-field="visit">${v ? `${v.ref} (look up the address in the case system)` : 'no visit on record'}</dd>
          ${v ? html`<dt>Expected there</dt><dd>${`${fmtTime(v.scheduledStart)} – ${fmtTime(v.expectedEnd)}`}</dd>` : null}
          ${v ? html`<dt>Risk</dt><dd>${`${v.rag.toUpperCase()}, Category ${v.riskCategory}`}</dd>` : null}
          ${v && v.nextLocation ? html`<dt>Next location</dt><dd>${v.nextLocation}</dd>` : null}
          ${v ? html`<dt>${`Contact at the visit address${v.contactName ? ` (${v.contactName})` : ''}`}</dt><dd data-field="visitContact">${v.contactPhone ? html`<${TelLink} number=${v.contactPhone} label="visit-contact" />` : '–'}</dd>` : null}
          <dt>Last confirmed sighting</dt>
          <dd>${sighting}</dd>
          <dt>Home address</dt>
          <dd data-field="homeAddress">${w.homeAddress || '–'}</dd>
        </dl>
        <${DomSlot} node=${positionPanel(id, 'handover', d.alarm.open !== false)} />
        <h2>The worker</h2>
        <dl class="facts big-fact">
          <dt>Name</dt>
          <dd>${w.name}</dd>
          <dt>Description</dt>
          <dd data-field="description">${w.description || '–'}</dd>
          <dt>Phone</dt>
          <dd data-field="phone">${w.phone ? html`<${TelLink} number=${w.phone} label="worker" />` : '–'}</dd>
          <dt>Emergency contacts</dt>
          <dd><${EmergencyFacts} list=${w.emergencyContacts} oldText=${w.emergencyContactsOldText} /></dd>
          <dt>Medical details</dt>
          <dd data-field="medicalNotes">${w.medicalNotes || '–'}</dd>
          <dt>Car (make, colour, registration)</dt>
          <dd data-field="car">${w.car || '–'}</dd>
          <dt>Fob</dt>
          <dd>${d.device ? `${d.device.id}${d.device.board ? ` (${d.device.board})` : ''}, last heard ${fmtDateTime(d.device.lastSeenAt)}` : '–'}</dd>
        </dl>
        ${d.withheld.length ? html`<p class="warning">${`Not shown to you: ${d.withheld.map((x) => x.field).join(', ')}.`}</p>` : null}
        <${HandoverRecord} d=${d} />
        ${answered.length ? html`<h2>What the worker said (purple file script)</h2><ul>${answered.map((q) => html`<li>${`${q.text} ${ANSWER_LABEL[q.answer]}${q.note ? ` (“${q.note}”)` : ''} at ${fmtTime(q.at)}`}</li>`)}</ul>` : null}
      </div>
    </section>`;
}

export async function handoverView(id) {
  const d = await get(`/api/alarms/${encodeURIComponent(id)}/handover`);
  return html`<${Handover} key=${id} id=${id} d=${d} />`;
}
