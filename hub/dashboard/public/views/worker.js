import { h } from '../lib/dom.js';
import { fmtTime, now, pad, untilSpan } from '../lib/time.js';
import { act, get, post } from '../lib/api.js';
import { route } from '../router.js';
import { render, html } from '/vendor/preact.js';
import { PrivateFacts } from './alarm.js';

// One worker: their day, the phoned-in actions, recording a visit, private details.
export function toInstant(local) {
  return local ? new Date(local).getTime() : undefined;
}
export function localInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export async function workerView(id) {
  const d = await get(`/api/workers/${encodeURIComponent(id)}`);
  const w = d.worker;
  const st = d.state || {};
  const active = d.visits.find((v) => v.id === st.activeVisitId && v.status === 'active');
  const planned = d.visits.filter((v) => v.status === 'planned');
  const result = h('div', { id: 'visit-result' });
  const refresh = () => route({ keepScroll: true });
  const doAction = (btn, body, msg) => act(btn, () => post(`/api/workers/${encodeURIComponent(id)}/actions`, body), msg).then((r) => r && refresh());

  const extendMin = h('input', { type: 'number', min: '1', max: '720', value: '30', 'aria-label': 'minutes to extend', 'data-keep': 'extend' });
  const startSelect = h('select', { 'aria-label': 'visit to start' }, planned.map((v) => h('option', { value: v.ref, text: `${v.ref} at ${fmtTime(v.scheduledStart)}` })));

  const form = h(
    'form',
    { class: 'card', id: 'visit-form' },
    h('h2', { text: 'Record a visit' }),
    h(
      'div',
      { class: 'grid2' },
      h('label', {}, 'Reference (never the address)', h('input', { name: 'ref', required: true, placeholder: 'e.g. CASE-1042', 'data-keep': 'v-ref' })),
      h('label', {}, 'Start', h('input', { name: 'start', type: 'datetime-local', value: localInput(now()) })),
      h('label', {}, 'Duration (minutes)', h('input', { name: 'duration', type: 'number', min: '1', value: '60' })),
      h('label', {}, 'Risk category', h('select', { name: 'category' }, h('option', { value: '1', text: '1: lone working suitable' }), h('option', { value: '2', text: '2: two workers needed' }))),
      h('label', {}, 'RAG', h('select', { name: 'rag' }, ['green', 'amber', 'red'].map((r) => h('option', { value: r, text: r })))),
      h('label', {}, 'Check in every (min, blank = at end)', h('input', { name: 'interval', type: 'number', min: '5' })),
      h('label', {}, 'Next location', h('input', { name: 'next', placeholder: 'office, home, next ref' })),
      h('label', {}, 'Second worker (id)', h('input', { name: 'second' })),
      h('label', {}, 'Contact at the address (name)', h('input', { name: 'contactName', placeholder: 'who the office calls (R13)' })),
      h('label', {}, 'Contact’s phone', h('input', { name: 'contactPhone', type: 'tel' })),
    ),
    h('div', { class: 'row' }, h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'unplanned' }), 'Unplanned (phoned in)'), h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'startNow' }), 'Starting now'), h('button', { type: 'submit', class: 'primary' }, 'Record visit')),
    result,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = form.elements;
    result.replaceChildren();
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
      result.append(h('p', { class: 'ok', text: `Visit ${r.visit.ref} recorded.` }));
      for (const warn of r.warnings) result.append(h('p', { class: 'warning', text: `Warning: ${warn}` }));
      f.ref.value = '';
      setTimeout(refresh, 1500);
    } catch (err) {
      result.append(h('p', { class: 'error', 'data-field': err.field || '', text: err.message }));
    }
  });

  const privateBox = h('div', { id: 'private' });
  return h(
    'section',
    { id: 'worker', 'data-worker': w.id },
    h('h1', { text: w.name }),
    h(
      'div',
      { class: 'cols' },
      h(
        'div',
        {},
        h(
          'section',
          { class: 'card' },
          h('h2', { text: 'Now' }),
          h(
            'dl',
            { class: 'facts' },
            h('dt', { text: 'Shift' }),
            h('dd', { text: st.onShift ? 'on shift' : 'off shift' }),
            h('dt', { text: 'Visit' }),
            h('dd', { id: 'active-visit', text: active ? `${active.ref} until ${fmtTime(active.expectedEnd)}` : 'between visits' }),
            h('dt', { text: 'Next check-in due' }),
            h('dd', {}, ...(st.due ? [fmtTime(st.due.at), ' (', untilSpan(st.due.at), ')'] : ['–'])),
            h('dt', { text: 'Last sighting' }),
            h('dd', { text: st.lastSighting ? `${fmtTime(st.lastSighting.at)} · ${st.lastSighting.kind}${st.lastSighting.place ? ` · ${st.lastSighting.place}` : ''}` : '–' }),
          ),
          h('h3', { text: 'The worker phoned in' }),
          h(
            'div',
            { class: 'row' },
            h('button', { 'data-action': 'checkin', onclick: (e) => doAction(e.target, { type: 'checkin' }, 'Checked in') }, 'Check in'),
            planned.length ? [startSelect, h('button', { 'data-action': 'start', onclick: (e) => doAction(e.target, { type: 'visit_start', ref: startSelect.value }, 'Visit started') }, 'Start visit')] : null,
            active ? [extendMin, h('button', { 'data-action': 'extend', onclick: (e) => doAction(e.target, { type: 'extend', minutes: Number(extendMin.value) }, 'Visit extended') }, 'Extend'), h('button', { 'data-action': 'end', onclick: (e) => doAction(e.target, { type: 'visit_end' }, 'Visit ended') }, 'End visit')] : null,
            h('button', { 'data-action': 'end-shift', onclick: (e) => doAction(e.target, { type: 'end_of_shift' }, 'Shift ended: safe') }, 'End of shift'),
          ),
        ),
        form,
      ),
      h(
        'div',
        {},
        h(
          'section',
          { class: 'card' },
          h('h2', { text: "Today's visits" }),
          d.visits.length
            ? h(
                'table',
                {},
                h('thead', {}, h('tr', {}, ['Ref', 'Time', 'Risk', 'Status', 'Flags'].map((t) => h('th', { text: t })))),
                h(
                  'tbody',
                  { id: 'itinerary' },
                  d.visits.map((v) =>
                    h(
                      'tr',
                      { 'data-visit': v.ref },
                      h('td', { text: v.ref + (v.unplanned ? ' (unplanned)' : '') }),
                      h('td', { text: `${fmtTime(v.scheduledStart)} – ${fmtTime(v.expectedEnd)}` }),
                      h('td', {}, h('span', { class: `rag ${v.rag}`, text: v.rag }), ` C${v.riskCategory}`),
                      h('td', { text: v.status }),
                      h('td', { text: v.policyFlags.join(', ') }),
                    ),
                  ),
                ),
              )
            : h('p', { class: 'muted', text: 'No visits recorded for today.' }),
        ),
        h(
          'section',
          { class: 'card' },
          h('h2', { text: 'Record' }),
          h('dl', { class: 'facts' }, h('dt', { text: 'Buddy' }), h('dd', { text: w.buddyName || '–' }), h('dt', { text: 'Line manager' }), h('dd', { text: w.lineManagerName || '–' }), h('dt', { text: 'Training' }), h('dd', { text: `${w.trainingDate || 'never'}${w.newStarter ? ' · new starter' : ''}` }), h('dt', { text: 'Fobs' }), h('dd', { text: d.devices.map((f) => `${f.id}${f.revokedAt ? ' (revoked)' : ''}`).join(', ') || '–' })),
          h('h3', { text: 'Private details' }),
          h('p', { class: 'muted', text: 'Only roles that need them see these, and the duty officer during an active alarm. Every view and every refused attempt is logged.' }),
          h(
            'button',
            {
              'data-action': 'private',
              onclick: async (e) => {
                render(null, privateBox);
                try {
                  const r = await get(`/api/workers/${encodeURIComponent(id)}/private`);
                  render(html`<${PrivateFacts} r=${r} />`, privateBox);
                } catch (err) {
                  privateBox.append(h('p', { class: 'error', text: err.message }));
                }
                void e;
              },
            },
            'Show private details (logged)',
          ),
          privateBox,
        ),
      ),
    ),
  );
}
