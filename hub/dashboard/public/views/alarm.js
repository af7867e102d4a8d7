import { ANSWER_LABEL, OUTCOME_LABEL, stepLabel } from '../lib/words.js';
import { positionPanel } from '../map-view.js';
import { h, toast } from '../lib/dom.js';
import { canSee, state, view } from '../lib/state.js';
import { agoSpan, atAgo, fmtDateTime, fmtTime, now, pad, reasonNow } from '../lib/time.js';
import { act, get, post } from '../lib/api.js';
import { deliveryTable } from '../forwarding.js';
import { stepLine } from './board.js';
import { callPanel, emergencyFacts, telLink } from './numbers.js';

// ---------------------------------------------------------------------------------------------
// One alarm: actions, covert script, visit, last sighting, timeline

export function stepText(e) {
  const d = e.detail || {};
  switch (e.type) {
    case 'script_answer':
      return `${d.text} → ${ANSWER_LABEL[d.answer] || d.answer}${d.note ? ` (${d.note})` : ''}`;
    case 'note':
      return d.text || '';
    case 'raised':
      return [d.reason, d.deviceId ? `fob ${d.deviceId}` : '', d.visitRef ? `visit ${d.visitRef}` : '', d.lastSightingAt ? `last sighting ${fmtTime(d.lastSightingAt)}` : '', d.drill ? 'DRILL' : ''].filter(Boolean).join(' · ');
    case 'notify':
      // What the ladder asked for; what came of it is in the delivery lines that follow.
      return `${d.name || `level ${(d.level ?? 0) + 1}`}: to tell ${(d.targets || []).join(', ').replace(/_/g, ' ')}${d.channels ? ` (policy channels: ${d.channels.join(', ')})` : ''}`;
    case 'delivery':
      // Worded by the hub; an older hub's entry without words falls back to its state.
      return e.text || String(d.status || '').replace(/_/g, ' ');
    case 'escalated':
      return `level ${(d.level ?? 0) + 1}: ${d.name || ''}`;
    case 'refused':
      return `${String(d.input || '').replace(/_/g, ' ')}: ${d.why || ''}`;
    case 'callback_scheduled':
      return `call back at ${fmtTime(d.dueAt)}`;
    case 'callback_due':
      return `the call-back promised for ${fmtTime(d.dueAt)} is due: call the worker now`;
    case 'police_called':
      return d.reference ? `reference ${d.reference}` : '';
    case 'resolved':
      return [d.outcome ? OUTCOME_LABEL[d.outcome] || d.outcome : '', d.note || '', d.override ? `override: taken by ${String(d.takenBy).replace(/^user:/, '')}` : ''].filter(Boolean).join(' · ');
    case 'cancelled':
    case 'worker_cancelled':
      return d.note || d.reason || '';
    case 'handover_viewed':
      return `details shown: ${(d.fields || []).join(', ')}`;
    default: {
      const rest = Object.entries(d)
        .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
        .map(([k, v]) => `${k}: ${v}`);
      return rest.join(' · ');
    }
  }
}

export function timelineList(entries) {
  return h(
    'ol',
    { class: 'timeline', id: 'timeline' },
    // A delivery's actor is the notifier's internal name (notifier:email): its sentence already says
    // the channel, and the ids are in the hover text for IT.
    entries.map((e) =>
      h(
        'li',
        { 'data-step': e.type, title: e.technical || null },
        h('span', { class: 't', text: fmtTime(e.at) }),
        h('span', { class: 'type', text: stepLabel(e.type) }),
        h('span', {}, stepText(e), e.type === 'delivery' ? null : h('span', { class: 'muted', text: ` · ${e.actor}` })),
      ),
    ),
  );
}

