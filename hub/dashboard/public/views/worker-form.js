import { $, h, toast } from '../lib/dom.js';
import { api, get } from '../lib/api.js';

// ---------------------------------------------------------------------------------------------
// Admin worker form (issue 15 item 1). A form that kept the last worker's values carried one worker's
// medical notes and car into the next worker's record, and the police would be handed the wrong
// ones. So: the form is emptied after every save and by "New worker"; Edit loads that worker's own
// private fields (an admin view, logged under R22); every field is sent, and a blank one clears it.

export const WORKER_TEXT_FIELDS = ['buddyId', 'lineManagerId', 'trainingDate', 'phone', 'homeAddress', 'medicalNotes', 'car', 'description'];
export const WORKER_PRIVATE_FIELDS = ['phone', 'homeAddress', 'medicalNotes', 'car', 'description'];


export function emergencyRow(box, row = { name: '', relationship: '', phone: '' }) {
  const n = box.children.length + 1;
  const line = h(
    'div',
    { class: 'row ec-row', 'data-ec': String(n) },
    h('label', {}, `Contact ${n}: name`, h('input', { 'data-ec-field': 'name', value: row.name || '' })),
    h('label', {}, 'Relationship', h('input', { 'data-ec-field': 'relationship', value: row.relationship || '', placeholder: 'partner, parent…' })),
    h('label', {}, 'Phone', h('input', { 'data-ec-field': 'phone', type: 'tel', value: row.phone || '' })),
    h('button', { type: 'button', 'data-action': 'remove-ec', 'aria-label': `remove emergency contact ${n}`, onclick: () => line.remove() }, 'Remove'),
  );
  box.append(line);
}

export function emergencyEditor() {
  const box = h('div', { id: 'ec-rows' });
  const old = h('div', { id: 'ec-old', hidden: true });
  const el = h('fieldset', { class: 'ec', id: 'emergency-contacts' }, h('legend', { text: 'Emergency contacts (private)' }), box, h('button', { type: 'button', 'data-action': 'add-ec', onclick: () => emergencyRow(box) }, 'Add an emergency contact'), old);
  return {
    el,
    /** The rows with a name, in order; a row with only a number is refused by the hub with its reason. */
    get: () =>
      [...box.querySelectorAll('.ec-row')]
        .map((r) => ({ name: r.querySelector('[data-ec-field=name]').value.trim(), relationship: r.querySelector('[data-ec-field=relationship]').value.trim() || null, phone: r.querySelector('[data-ec-field=phone]').value.trim() || null }))
        .filter((c) => c.name || c.phone),
    /** True when the admin ticked "clear the old text". */
    clearOld: () => Boolean(old.querySelector('input[name=clearOldText]:checked')),
    set: (list, oldText) => {
      box.replaceChildren();
      for (const r of list || []) emergencyRow(box, r);
      if (box.children.length === 0) emergencyRow(box);
      old.hidden = !oldText;
      old.replaceChildren(
        ...(oldText
          ? [
              h('p', { class: 'muted', text: 'Old text, from before contacts were kept as records (read into the rows above when the hub was upgraded: check them):' }),
              h('pre', { class: 'ec-old', 'data-field': 'emergencyContactsOldText', text: oldText }),
              h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'clearOldText' }), 'Clear the old text when saving'),
            ]
          : []),
      );
    },
  };
}

export function workerForm(contacts, refresh) {
  const ec = emergencyEditor();
  const form = h(
    'form',
    { id: 'worker-form', 'data-mode': 'new' },
    h(
      'div',
      { class: 'grid2' },
      h('label', {}, 'Worker id', h('input', { name: 'id', required: true })),
      h('label', {}, 'Name', h('input', { name: 'name', required: true })),
      h('label', {}, 'Buddy (worker or contact id)', h('input', { name: 'buddyId' })),
      h('label', {}, 'Line manager', h('select', { name: 'lineManagerId' }, h('option', { value: '', text: '(none)' }), contacts.contacts.filter((c) => c.lineManager).map((c) => h('option', { value: c.id, text: `${c.name} (${c.role.replace(/_/g, ' ')})` })))),
      h('label', {}, 'Training date', h('input', { name: 'trainingDate', type: 'date' })),
      h('label', { class: 'inline' }, h('input', { name: 'newStarter', type: 'checkbox' }), 'New starter'),
      h('label', {}, 'Phone (private)', h('input', { name: 'phone' })),
      h('label', {}, 'Home address (private)', h('input', { name: 'homeAddress' })),
      h('label', {}, 'Medical notes (private)', h('input', { name: 'medicalNotes' })),
      h('label', {}, 'Car: make, colour, reg (private)', h('input', { name: 'car' })),
      h('label', {}, 'Description for the police: height, build, hair, clothing (private)', h('input', { name: 'description' })),
    ),
    ec.el,
    h('p', { class: 'muted', text: 'Every field is saved as shown: a blank field is saved blank.' }),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Save worker'), h('button', { type: 'button', 'data-action': 'new-worker', onclick: () => (clearWorkerForm(form), ec.set([], null)) }, 'New worker'), h('span', { id: 'worker-result' })),
  );
  form.emergency = ec;
  ec.set([], null);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = form.elements;
    const id = f.id.value.trim();
    const body = { name: f.name.value.trim(), newStarter: f.newStarter.checked };
    for (const k of WORKER_TEXT_FIELDS) body[k] = f[k].value.trim() || null;
    body.emergencyContacts = ec.get();
    if (ec.clearOld()) body.emergencyContactsOldText = null;
    const out = $('#worker-result');
    try {
      await api('PUT', `/api/workers/${encodeURIComponent(id)}`, body);
      clearWorkerForm(form);
      ec.set([], null);
      toast(`Saved ${id}`);
      refresh();
    } catch (err) {
      out.className = 'error';
      out.textContent = err.message;
    }
  });
  return form;
}

export function clearWorkerForm(form) {
  form.reset();
  form.elements.id.readOnly = false;
  form.dataset.mode = 'new';
  const title = $('#worker-form-title');
  if (title) title.textContent = 'Add a worker';
  const out = $('#worker-result');
  if (out) out.textContent = '';
}

/** Loads one worker into the form: their record and their own private fields (nothing left over). */
export async function editWorker(form, w) {
  const r = await get(`/api/workers/${encodeURIComponent(w.id)}/private`);
  clearWorkerForm(form);
  const f = form.elements;
  f.id.value = w.id;
  f.id.readOnly = true;
  f.name.value = w.name;
  f.buddyId.value = w.buddyId || '';
  f.lineManagerId.value = w.lineManagerId || '';
  f.trainingDate.value = w.trainingDate || '';
  f.newStarter.checked = w.newStarter;
  for (const k of WORKER_PRIVATE_FIELDS) f[k].value = (r.details && r.details[k]) || '';
  form.emergency.set((r.details && r.details.emergencyContacts) || [], (r.details && r.details.emergencyContactsOldText) || null);
  form.dataset.mode = 'edit';
  $('#worker-form-title').textContent = `Edit ${w.name} (${w.id})`;
  f.name.focus();
  return r;
}

