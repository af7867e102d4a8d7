// The admin's worker form (issue 15 item 1), preact. A form that kept the last worker's values carried
// one worker's medical notes and car into the next worker's record, and the police would be handed the
// wrong ones. So the form is a component keyed by what it holds (admin.js WorkersCard): after every
// save, "New worker" and each Edit it is made afresh, empty or with that worker's own record and
// private fields (loaded through an admin view, logged under R22); every field is sent, a blank one
// clearing it.
import { html, useEffect, useRef, useState } from '/vendor/preact.js';
import { toast } from '../lib/dom.js';
import { api } from '../lib/api.js';

const WORKER_TEXT_FIELDS = ['buddyId', 'lineManagerId', 'trainingDate', 'phone', 'homeAddress', 'medicalNotes', 'car', 'description'];
const EMPTY_ROW = { name: '', relationship: '', phone: '' };

// Emergency contacts as records of (name, relationship, phone) (issue 15 item 13), as the hub keeps
// them since schema version 10. The free text they were kept in before is shown beside them, read
// only, until the admin clears it (emergencyContactsOldText), so nothing written there is lost.
function EmergencyEditor({ initial, oldText }) {
  const next = useRef(0);
  const keyed = (row) => ({ key: next.current++, row });
  const [rows, setRows] = useState(() => (initial && initial.length ? initial : [EMPTY_ROW]).map(keyed));
  const remove = (key) => setRows(rows.filter((r) => r.key !== key));
  return html`
    <fieldset class="ec" id="emergency-contacts">
      <legend>Emergency contacts (private)</legend>
      <div id="ec-rows">
        ${rows.map(
          ({ key, row }, i) => html`
            <div key=${key} class="row ec-row" data-ec=${String(i + 1)}>
              <label>${`Contact ${i + 1}: name`}<input data-ec-field="name" defaultValue=${row.name || ''} /></label>
              <label>Relationship<input data-ec-field="relationship" defaultValue=${row.relationship || ''} placeholder="partner, parent…" /></label>
              <label>Phone<input data-ec-field="phone" type="tel" defaultValue=${row.phone || ''} /></label>
              <button type="button" data-action="remove-ec" aria-label=${`remove emergency contact ${i + 1}`} onClick=${() => remove(key)}>Remove</button>
            </div>`,
        )}
      </div>
      <button type="button" data-action="add-ec" onClick=${() => setRows([...rows, keyed(EMPTY_ROW)])}>Add an emergency contact</button>
      <div id="ec-old" hidden=${!oldText}>
        ${oldText
          ? html`<p class="muted">Old text, from before contacts were kept as records (read into the rows above when the hub was upgraded: check them):</p>
              <pre class="ec-old" data-field="emergencyContactsOldText">${oldText}</pre>
              <label class="check"><input type="checkbox" name="clearOldText" />Clear the old text when saving</label>`
          : null}
      </div>
    </fieldset>`;
}

/** The rows with a name or a number, in order; a row with only a number is refused by the hub with its reason. */
function emergencyRows(form) {
  return [...form.querySelectorAll('#ec-rows .ec-row')]
    .map((r) => ({ name: r.querySelector('[data-ec-field=name]').value.trim(), relationship: r.querySelector('[data-ec-field=relationship]').value.trim() || null, phone: r.querySelector('[data-ec-field=phone]').value.trim() || null }))
    .filter((c) => c.name || c.phone);
}

export function WorkerForm({ contacts, worker: w, details, onSaved, onNew }) {
  const [error, setError] = useState('');
  const nameRef = useRef(null);
  const d = details || {};
  useEffect(() => {
    if (w) nameRef.current.focus();
  }, []);
  const submit = async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = form.elements;
    const id = f.id.value.trim();
    const body = { name: f.name.value.trim(), newStarter: f.newStarter.checked };
    for (const k of WORKER_TEXT_FIELDS) body[k] = f[k].value.trim() || null;
    body.emergencyContacts = emergencyRows(form);
    if (f.clearOldText && f.clearOldText.checked) body.emergencyContactsOldText = null;
    try {
      await api('PUT', `/api/workers/${encodeURIComponent(id)}`, body);
      toast(`Saved ${id}`);
      onSaved();
    } catch (err) {
      setError(err.message);
    }
  };
  const managers = contacts.contacts.filter((c) => c.lineManager);
  return html`
    <form id="worker-form" data-mode=${w ? 'edit' : 'new'} onSubmit=${submit}>
      <div class="grid2">
        <label>Worker id<input name="id" required defaultValue=${w ? w.id : ''} readOnly=${Boolean(w)} /></label>
        <label>Name<input ref=${nameRef} name="name" required defaultValue=${w ? w.name : ''} /></label>
        <label>Buddy (worker or contact id)<input name="buddyId" defaultValue=${(w && w.buddyId) || ''} /></label>
        <label>Line manager<select name="lineManagerId"><option value="">(none)</option>${managers.map((c) => html`<option value=${c.id} selected=${Boolean(w && w.lineManagerId === c.id)}>${`${c.name} (${c.role.replace(/_/g, ' ')})`}</option>`)}</select></label>
        <label>Training date<input name="trainingDate" type="date" defaultValue=${(w && w.trainingDate) || ''} /></label>
        <label class="inline"><input name="newStarter" type="checkbox" defaultChecked=${Boolean(w && w.newStarter)} />New starter</label>
        <label>Phone (private)<input name="phone" defaultValue=${d.phone || ''} /></label>
        <label>Home address (private)<input name="homeAddress" defaultValue=${d.homeAddress || ''} /></label>
        <label>Medical notes (private)<input name="medicalNotes" defaultValue=${d.medicalNotes || ''} /></label>
        <label>Car: make, colour, reg (private)<input name="car" defaultValue=${d.car || ''} /></label>
        <label>Description for the police: height, build, hair, clothing (private)<input name="description" defaultValue=${d.description || ''} /></label>
      </div>
      <${EmergencyEditor} initial=${d.emergencyContacts || []} oldText=${d.emergencyContactsOldText || null} />
      <p class="muted">Every field is saved as shown: a blank field is saved blank.</p>
      <div class="row"><button type="submit" class="primary">Save worker</button><button type="button" data-action="new-worker" onClick=${onNew}>New worker</button><span id="worker-result" class=${error ? 'error' : undefined}>${error}</span></div>
    </form>`;
}
