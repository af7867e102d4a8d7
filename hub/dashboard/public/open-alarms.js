import { $, toast } from './lib/dom.js';
import { kindSound } from './lib/words.js';
import { state } from './lib/state.js';
import { get } from './lib/api.js';
import { updateAlerting } from './sound.js';
import { renderDuties, setHubLost, titleFor } from './duties.js';

/** The most open alarms one read lists (the board's and the badge's); the hub counts them all (openTotal). */
export const BOARD_OPEN_LIMIT = 200;

/**
 * How many alarms are open, from an answer of GET /api/alarms?open=true: the hub's count of every
 * open alarm, not only the ones the answer lists (it stops at its limit); never fewer than it lists.
 */
export function openTotalOf(answer) {
  return Math.max(answer.openTotal, answer.alarms.filter((a) => a.open).length);
}

// The open alarms this console knows of (state.openAlarms): the badge, the title, the call-back
// duties and what sounds (issue 15 item 2) all read them, and only this module writes them.
//
// Reads overlap: a live event, the 30 s poll and an officer's own action each start one, and their
// answers can come back in any order (separate connections, a busy hub). Applied as they came, a
// read sent before an SOS was raised and answered after the read that saw it would take the new
// alarm off the list, and its sound with it, until the next event; one sent before an officer took
// an alarm would start its sound again. So an answer is applied only if no later-sent read has been
// applied already: what the console holds never goes back in time.
let sent = 0;
let applied = 0;
let late = 0;

export async function refreshAlarmCount() {
  const mine = ++sent;
  let data;
  try {
    data = await get(`/api/alarms?open=true&limit=${BOARD_OPEN_LIMIT}`);
  } catch (err) {
    // A fetch that never reached the hub (network down) is a lost hub too, even if the stream
    // has not noticed yet; a refusal (401, 500) is not.
    if (err instanceof TypeError) setHubLost(true);
    return;
  }
  if (mine < applied) {
    // Counted on <body data-alarm-reads-late> (the tests read it, as they read the tone counts).
    late++;
    document.body.dataset.alarmReadsLate = String(late);
    return;
  }
  applied = mine;
  const open = data.alarms.filter((a) => a.open);
  const total = openTotalOf(data);
  const badge = $('#alarm-count');
  badge.textContent = String(total);
  badge.hidden = total === 0;
  const ids = new Set(open.map((a) => a.id));
  if (state.openIds) {
    const fresh = open.filter((a) => !state.openIds.has(a.id));
    if (fresh.length > 0) {
      const loud = fresh.some((a) => kindSound(a.kind) === 'alarm');
      toast(`New alarm: ${fresh.map((a) => `${a.kindLabel} · ${a.workerName || a.deviceId || 'unknown'}`).join(', ')}`, loud);
      state.freshIds = new Set(fresh.map((a) => a.id));
    }
  }
  state.openIds = ids;
  state.openAlarms = open;
  state.openTotal = total;
  updateAlerting();
  renderDuties();
  titleFor();
}

/**
 * After the hub has confirmed an officer's action on an alarm (taken, closed): the console reads the
 * open alarms at once, so the alarm's sound stops when the hub says it was taken, not when the
 * live event about it arrives.
 */
export async function afterAlarmAction(answer) {
  if (answer) await refreshAlarmCount();
  return answer;
}