export function visitFacts(visit, lastSighting) {
  return h(
    'dl',
    { class: 'facts' },
    h('dt', { text: 'Visit' }),
    h('dd', { id: 'visit-ref' }, visit ? visit.ref : 'no visit on record'),
    visit ? [h('dt', { text: 'Expected' }), h('dd', { text: `${fmtTime(visit.scheduledStart)} – ${fmtTime(visit.expectedEnd)}${visit.startedAt ? ` (started ${fmtTime(visit.startedAt)})` : ''}` })] : null,
    visit ? [h('dt', { text: 'Risk' }), h('dd', {}, h('span', { class: `rag ${visit.rag}`, text: visit.rag.toUpperCase() }), ` Category ${visit.riskCategory}`, visit.unplanned ? ' · unplanned' : '')] : null,
    visit && visit.nextLocation ? [h('dt', { text: 'Next location' }), h('dd', { text: visit.nextLocation })] : null,
    visit && (visit.contactName || visit.contactPhone) ? [h('dt', { text: 'Contact at the address' }), h('dd', {}, visit.contactName || '', ' ', telLink(visit.contactPhone, 'visit-contact-facts'))] : null,
    h('dt', { text: 'Last sighting' }),
    h('dd', { id: 'last-sighting' }, ...(lastSighting ? [...atAgo(lastSighting.at), ` · ${lastSighting.kind}${lastSighting.place ? ` · ${lastSighting.place}` : ''}`] : ['none recorded'])),
  );
}

export function scriptPanel(a, script) {
  const callbackBox = h('div', { id: 'callback' });
  const renderTimer = () => {
    callbackBox.replaceChildren();
    if (script.callbackDueAt) {
      const left = script.callbackDueAt - now();
      const s = Math.max(0, Math.round(Math.abs(left) / 1000));
      callbackBox.append(
        h('div', { class: left <= 0 ? 'timer due' : 'timer', id: 'callback-timer', text: left <= 0 ? 'CALL BACK NOW' : `Call back in ${Math.floor(s / 60)}:${pad(s % 60)}` }),
        h('button', { class: 'good', 'data-action': 'callback-done', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/callback`, { action: 'done' }), 'Call-back recorded') }, 'Called back'),
      );
    } else if (a.open) {
      callbackBox.append(h('button', { 'data-action': 'callback-start', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/callback`, { action: 'start' }), 'Call-back timer started: 5 minutes') }, 'Start 5-minute call-back timer'));
    }
  };
  renderTimer();
  state.timers.push(setInterval(renderTimer, 1000));

  return h(
    'section',
    { class: 'card script', id: 'script' },
    h('h2', { text: 'Purple file script' }),
    h('p', { class: 'muted', text: 'Code phrase: “I will need the purple file when I get back to the office.” Ask one question at a time; the worker may only be able to say yes or no.' }),
    script.noAnswer ? h('div', { class: 'callout red', id: 'dial-999' }, 'No answer: dial 999 and call the police.') : null,
    h(
      'ol',
      {},
      script.questions.map((q) =>
        h(
          'li',
          { 'data-question': q.id },
          h('div', { class: 'q', text: q.text }),
          h(
            'div',
            { class: 'answers' },
            ['yes', 'no', 'no_answer'].map((ans) =>
              h(
                'button',
                {
                  type: 'button',
                  class: q.answer === ans ? 'chosen' : '',
                  'data-answer': ans,
                  disabled: !a.open,
                  onclick: (e) => {
                    const note = e.target.closest('li').querySelector('input');
                    act(e.target, () => post(`/api/alarms/${a.id}/script`, { question: q.id, answer: ans, ...(note.value.trim() ? { note: note.value.trim() } : {}) })).then((r) => {
                      if (r) note.value = '';
                    });
                  },
                },
                ANSWER_LABEL[ans],
              ),
            ),
            h('input', { placeholder: 'what they said (optional)', 'data-keep': `note-${q.id}`, 'aria-label': `note for: ${q.text}`, disabled: !a.open }),
          ),
          q.answer ? h('div', { class: 'recorded', text: `Recorded: ${ANSWER_LABEL[q.answer]}${q.note ? ` (“${q.note}”)` : ''} at ${fmtTime(q.at)} by ${String(q.by).replace(/^user:/, '')}` }) : null,
        ),
      ),
    ),
    callbackBox,
    h('ul', {}, script.after.map((t) => h('li', { text: t }))),
  );
}

