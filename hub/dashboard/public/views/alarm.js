// One alarm (preact): actions, the covert script, the visit, last sighting, numbers, who was told and
// the timeline. A live refresh re-renders it with the hub's new answer and preact diffs it, so a note
// being typed, an outcome chosen or a field in focus stay as they are (no saving and restoring).
import { html, useEffect, useRef, useState } from '/vendor/preact.js';
import { ANSWER_LABEL, OUTCOME_LABEL, stepLabel } from '../lib/words.js';
import { positionPanel } from '../map-view.js';
import { toast } from '../lib/dom.js';
import { canSee, state } from '../lib/state.js';
import { fmtDateTime, fmtTime, now, pad } from '../lib/time.js';
import { Ago, AtAgo, ReasonNow } from '../lib/live.js';
import { act, get, post } from '../lib/api.js';
import { DeliveryTable } from '../forwarding.js';
import { DomSlot } from '../lib/dom-slot.js';
import { StepLine } from './board.js';
import { afterAlarmAction } from '../open-alarms.js';
import { CallPanel, EmergencyFacts, TelLink } from './numbers.js';

const who = (by) => String(by).replace(/^user:/, '');
const STALE_TITLE = 'raised on the fob more than 7 days before it reached the hub';


/** What a timeline step says, in words (the hub words deliveries itself). */
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

/** The steps of an alarm, each in the vocabulary's words (TIMELINE_STEP) with what it says. */
export function Timeline({ entries }) {
  // A delivery's actor is the notifier's internal name (notifier:email): its sentence already says
  // the channel, and the ids are in the hover text for IT.
  return html`
    <ol class="timeline" id="timeline">
      ${entries.map(
        (e) => html`<li data-step=${e.type} title=${e.technical || undefined}><span class="t">${fmtTime(e.at)}</span><span class="type">${stepLabel(e.type)}</span><span>${stepText(e)}${e.type === 'delivery' ? null : html`<span class="muted">${` · ${e.actor}`}</span>`}</span></li>`,
      )}
    </ol>`;
}

function VisitFacts({ visit, lastSighting }) {
  return html`
    <dl class="facts">
      <dt>Visit</dt>
      <dd id="visit-ref">${visit ? visit.ref : 'no visit on record'}</dd>
      ${visit ? html`<dt>Expected</dt><dd>${`${fmtTime(visit.scheduledStart)} – ${fmtTime(visit.expectedEnd)}${visit.startedAt ? ` (started ${fmtTime(visit.startedAt)})` : ''}`}</dd>` : null}
      ${visit ? html`<dt>Risk</dt><dd><span class=${`rag ${visit.rag}`}>${visit.rag.toUpperCase()}</span>${` Category ${visit.riskCategory}`}${visit.unplanned ? ' · unplanned' : ''}</dd>` : null}
      ${visit && visit.nextLocation ? html`<dt>Next location</dt><dd>${visit.nextLocation}</dd>` : null}
      ${visit && (visit.contactName || visit.contactPhone) ? html`<dt>Contact at the address</dt><dd>${visit.contactName || ''} <${TelLink} number=${visit.contactPhone} label="visit-contact-facts" /></dd>` : null}
      <dt>Last sighting</dt>
      <dd id="last-sighting">${lastSighting ? html`<${AtAgo} at=${lastSighting.at} />${` · ${lastSighting.kind}${lastSighting.place ? ` · ${lastSighting.place}` : ''}`}` : 'none recorded'}</dd>
    </dl>`;
}

/** Re-renders its user once a second (a countdown of its own, like the call-back timer). */
function useSecondTick() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const id = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(id);
  }, []);
}

