// Relative times for the views rendered with preact: the same spans (data-until, data-ago,
// data-since) and words as lib/time.js, so the 1-second ticker (tickLiveTimes) keeps them true
// between renders, and a render writes the same words the ticker would.
import { html } from '/vendor/preact.js';
import { ago, fmtTime, since, untilText } from './time.js';
import { state } from './state.js';

export const Until = ({ at }) => html`<span data-until=${String(at)} class=${state.hubLost ? 'stale-time' : undefined}>${untilText(at)}</span>`;
export const Ago = ({ at }) => html`<span data-ago=${String(at)}>${ago(at)}</span>`;
export const Since = ({ at }) => html`<span data-since=${String(at)}>${since(at)}</span>`;

/** "09:12 (3 min ago)", the relative part live. */
export const AtAgo = ({ at }) => html`${fmtTime(at)} (<${Ago} at=${at} />)`;

/**
 * The alarm's reason as it stands now: an open "device silent" alarm counts the silence live from
 * when the fob was last heard (`silentSince`); its stored reason keeps the minutes it had when raised.
 */
export function ReasonNow({ alarm: a }) {
  if (a.kind === 'device_silent' && a.open && a.silentSince) {
    return html`Fob ${a.deviceId || ''} silent for <${Since} at=${a.silentSince} /> (last heard ${fmtTime(a.silentSince)}) during a shift`;
  }
  return a.reason || '';
}
