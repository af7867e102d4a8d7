// Numbers to call (issue 15 item 5), preact: every number one click away as a tel: link. The worker's
// phone and home contact are private (R22): they are fetched, and logged, only when the officer asks.
import { html, useState } from '/vendor/preact.js';
import { act, get } from '../lib/api.js';

export function TelLink({ number, label }) {
  if (!number) return html`<span class="muted">no number on record</span>`;
  return html`<a class="button tel" href=${`tel:${String(number).replace(/[^0-9+]/g, '')}`} data-tel=${label}>${number}</a>`;
}

// Emergency contacts as records of (name, relationship, phone) (issue 15 item 13), as the hub keeps
// them since schema version 10. The free text they were kept in before is shown beside them, read
// only, until the admin clears it (emergencyContactsOldText), so nothing written there is lost.

/** One contact in words with its number one click away (a tel: link), or "no number on record". */
function EmergencyLine({ c, i }) {
  return html`<span class="ec-line" data-ec-line=${String(i + 1)}>${`${c.name}${c.relationship ? ` (${c.relationship})` : ''} `}<${TelLink} number=${c.phone} label=${i === 0 ? 'home-contact' : `home-contact-${i + 1}`} />${' '}</span>`;
}

/** The records, and the old text when there still is one, for the numbers panel and the hand-over. */
export function EmergencyFacts({ list, oldText }) {
  const rows = list || [];
  return html`
    ${rows.length ? html`<span data-field="emergencyContacts">${rows.map((c, i) => html`<${EmergencyLine} c=${c} i=${i} />`)}</span>` : html`<span class="muted" data-field="emergencyContacts">none on record</span>`}
    ${oldText ? html`<div class="muted ec-old" data-field="emergencyContactsOldText">Old text (from before contacts were kept as records): ${oldText}</div>` : null}`;
}

/** The worker's own numbers, shown (and logged by the hub) only when the officer asks. */
function WorkerNumbers({ workerId }) {
  const [shown, setShown] = useState(null);
  if (!workerId) return html`<span class="muted">no worker on record</span>`;
  if (!shown) {
    const ask = async (e) => {
      const r = await act(e.currentTarget, () => get(`/api/workers/${encodeURIComponent(workerId)}/private?fields=phone,emergencyContacts,emergencyContactsOldText`));
      if (r) setShown(r.details);
    };
    return html`<button data-action="show-numbers" onClick=${ask}>Show the worker’s numbers (logged)</button>`;
  }
  return html`
    <span>Worker: ${shown.phone !== undefined ? html`<${TelLink} number=${shown.phone} label="worker" />` : html`<span class="muted">not shown to you</span>`}</span>
    <br />
    <span>Emergency contacts: ${shown.emergencyContacts !== undefined ? html`<${EmergencyFacts} list=${shown.emergencyContacts} oldText=${shown.emergencyContactsOldText} />` : html`<span class="muted">not shown to you</span>`}</span>`;
}

export function CallPanel({ alarm: a, detail: d }) {
  const v = d.visit;
  const c = d.contacts || {};
  return html`
    <section class="card" id="call">
      <h2>Numbers to call</h2>
      <dl class="facts">
        <dt>Worker and home contact</dt>
        <dd id="call-worker"><${WorkerNumbers} workerId=${a.workerId} /></dd>
        <dt>${`Contact at the visit address${v && v.contactName ? ` (${v.contactName})` : ''}`}</dt>
        <dd>${v ? html`<${TelLink} number=${v.contactPhone} label="visit-contact" />` : html`<span class="muted">no visit on record</span>`}</dd>
        <dt>${`Buddy${c.buddy ? ` (${c.buddy.name})` : ''}`}</dt>
        <dd>${c.buddy ? html`<${TelLink} number=${c.buddy.phone} label="buddy" />` : html`<span class="muted">no buddy on record</span>`}</dd>
        <dt>${`Line manager${c.lineManager ? ` (${c.lineManager.name})` : ''}`}</dt>
        <dd>${c.lineManager ? html`<${TelLink} number=${c.lineManager.phone} label="line-manager" />` : html`<span class="muted">no line manager on record</span>`}</dd>
      </dl>
    </section>`;
}
