// The alarm board (preact): open alarms loudest first, then the recently closed ones. Live updates
// re-render it with new data and preact diffs the cards (keyed by alarm id), so a card being clicked
// is not replaced under the officer's pointer; relative times tick in place (lib/live.js).
import { html } from '/vendor/preact.js';
import { state } from '../lib/state.js';
import { fmtTime, now } from '../lib/time.js';
import { Ago, ReasonNow, Until } from '../lib/live.js';
import { act, get, post } from '../lib/api.js';
import { DeliveryChips } from '../forwarding.js';
import { route } from '../lib/nav.js';
import { afterAlarmAction, BOARD_OPEN_LIMIT, openTotalOf } from '../open-alarms.js';

const STALE_TITLE = 'raised on the fob more than 7 days before it reached the hub';
const who = (by) => String(by).replace(/^user:/, '');

/** Where the escalation ladder is: what the policy says to do now, and when it moves on. */
export function StepLine({ alarm: a }) {
  const waiting = a.nextStepAt && !a.acknowledgedAt;
  // Not "everyone has been told": whether anyone was is in the delivery lines (issue 16).
  if (a.allAtOnce) return html`Every level of the ladder was started at once (who was told: see below)${waiting ? html`; again <${Until} at=${a.nextStepAt} /> unless someone takes charge` : ''}`;
  return html`Now: ${a.step} (step ${a.level + 1} of ${a.steps}${waiting ? html`; next step <${Until} at=${a.nextStepAt} />` : ''})`;
}

function AlarmCard({ alarm: a }) {
  const fresh = state.freshIds && state.freshIds.has(a.id);
  // Taken: its sound stops as soon as the hub confirms (open-alarms.js), then the board is read again.
  const acknowledge = (e) => act(e.currentTarget, () => post(`/api/alarms/${a.id}/acknowledge`), 'Acknowledged: you are in charge').then(afterAlarmAction).then(() => route());
  return html`
    <article class=${`alarm k-${a.kind}${a.open ? '' : ' closed'}${fresh ? ' fresh' : ''}`} data-alarm=${a.id} data-kind=${a.kind}>
      <div>
        <div class="kind">${a.kindLabel}</div>
        <span class=${`state s-${a.state}`}>${a.state}</span>
        ${a.drill ? html`<span class="drill">DRILL</span>` : null}
        ${a.stale ? html`<span class="stale" title=${STALE_TITLE}>STALE: happened days ago</span>` : null}
      </div>
      <div>
        <div class="who-line">${a.workerName || a.workerId || `device ${a.deviceId}`}</div>
        <div class="meta">Raised ${fmtTime(a.raisedAt)} (<${Ago} at=${a.raisedAt} />)${a.visitRef ? ` · visit ${a.visitRef}` : ''}${a.acknowledgedBy ? ` · taken by ${who(a.acknowledgedBy)}` : ''}</div>
        <div class="meta" data-reason=${a.kind}><${ReasonNow} alarm=${a} /></div>
        ${a.open && a.workerCancelledAt ? html`<div class="callout amber" data-worker-cancelled="true">Cancelled by the worker at ${fmtTime(a.workerCancelledAt)}: call back to confirm</div>` : null}
        ${a.open && a.step ? html`<div class="step"><${StepLine} alarm=${a} /></div>` : null}
        ${a.open && a.deliveries ? html`<${DeliveryChips} lines=${a.deliveries} />` : null}
      </div>
      <div class="actions">
        ${a.open && !a.acknowledgedAt ? html`<button class="primary big" data-action="ack" onClick=${acknowledge}>Acknowledge</button>` : null}
        <a class="button big" href=${`#/alarm/${encodeURIComponent(a.id)}`}>${a.open ? 'Open' : 'Record'}</a>
      </div>
    </article>`;
}

function Board({ data }) {
  const { open, closed, total } = data;
  return html`
    <section id="board">
      <div class="board-head">
        <h1>${total ? `${total} active alarm${total > 1 ? 's' : ''}` : 'No active alarms'}</h1>
        <span class="muted">Loudest first · updated ${fmtTime(now())}</span>
      </div>
      ${total > open.length
        ? html`<div class="callout red" id="board-truncated">This board shows the ${open.length} most urgent of ${total} active alarms. The other ${total - open.length} are open too: see <a href="#/records?state=open">Records, state open</a>.</div>`
        : null}
      ${open.length
        ? html`<div class="alarms" id="open-alarms">${open.map((a) => html`<${AlarmCard} key=${a.id} alarm=${a} />`)}</div>`
        : html`<div class="empty">All quiet. New alarms appear here at once, with a sound.</div>`}
      ${closed.length ? html`<h2>Recently closed</h2>` : null}
      <div class="alarms" id="closed-alarms">${closed.map((a) => html`<${AlarmCard} key=${a.id} alarm=${a} />`)}</div>
    </section>`;
}

/**
 * The board as a preact element. No timer of its own: every change to an alarm arrives on the live
 * stream (live-feed.js), which re-reads the board, and the relative times tick in place.
 */
export async function alarmsView() {
  // Open and closed read apart: one list of the newest 60 of any state once dropped an open alarm
  // older than the 60 newest (an exhausted SOS behind a day of closed check-ins) off the board and
  // out of its count. The open ones come loudest first and are counted whole (openTotal).
  const [open, closed] = await Promise.all([get(`/api/alarms?open=true&limit=${BOARD_OPEN_LIMIT}`), get('/api/alarms?open=false&limit=12')]);
  return html`<${Board} data=${{ open: open.alarms, closed: closed.alarms, total: openTotalOf(open) }} />`;
}
