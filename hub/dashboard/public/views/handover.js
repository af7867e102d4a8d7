import { ANSWER_LABEL } from '../lib/words.js';
import { positionPanel } from '../map-view.js';
import { h } from '../lib/dom.js';
import { fmtDateTime, fmtTime } from '../lib/time.js';
import { get } from '../lib/api.js';
import { emergencyFacts, telLink } from './numbers.js';

// ---------------------------------------------------------------------------------------------
// Police hand-over (R5): one printable page

export async function handoverView(id) {
  const d = await get(`/api/alarms/${encodeURIComponent(id)}/handover`);
  const w = d.worker;
  const v = d.visit;
  const answered = d.script.questions.filter((q) => q.answer);
  return h(
    'section',
    { id: 'handover' },
    h('div', { class: 'row no-print' }, h('a', { class: 'button', href: `#/alarm/${encodeURIComponent(id)}` }, '← Back to the alarm'), h('button', { class: 'primary', 'data-action': 'print', onclick: () => window.print() }, 'Print')),
    h(
      'div',
      { class: 'paper' },
      h('h1', { text: `Police hand-over: ${d.alarm.kindLabel} for ${w.name}` }),
      h('p', { text: `Alarm ${d.alarm.id} raised ${fmtDateTime(d.alarm.raisedAt)}. Generated ${fmtDateTime(d.generatedAt)} by ${String(d.generatedBy).replace(/^user:/, '')}. CONFIDENTIAL.` }),
      h('h2', { text: 'Location' }),
      h(
        'dl',
        { class: 'facts big-fact' },
        h('dt', { text: 'Visit reference' }),
        h('dd', { 'data-field': 'visit', text: v ? `${v.ref} (look up the address in the case system)` : 'no visit on record' }),
        v ? [h('dt', { text: 'Expected there' }), h('dd', { text: `${fmtTime(v.scheduledStart)} – ${fmtTime(v.expectedEnd)}` })] : null,
        v ? [h('dt', { text: 'Risk' }), h('dd', { text: `${v.rag.toUpperCase()}, Category ${v.riskCategory}` })] : null,
        v && v.nextLocation ? [h('dt', { text: 'Next location' }), h('dd', { text: v.nextLocation })] : null,
        v ? [h('dt', { text: `Contact at the visit address${v.contactName ? ` (${v.contactName})` : ''}` }), h('dd', { 'data-field': 'visitContact' }, v.contactPhone ? telLink(v.contactPhone, 'visit-contact') : '–')] : null,
        h('dt', { text: 'Last known position' }),
        h('dd', { 'data-field': 'position' }, handoverPosition(d.position, d.positionWithheld)),
        h('dt', { text: 'Last confirmed sighting' }),
        h('dd', { text: d.lastSighting ? `${fmtDateTime(d.lastSighting.at)} · ${d.lastSighting.kind}${d.lastSighting.place ? ` · ${d.lastSighting.place}` : ''}${d.lastSighting.position ? ` · near ${d.lastSighting.position.lat}, ${d.lastSighting.position.lon} (within ${d.lastSighting.position.accuracyM} m)` : ''}` : 'none recorded' }),
        h('dt', { text: 'Home address' }),
        h('dd', { 'data-field': 'homeAddress', text: w.homeAddress || '–' }),
      ),
      positionPanel(id, 'handover', d.alarm.open !== false),
      h('h2', { text: 'The worker' }),
      h(
        'dl',
        { class: 'facts big-fact' },
        h('dt', { text: 'Name' }),
        h('dd', { text: w.name }),
        h('dt', { text: 'Description' }),
        h('dd', { 'data-field': 'description', text: w.description || '–' }),
        h('dt', { text: 'Phone' }),
        h('dd', { 'data-field': 'phone' }, w.phone ? telLink(w.phone, 'worker') : '–'),
        h('dt', { text: 'Emergency contacts' }),
        h('dd', {}, emergencyFacts(w.emergencyContacts, w.emergencyContactsOldText)),
        h('dt', { text: 'Medical details' }),
        h('dd', { 'data-field': 'medicalNotes', text: w.medicalNotes || '–' }),
        h('dt', { text: 'Car (make, colour, registration)' }),
        h('dd', { 'data-field': 'car', text: w.car || '–' }),
        h('dt', { text: 'Fob' }),
        h('dd', { text: d.device ? `${d.device.id}${d.device.board ? ` (${d.device.board})` : ''}, last heard ${fmtDateTime(d.device.lastSeenAt)}` : '–' }),
      ),
      d.withheld.length ? h('p', { class: 'warning', text: `Not shown to you: ${d.withheld.map((x) => x.field).join(', ')}.` }) : null,
      handoverRecord(d),
      answered.length ? [h('h2', { text: 'What the worker said (purple file script)' }), h('ul', {}, answered.map((q) => h('li', { text: `${q.text} ${ANSWER_LABEL[q.answer]}${q.note ? ` (“${q.note}”)` : ''} at ${fmtTime(q.at)}` })))] : null,
    ),
  );
}

/**
 * The latest fix for the police (issue 20): coordinates, accuracy, age when the page was made, and
 * plain geo: and OpenStreetMap links (printed as text too, so the paper copy carries them).
 */
export const POSITION_SOURCE_WORDS = { gnss: "the fob's GPS", phone: "the worker's phone", cell: 'a mobile-network estimate' };

export function handoverPosition(p, withheld) {
  if (!p) return withheld ? `not shown to you: ${withheld}` : 'none received from the fob or phone';
  return [
    h('span', { text: `${p.lat}, ${p.lon} · within ${p.accuracyM} m · fixed ${fmtDateTime(Date.parse(p.fixAt))}, ${p.age} before this page was made · from ${POSITION_SOURCE_WORDS[p.source] ?? p.source} · ` }),
    h('a', { href: p.geoUri, 'data-link': 'geo' }, p.geoUri),
    h('span', { text: ' · ' }),
    h('a', { href: p.osmUrl, 'data-link': 'osm', target: '_blank', rel: 'noopener' }, p.osmUrl),
  ];
}

/** The 999 reference, the officer's notes and who else to phone, for the police (issue 15 item 14). */
export function handoverRecord(d) {
  const refs = d.policeReferences || [];
  const c = d.contacts || {};
  const who = (by) => String(by).replace(/^user:/, '');
  return [
    h('h2', { text: 'Police (999) reference' }),
    h('p', { id: 'handover-999', text: refs.length ? refs.map((r) => `${r.reference || 'no reference given'} (999 called ${fmtTime(r.at)} by ${who(r.by)})`).join('; ') : '999 not yet recorded as called: record it on the alarm page with the reference the police give' }),
    h('h2', { text: 'Officer’s notes' }),
    (d.notes || []).length ? h('ul', { id: 'handover-notes' }, d.notes.map((n) => h('li', { text: `${fmtTime(n.at)} ${who(n.by)}: ${n.text}` }))) : h('p', { id: 'handover-notes', class: 'muted', text: 'no notes' }),
    h('h2', { text: 'Others to phone' }),
    h(
      'dl',
      { class: 'facts' },
      h('dt', { text: `Buddy${c.buddy ? ` (${c.buddy.name})` : ''}` }),
      h('dd', {}, c.buddy && c.buddy.phone ? telLink(c.buddy.phone, 'buddy') : '–'),
      h('dt', { text: `Line manager${c.lineManager ? ` (${c.lineManager.name})` : ''}` }),
      h('dd', {}, c.lineManager && c.lineManager.phone ? telLink(c.lineManager.phone, 'line-manager') : '–'),
    ),
  ];
}
