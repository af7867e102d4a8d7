import { $ } from './dom.js';

// The console's own state: who is signed in, the hub's clock skew, the open alarms, the route.
export const view = $('#view');

export const state = {
  me: null,
  csrf: null,
  /** serverNow - Date.now(): the hub may run on a drill (or test) clock. */
  skew: 0,
  /** Open alarms as last fetched (the sound's conditions are computed from them). */
  openAlarms: [],
  /** Every open alarm the hub counts, never fewer than openAlarms (which stops at the read's limit: open-alarms.js). */
  openTotal: 0,
  /** True while the live stream to the hub is down (item 4). */
  hubLost: false,
  openIds: null,
  events: null,
  timers: [],
  route: '',
};

export const canSee = (...roles) => state.me && roles.includes(state.me.role);
