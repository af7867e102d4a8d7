import { h } from '../lib/dom.js';
import { act, get } from '../lib/api.js';

// ---------------------------------------------------------------------------------------------
// Numbers to call (issue 15 item 5): every number one click away as a tel: link. The worker's phone
// and home contact are private (R22): they are fetched, and logged, only when the officer asks.

export function telLink(number, label) {
  if (!number) return h('span', { class: 'muted', text: 'no number on record' });
  return h('a', { class: 'button tel', href: `tel:${String(number).replace(/[^0-9+]/g, '')}`, 'data-tel': label, text: number });
}

export function callPanel(a, d) {
  const v = d.visit;
  const c = d.contacts || {};
  const privateNumbers = h('dd', { id: 'call-worker' });
  const rows = [
    h('dt', { text: 'Worker and home contact' }),
    privateNumbers,
    h('dt', { text: `Contact at the visit address${v && v.contactName ? ` (${v.contactName})` : ''}` }),
    h('dd', {}, v ? telLink(v.contactPhone, 'visit-contact') : h('span', { class: 'muted', text: 'no visit on record' })),
    h('dt', { text: `Buddy${c.buddy ? ` (${c.buddy.name})` : ''}` }),
    h('dd', {}, c.buddy ? telLink(c.buddy.phone, 'buddy') : h('span', { class: 'muted', text: 'no buddy on record' })),
    h('dt', { text: `Line manager${c.lineManager ? ` (${c.lineManager.name})` : ''}` }),
    h('dd', {}, c.lineManager ? telLink(c.lineManager.phone, 'line-manager') : h('span', { class: 'muted', text: 'no line manager on record' })),
  ];
  if (a.workerId) {
    privateNumbers.append(
      h(
        'button',
        {
          'data-action': 'show-numbers',
          onclick: async (e) => {
            const r = await act(e.target, () => get(`/api/workers/${encodeURIComponent(a.workerId)}/private?fields=phone,emergencyContacts,emergencyContactsOldText`));
            if (!r) return;
            privateNumbers.replaceChildren(
              h('span', {}, 'Worker: ', r.details.phone !== undefined ? telLink(r.details.phone, 'worker') : h('span', { class: 'muted', text: 'not shown to you' })),
              h('br'),
              h('span', {}, 'Emergency contacts: ', r.details.emergencyContacts !== undefined ? emergencyFacts(r.details.emergencyContacts, r.details.emergencyContactsOldText) : h('span', { class: 'muted', text: 'not shown to you' })),
            );
          },
        },
        'Show the worker’s numbers (logged)',
      ),
    );
  } else privateNumbers.append(h('span', { class: 'muted', text: 'no worker on record' }));
  return h('section', { class: 'card', id: 'call' }, h('h2', { text: 'Numbers to call' }), h('dl', { class: 'facts' }, rows));
}


// ---------------------------------------------------------------------------------------------
// Emergency contacts as records of (name, relationship, phone) (issue 15 item 13), as the hub keeps
// them since schema version 10. The free text they were kept in before is shown beside them, read
// only, until the admin clears it (emergencyContactsOldText), so nothing written there is lost.

/** One contact in words with its number one click away (a tel: link), or "no number on record". */
export function emergencyLine(c, i) {
  return h('span', { class: 'ec-line', 'data-ec-line': String(i + 1) }, `${c.name}${c.relationship ? ` (${c.relationship})` : ''} `, telLink(c.phone, i === 0 ? 'home-contact' : `home-contact-${i + 1}`), ' ');
}

/** The records, and the old text when there still is one, for the numbers panel and the hand-over. */
export function emergencyFacts(list, oldText) {
  const rows = (list || []).map(emergencyLine);
  return [
    rows.length ? h('span', { 'data-field': 'emergencyContacts' }, rows) : h('span', { class: 'muted', 'data-field': 'emergencyContacts', text: 'none on record' }),
    oldText ? h('div', { class: 'muted ec-old', 'data-field': 'emergencyContactsOldText', text: `Old text (from before contacts were kept as records): ${oldText}` }) : null,
  ];
}