export async function alarmView(id) {
  const d = await get(`/api/alarms/${encodeURIComponent(id)}`);
  const a = d.alarm;
  const noteInput = h('textarea', { placeholder: 'Add a note to the timeline', 'data-keep': 'note', 'aria-label': 'note' });
  const reasonInput = h('input', { placeholder: 'why is it a false alarm?', 'data-keep': 'reason', 'aria-label': 'false alarm reason' });
  const policeRef = h('input', { placeholder: 'police reference (optional)', 'data-keep': 'police-ref', 'aria-label': 'police reference' });
  // The override box of the close panel also covers "Cancel as false alarm" (item 10).
  const overrideChecked = () => Boolean(view.querySelector('#close-alarm [data-action="override"]:checked'));
  const actions = a.open
    ? h(
        'section',
        { class: 'card', id: 'actions' },
        h(
          'div',
          { class: 'row' },
          !a.acknowledgedAt ? h('button', { class: 'primary big', 'data-action': 'ack', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/acknowledge`), 'Acknowledged: you are in charge') }, 'Acknowledge') : h('span', { class: 'ok', text: `Taken by ${String(a.acknowledgedBy).replace(/^user:/, '')} at ${fmtTime(a.acknowledgedAt)}` }),
          h('a', { class: 'button big', href: `#/alarm/${encodeURIComponent(a.id)}/handover`, 'data-action': 'handover' }, 'Police hand-over'),
        ),
        h('h3', { text: 'Note' }),
        noteInput,
        h(
          'div',
          { class: 'row' },
          h(
            'button',
            {
              'data-action': 'note',
              onclick: (e) => {
                if (!noteInput.value.trim()) return toast('Write the note first', true);
                act(e.target, () => post(`/api/alarms/${a.id}/notes`, { text: noteInput.value.trim() }), 'Note added').then((r) => {
                  if (r) noteInput.value = '';
                });
              },
            },
            'Add note',
          ),
          policeRef,
          h('button', { class: 'danger', 'data-action': 'police', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/police-called`, policeRef.value.trim() ? { reference: policeRef.value.trim() } : {}), '999 call recorded') }, '999 called'),
        ),
        closePanel(a, noteInput),
        h('h3', { text: 'False alarm' }),
        h('div', { class: 'row' }, reasonInput, h('button', { 'data-action': 'cancel', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/cancel`, { reason: reasonInput.value.trim(), ...(overrideChecked() ? { override: true } : {}) }), 'Cancelled as a false alarm (kept on record)') }, 'Cancel as false alarm')),
      )
    : h('p', { class: 'ok', id: 'closed-banner', text: `Closed (${a.state}${a.outcome ? `: ${OUTCOME_LABEL[a.outcome] || a.outcome}` : ''}) at ${fmtDateTime(a.closedAt)} by ${String(a.closedBy).replace(/^user:/, '')}` });

  const privateBox = h('div', { id: 'private' });
  const showPrivate = h(
    'button',
    {
      'data-action': 'private',
      onclick: async (e) => {
        const r = await act(e.target, () => get(`/api/workers/${encodeURIComponent(a.workerId)}/private`));
        if (r) privateBox.replaceChildren(privateFacts(r));
      },
    },
    'Show private details (logged)',
  );

  return h(
    'section',
    { id: 'alarm', 'data-alarm': a.id, 'data-state': a.state },
    h('div', { class: `alarm-head k-${a.kind}` }, h('h1', { text: `${a.kindLabel}: ${a.workerName || a.workerId || a.deviceId || ''}` }), h('span', { class: `state s-${a.state}`, id: 'alarm-state', text: a.state }), a.drill ? h('span', { class: 'drill', text: 'DRILL' }) : null, a.stale ? h('span', { class: 'stale', title: 'raised on the fob more than 7 days before it reached the hub', text: 'STALE: happened days ago' }) : null, h('span', { class: 'spacer' }), h('span', { class: 'muted', id: 'alarm-raised' }, `raised ${fmtTime(a.raisedAt)} (`, agoSpan(a.raisedAt), `) · ${a.deviceId || ''}`)),
    h(
      'div',
      { class: 'cols' },
      h('div', {}, workerCancelledBanner(a), a.kind === 'covert_sos' ? scriptPanel(a, d.script) : null, actions),
      h(
        'div',
        {},
        h('section', { class: 'card' }, h('h2', { text: 'Where they should be' }), visitFacts(d.visit, d.lastSighting), h('p', { class: 'muted', id: 'alarm-reason' }, ...reasonNow(a)), a.open && a.step ? h('p', { class: 'step', id: 'ladder-step' }, stepLine(a)) : null),
        positionPanel(a.id, 'alarm', a.open),
        callPanel(a, d),
        a.workerId ? h('section', { class: 'card' }, h('h2', { text: 'Private details' }), h('p', { class: 'muted', text: 'Shown only while this alarm is active, or to roles that need them; every view is logged.' }), showPrivate, privateBox) : null,
        d.deliveries ? h('section', { class: 'card', id: 'told' }, h('h2', { text: 'Who was told' }), deliveryTable(d.deliveries)) : null,
        h('section', { class: 'card' }, h('h2', { text: 'Timeline' }), timelineList(d.timeline)),
      ),
    ),
  );
}