function CallbackTimer({ alarm: a, dueAt }) {
  useSecondTick();
  if (dueAt) {
    const left = dueAt - now();
    const s = Math.max(0, Math.round(Math.abs(left) / 1000));
    const done = (e) => act(e.currentTarget, () => post(`/api/alarms/${a.id}/callback`, { action: 'done' }), 'Call-back recorded');
    return html`<div id="callback"><div class=${left <= 0 ? 'timer due' : 'timer'} id="callback-timer">${left <= 0 ? 'CALL BACK NOW' : `Call back in ${Math.floor(s / 60)}:${pad(s % 60)}`}</div><button class="good" data-action="callback-done" onClick=${done}>Called back</button></div>`;
  }
  if (!a.open) return html`<div id="callback"></div>`;
  const startTimer = (e) => act(e.currentTarget, () => post(`/api/alarms/${a.id}/callback`, { action: 'start' }), 'Call-back timer started: 5 minutes');
  return html`<div id="callback"><button data-action="callback-start" onClick=${startTimer}>Start 5-minute call-back timer</button></div>`;
}

function ScriptQuestion({ alarm: a, q }) {
  const note = useRef(null);
  const answer = (ans) => (e) =>
    act(e.currentTarget, () => post(`/api/alarms/${a.id}/script`, { question: q.id, answer: ans, ...(note.current.value.trim() ? { note: note.current.value.trim() } : {}) })).then((r) => {
      if (r) note.current.value = '';
    });
  return html`
    <li data-question=${q.id}>
      <div class="q">${q.text}</div>
      <div class="answers">
        ${['yes', 'no', 'no_answer'].map((ans) => html`<button type="button" class=${q.answer === ans ? 'chosen' : ''} data-answer=${ans} disabled=${!a.open} onClick=${answer(ans)}>${ANSWER_LABEL[ans]}</button>`)}
        <input ref=${note} name=${`note-${q.id}`} placeholder="what they said (optional)" aria-label=${`note for: ${q.text}`} disabled=${!a.open} />
      </div>
      ${q.answer ? html`<div class="recorded">${`Recorded: ${ANSWER_LABEL[q.answer]}${q.note ? ` (“${q.note}”)` : ''} at ${fmtTime(q.at)} by ${who(q.by)}`}</div>` : null}
    </li>`;
}

function ScriptPanel({ alarm: a, script }) {
  return html`
    <section class="card script" id="script">
      <h2>Purple file script</h2>
      <p class="muted">Code phrase: “I will need the purple file when I get back to the office.” Ask one question at a time; the worker may only be able to say yes or no.</p>
      ${script.noAnswer ? html`<div class="callout red" id="dial-999">No answer: dial 999 and call the police.</div>` : null}
      <ol>${script.questions.map((q) => html`<${ScriptQuestion} key=${q.id} alarm=${a} q=${q} />`)}</ol>
      <${CallbackTimer} alarm=${a} dueAt=${script.callbackDueAt} />
      <ul>${script.after.map((t) => html`<li>${t}</li>`)}</ul>
    </section>`;
}

/**
 * Closing an alarm (issue 15 items 10, 11): the officer says how it ended, and who closes it is on
 * the record. Only the officer who took the alarm may close it; an admin or manager may override,
 * and the override is recorded (the same box covers "Cancel as false alarm").
 */
function ClosePanel({ alarm: a, noteRef, overrideRef }) {
  const outcome = useRef(null);
  const me = state.me ? `user:${state.me.username}` : '';
  const takenByOther = a.acknowledgedBy && a.acknowledgedBy !== me;
  const mayOverride = canSee('admin', 'manager');
  const whoAmI = state.me ? `${state.me.name || state.me.username} (${state.me.username})` : '';
  const close = (e) => {
    const chosen = outcome.current.value;
    if (!chosen) return toast('Choose the outcome first: how did this alarm end?', true);
    const note = noteRef.current.value.trim();
    const body = { outcome: chosen, ...(note ? { note } : {}), ...(overrideRef.current && overrideRef.current.checked ? { override: true } : {}) };
    act(e.currentTarget, () => post(`/api/alarms/${a.id}/resolve`, body), `Closed: ${OUTCOME_LABEL[chosen]}`).then(afterAlarmAction);
  };
  return html`
    <div id="close-alarm">
      <h3>Close the alarm</h3>
      ${takenByOther ? html`<p class="muted" id="close-taken">${`Taken by ${who(a.acknowledgedBy)}: only they may close it${mayOverride ? ', or you, overriding (on the record)' : ''}.`}</p>` : null}
      <div class="row">
        <label>Outcome<select ref=${outcome} name="outcome" aria-label="outcome"><option value="">(choose the outcome)</option>${Object.entries(OUTCOME_LABEL).map(([v, t]) => html`<option value=${v}>${t}</option>`)}</select></label>
        ${takenByOther && mayOverride ? html`<label class="inline"><input ref=${overrideRef} type="checkbox" name="override" data-action="override" />Override: close it for them</label>` : null}
        <button class="good big" data-action="resolve" disabled=${Boolean(takenByOther && !mayOverride)} onClick=${close}>Close alarm</button>
      </div>
      <p class="muted" id="close-who">${`Closed as ${whoAmI}; the outcome, your name and the note go on the record.`}</p>
    </div>`;
}

