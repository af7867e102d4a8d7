import { h } from '../lib/dom.js';
import { state } from '../lib/state.js';
import { agoSpan, fmtTime, now, reasonNow, untilSpan } from '../lib/time.js';
import { act, get, post } from '../lib/api.js';
import { deliveryChips } from '../forwarding.js';
import { route } from '../router.js';

// ---------------------------------------------------------------------------------------------
// Alarm board

export function alarmCard(a) {
  const fresh = state.freshIds && state.freshIds.has(a.id);
  return h(
    'article',
    { class: `alarm k-${a.kind}${a.open ? '' : ' closed'}${fresh ? ' fresh' : ''}`, 'data-alarm': a.id, 'data-kind': a.kind },
    h('div', {}, h('div', { class: 'kind' }, a.kindLabel), h('span', { class: `state s-${a.state}`, text: a.state }), a.drill ? h('span', { class: 'drill', text: 'DRILL' }) : null, a.stale ? h('span', { class: 'stale', title: 'raised on the fob more than 7 days before it reached the hub', text: 'STALE: happened days ago' }) : null),
    h(
      'div',
      {},
      h('div', { class: 'who-line', text: a.workerName || a.workerId || `device ${a.deviceId}` }),
      h('div', { class: 'meta' }, `Raised ${fmtTime(a.raisedAt)} (`, agoSpan(a.raisedAt), ')', a.visitRef ? ` · visit ${a.visitRef}` : '', a.acknowledgedBy ? ` · taken by ${a.acknowledgedBy.replace(/^user:/, '')}` : ''),
      h('div', { class: 'meta', 'data-reason': a.kind }, ...reasonNow(a)),
      a.open && a.workerCancelledAt ? h('div', { class: 'callout amber', 'data-worker-cancelled': 'true', text: `Cancelled by the worker at ${fmtTime(a.workerCancelledAt)}: call back to confirm` }) : null,
      a.open && a.step ? h('div', { class: 'step' }, stepLine(a)) : null,
      a.open && a.deliveries ? deliveryChips(a.deliveries) : null,
    ),
    h(
      'div',
      { class: 'actions' },
      a.open && !a.acknowledgedAt ? h('button', { class: 'primary big', 'data-action': 'ack', onclick: (e) => act(e.target, () => post(`/api/alarms/${a.id}/acknowledge`), 'Acknowledged: you are in charge').then(() => route({ keepScroll: true })) }, 'Acknowledge') : null,
      h('a', { class: 'button big', href: `#/alarm/${encodeURIComponent(a.id)}` }, a.open ? 'Open' : 'Record'),
    ),
  );
}

/** Where the escalation ladder is: what the policy says to do now, and when it moves on. */
export function stepLine(a) {
  const waiting = a.nextStepAt && !a.acknowledgedAt;
  // Not "everyone has been told": whether anyone was is in the delivery lines (issue 16).
  if (a.allAtOnce) return ['Every level of the ladder was started at once (who was told: see below)', waiting ? ['; again ', untilSpan(a.nextStepAt), ' unless someone takes charge'] : ''];
  return [`Now: ${a.step} (step ${a.level + 1} of ${a.steps}`, waiting ? ['; next step ', untilSpan(a.nextStepAt)] : '', ')'];
}

export async function alarmsView() {
  const data = await get('/api/alarms?limit=60');
  const open = data.alarms.filter((a) => a.open);
  const closed = data.alarms.filter((a) => !a.open).slice(0, 12);
  // "raised 3 min ago" stays true without a reload.
  state.timers.push(setInterval(() => route({ keepScroll: true }), 30_000));
  return h(
    'section',
    { id: 'board' },
    h('div', { class: 'board-head' }, h('h1', { text: open.length ? `${open.length} active alarm${open.length > 1 ? 's' : ''}` : 'No active alarms' }), h('span', { class: 'muted', text: `Loudest first · updated ${fmtTime(now())}` })),
    open.length ? h('div', { class: 'alarms', id: 'open-alarms' }, open.map(alarmCard)) : h('div', { class: 'empty', text: 'All quiet. New alarms appear here at once, with a sound.' }),
    closed.length ? h('h2', { text: 'Recently closed' }) : null,
    h('div', { class: 'alarms', id: 'closed-alarms' }, closed.map(alarmCard)),
  );
}
