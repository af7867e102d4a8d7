// Forwarding (issue 16): who was told, by what, and how it went; the standing warning when a policy
// can reach nobody or a channel's path (the ARC) is down or refusing. Kept apart from the rest so the
// board and alarm views only call these.
import { html, render } from '/vendor/preact.js';
import { CHANNEL_LABEL } from './lib/words.js';
import { $ } from './lib/dom.js';
import { state, view } from './lib/state.js';
import { fmtTime } from './lib/time.js';
import { get } from './lib/api.js';
import { updateAlerting } from './sound.js';

// The words of each delivery (who, by what, what was confirmed) come from the hub
// (hub/notifiers/delivery-words.ts), so the board, the alarm view and the CSV say the same thing; the
// relay's own answers and the notice ids are only in the hover text (`technical`), for IT.
export const DELIVERY_BAD = new Set(['failed', 'fallthrough', 'not_configured', 'no_address', 'no_contact']);

/** Who was told of an open alarm, one chip per person and channel (the board's cards, preact). */
export function DeliveryChips({ lines }) {
  const shown = lines.filter((l) => !l.closed);
  if (shown.length === 0) return null;
  return html`
    <div class="told" data-told=${String(shown.length)}>
      ${shown.map((l) => html`<span class=${`chip${DELIVERY_BAD.has(l.state) ? ' bad' : ''}`} data-delivery=${l.state} title=${l.text}>${`${l.who} · ${CHANNEL_LABEL[l.channel] || l.channel || ''}${l.via ? ` (for ${CHANNEL_LABEL[l.via] || l.via})` : ''} · ${l.confirmed}`}</span>`)}
    </div>`;
}

/** Every delivery of one alarm: who, by what channel, to what address, how far it got, and when. */
export function DeliveryTable({ lines }) {
  if (lines.length === 0) return html`<p class="muted">Nobody outside the dashboard has been told of this alarm.</p>`;
  const channel = (l) => `${CHANNEL_LABEL[l.channel] || l.channel || '–'}${l.via ? ` instead of ${CHANNEL_LABEL[l.via] || l.via}` : ''}`;
  return html`
    <table class="told-table" id="told-table">
      <thead><tr><th>Who</th><th>Channel</th><th>Address</th><th>State</th><th>Why</th><th>At</th></tr></thead>
      <tbody>
        ${lines.map(
          (l) => html`<tr data-delivery=${l.state} class=${DELIVERY_BAD.has(l.state) ? 'bad' : ''} title=${l.technical || ''}><td>${l.who + (l.closed ? ' (told it is over)' : '')}</td><td>${channel(l)}</td><td>${l.address || '–'}</td><td>${l.confirmed}</td><td>${l.state === 'fallthrough' ? '' : l.reason || ''}</td><td>${fmtTime(l.at)}</td></tr>`,
        )}
      </tbody>
    </table>`;
}

/** The standing warning above every view: policies that reach nobody, and channel paths down or refusing. */
export async function refreshForwardingWarning() {
  let d;
  try {
    d = await get('/api/forwarding');
  } catch {
    return;
  }
  let box = $('#forwarding-warning');
  if (!box) {
    box = document.createElement('div');
    Object.assign(box, { id: 'forwarding-warning', className: 'warning standing' });
    box.setAttribute('role', 'alert');
    view.parentNode.insertBefore(box, view);
  }
  const badPaths = d.paths.filter((p) => p.state !== 'up');
  const items = [
    ...badPaths.map((p) => {
      const arc = p.channel === 'arc';
      const what = arc ? 'alarm receiving centre' : CHANNEL_LABEL[p.channel] || p.channel;
      const todo = arc ? 'Alarms are not reaching the ARC: phone them about each open alarm, or dial 999 for an emergency.' : `Alarms are not reaching the ${what}: the people on the ladder are still told by the other channels.`;
      return html`<p key=${`path-${p.channel}`} data-path=${p.channel} class="path-alarm">${`ALARM: the path to the ${what} is ${p.state === 'down' ? 'DOWN' : 'REFUSING our messages'} since ${fmtTime(p.since)}${p.reason ? `: ${p.reason}` : ''}. ${todo}`}</p>`;
    }),
    ...d.reachesNobody.map((r) => html`<p key=${`policy-${r.policy}`} data-policy=${r.policy}>${`Warning: ${r.message}. Configure [notifiers] in lonewatch.toml or add contacts.`}</p>`),
  ];
  box.hidden = items.length === 0;
  render(items, box);
  // A path that just went down or started refusing is an alarm: it sounds.
  const key = badPaths.map((p) => `${p.channel}:${p.state}`).join(',');
  // It repeats its own tone until the path is back (issue 16), like an alarm nobody has taken.
  state.pathDown = key !== '';
  if (key && key !== refreshForwardingWarning.last) updateAlerting();
  refreshForwardingWarning.last = key;
}