function Actions({ alarm: a }) {
  const noteRef = useRef(null);
  const reasonRef = useRef(null);
  const policeRef = useRef(null);
  const overrideRef = useRef(null);
  // Taken or closed: its sound stops as soon as the hub confirms (open-alarms.js).
  const acknowledge = (e) => act(e.currentTarget, () => post(`/api/alarms/${a.id}/acknowledge`), 'Acknowledged: you are in charge').then(afterAlarmAction);
  const addNote = (e) => {
    const text = noteRef.current.value.trim();
    if (!text) return toast('Write the note first', true);
    act(e.currentTarget, () => post(`/api/alarms/${a.id}/notes`, { text }), 'Note added').then((r) => {
      if (r) noteRef.current.value = '';
    });
  };
  const police = (e) => {
    const reference = policeRef.current.value.trim();
    act(e.currentTarget, () => post(`/api/alarms/${a.id}/police-called`, reference ? { reference } : {}), '999 call recorded');
  };
  const cancel = (e) => {
    const override = overrideRef.current && overrideRef.current.checked;
    act(e.currentTarget, () => post(`/api/alarms/${a.id}/cancel`, { reason: reasonRef.current.value.trim(), ...(override ? { override: true } : {}) }), 'Cancelled as a false alarm (kept on record)').then(afterAlarmAction);
  };
  return html`
    <section class="card" id="actions">
      <div class="row">
        ${!a.acknowledgedAt ? html`<button class="primary big" data-action="ack" onClick=${acknowledge}>Acknowledge</button>` : html`<span class="ok">${`Taken by ${who(a.acknowledgedBy)} at ${fmtTime(a.acknowledgedAt)}`}</span>`}
        <a class="button big" href=${`#/alarm/${encodeURIComponent(a.id)}/handover`} data-action="handover">Police hand-over</a>
      </div>
      <h3>Note</h3>
      <textarea ref=${noteRef} name="note" placeholder="Add a note to the timeline" aria-label="note"></textarea>
      <div class="row">
        <button data-action="note" onClick=${addNote}>Add note</button>
        <input ref=${policeRef} name="police-ref" placeholder="police reference (optional)" aria-label="police reference" />
        <button class="danger" data-action="police" onClick=${police}>999 called</button>
      </div>
      <${ClosePanel} alarm=${a} noteRef=${noteRef} overrideRef=${overrideRef} />
      <h3>False alarm</h3>
      <div class="row"><input ref=${reasonRef} name="reason" placeholder="why is it a false alarm?" aria-label="false alarm reason" /><button data-action="cancel" onClick=${cancel}>Cancel as false alarm</button></div>
    </section>`;
}

/** A fob cancel after an SOS may be forced: the alarm waits for the officer's call-back (item 11). */
function WorkerCancelledBanner({ alarm: a }) {
  if (!a.open || !a.workerCancelledAt) return null;
  return html`
    <section class="card callout amber" id="worker-cancelled">
      <h2>Cancelled by the worker: call back to confirm</h2>
      <p>${`The worker cancelled this alarm from the fob at ${fmtTime(a.workerCancelledAt)}. A cancel can be forced under duress: call them back, check they are safe (use the code questions if in doubt), then close the alarm with the outcome.`}</p>
    </section>`;
}

const PRIVATE_LABEL = { phone: 'Phone', homeAddress: 'Home address', medicalNotes: 'Medical notes', car: 'Car', emergencyContacts: 'Emergency contacts', emergencyContactsOldText: 'Emergency contacts (old text)', description: 'Description' };

/** A worker's private details as the hub answered (R22: the view is logged there), and what it withheld. */
export function PrivateFacts({ r }) {
  return html`
    <div>
      <dl class="facts">
        ${Object.entries(r.details)
          .filter(([k, v]) => k !== 'emergencyContactsOldText' || v)
          .map(([k, v]) => html`<dt>${PRIVATE_LABEL[k] || k}</dt>${k === 'emergencyContacts' ? html`<dd><${EmergencyFacts} list=${v} oldText=${null} /></dd>` : html`<dd data-field=${k}>${v || '–'}</dd>`}`)}
      </dl>
      ${r.withheld.length ? html`<p class="warning">${`Not shown: ${r.withheld.map((w) => PRIVATE_LABEL[w.field]).join(', ')}. ${r.withheld[0].reason}.`}</p>` : null}
    </div>`;
}

function PrivateDetails({ workerId }) {
  const [shown, setShown] = useState(null);
  const ask = async (e) => {
    const r = await act(e.currentTarget, () => get(`/api/workers/${encodeURIComponent(workerId)}/private`));
    if (r) setShown(r);
  };
  return html`
    <section class="card">
      <h2>Private details</h2>
      <p class="muted">Shown only while this alarm is active, or to roles that need them; every view is logged.</p>
      <button data-action="private" onClick=${ask}>Show private details (logged)</button>
      <div id="private">${shown ? html`<${PrivateFacts} r=${shown} />` : null}</div>
    </section>`;
}

function AlarmPage({ d }) {
  const a = d.alarm;
  const closedText = `Closed (${a.state}${a.outcome ? `: ${OUTCOME_LABEL[a.outcome] || a.outcome}` : ''}) at ${fmtDateTime(a.closedAt)} by ${who(a.closedBy)}`;
  return html`
    <section id="alarm" data-alarm=${a.id} data-state=${a.state}>
      <div class=${`alarm-head k-${a.kind}`}>
        <h1>${`${a.kindLabel}: ${a.workerName || a.workerId || a.deviceId || ''}`}</h1>
        <span class=${`state s-${a.state}`} id="alarm-state">${a.state}</span>
        ${a.drill ? html`<span class="drill">DRILL</span>` : null}
        ${a.stale ? html`<span class="stale" title=${STALE_TITLE}>STALE: happened days ago</span>` : null}
        <span class="spacer"></span>
        <span class="muted" id="alarm-raised">raised ${fmtTime(a.raisedAt)} (<${Ago} at=${a.raisedAt} />)${` · ${a.deviceId || ''}`}</span>
      </div>
      <div class="cols">
        <div>
          <${WorkerCancelledBanner} alarm=${a} />
          ${a.kind === 'covert_sos' ? html`<${ScriptPanel} alarm=${a} script=${d.script} />` : null}
          ${a.open ? html`<${Actions} alarm=${a} />` : html`<p class="ok" id="closed-banner">${closedText}</p>`}
        </div>
        <div>
          <section class="card">
            <h2>Where they should be</h2>
            <${VisitFacts} visit=${d.visit} lastSighting=${d.lastSighting} />
            <p class="muted" id="alarm-reason"><${ReasonNow} alarm=${a} /></p>
            ${a.open && a.step ? html`<p class="step" id="ladder-step"><${StepLine} alarm=${a} /></p>` : null}
          </section>
          <${DomSlot} node=${positionPanel(a.id, 'alarm', a.open)} />
          <${CallPanel} alarm=${a} detail=${d} />
          ${a.workerId ? html`<${PrivateDetails} workerId=${a.workerId} />` : null}
          ${d.deliveries ? html`<section class="card" id="told"><h2>Who was told</h2><${DeliveryTable} lines=${d.deliveries} /></section>` : null}
          <section class="card"><h2>Timeline</h2><${Timeline} entries=${d.timeline} /></section>
        </div>
      </div>
    </section>`;
}

/** One alarm as a preact element, keyed by its id: another alarm's page starts with empty fields. */
export async function alarmView(id) {
  const d = await get(`/api/alarms/${encodeURIComponent(id)}`);
  return html`<${AlarmPage} key=${d.alarm.id} d=${d} />`;
}