export function privateFacts(r) {
  const label = { phone: 'Phone', homeAddress: 'Home address', medicalNotes: 'Medical notes', car: 'Car', emergencyContacts: 'Emergency contacts', emergencyContactsOldText: 'Emergency contacts (old text)', description: 'Description' };
  return h(
    'div',
    {},
    h(
      'dl',
      { class: 'facts' },
      Object.entries(r.details)
        .filter(([k, v]) => k !== 'emergencyContactsOldText' || v)
        .map(([k, v]) => [h('dt', { text: label[k] || k }), k === 'emergencyContacts' ? h('dd', {}, emergencyFacts(v, null)) : h('dd', { 'data-field': k, text: v || '–' })]),
    ),
    r.withheld.length ? h('p', { class: 'warning', text: `Not shown: ${r.withheld.map((w) => label[w.field]).join(', ')}. ${r.withheld[0].reason}.` }) : null,
  );
}

// ---------------------------------------------------------------------------------------------
// Closing an alarm (issue 15 items 10, 11): the officer says how it ended, and who closes it is on
// the record. Only the officer who took the alarm may close it; an admin or manager may override,
// and the override is recorded.


export function closePanel(a, noteInput) {
  const me = state.me ? `user:${state.me.username}` : '';
  const takenByOther = a.acknowledgedBy && a.acknowledgedBy !== me;
  const mayOverride = canSee('admin', 'manager');
  const outcome = h('select', { name: 'outcome', 'aria-label': 'outcome', 'data-keep': 'outcome' }, h('option', { value: '', text: '(choose the outcome)' }), Object.entries(OUTCOME_LABEL).map(([v, t]) => h('option', { value: v, text: t })));
  const override = takenByOther && mayOverride ? h('input', { type: 'checkbox', name: 'override', 'data-action': 'override' }) : null;
  const who = state.me ? `${state.me.name || state.me.username} (${state.me.username})` : '';
  return h(
    'div',
    { id: 'close-alarm' },
    h('h3', { text: 'Close the alarm' }),
    takenByOther ? h('p', { class: 'muted', id: 'close-taken', text: `Taken by ${String(a.acknowledgedBy).replace(/^user:/, '')}: only they may close it${mayOverride ? ', or you, overriding (on the record)' : ''}.` }) : null,
    h(
      'div',
      { class: 'row' },
      h('label', {}, 'Outcome', outcome),
      override ? h('label', { class: 'inline' }, override, 'Override: close it for them') : null,
      h(
        'button',
        {
          class: 'good big',
          'data-action': 'resolve',
          disabled: Boolean(takenByOther && !mayOverride),
          onclick: (e) => {
            if (!outcome.value) return toast('Choose the outcome first: how did this alarm end?', true);
            const body = { outcome: outcome.value, ...(noteInput.value.trim() ? { note: noteInput.value.trim() } : {}), ...(override && override.checked ? { override: true } : {}) };
            act(e.target, () => post(`/api/alarms/${a.id}/resolve`, body), `Closed: ${OUTCOME_LABEL[outcome.value]}`);
          },
        },
        'Close alarm',
      ),
    ),
    h('p', { class: 'muted', id: 'close-who', text: `Closed as ${who}; the outcome, your name and the note go on the record.` }),
  );
}

/** A fob cancel after an SOS may be forced: the alarm waits for the officer's call-back (item 11). */
export function workerCancelledBanner(a) {
  if (!a.open || !a.workerCancelledAt) return null;
  return h(
    'section',
    { class: 'card callout amber', id: 'worker-cancelled' },
    h('h2', { text: 'Cancelled by the worker: call back to confirm' }),
    h('p', { text: `The worker cancelled this alarm from the fob at ${fmtTime(a.workerCancelledAt)}. A cancel can be forced under duress: call them back, check they are safe (use the code questions if in doubt), then close the alarm with the outcome.` }),
  );
}
