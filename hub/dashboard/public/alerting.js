/* global localStorage */
// The officer's alerting (issue 15 items 2, 3, 4): what sounds, how often, and for how long.
//
// Alarm-receiving-centre consoles sound until a person accepts the alarm; one burst per new alarm
// let an alarm sit unseen behind another window. So the page keeps a standing set of conditions
// (alarms nobody has taken, call-backs falling due, the hub out of reach) and a scheduler that
// repeats each condition's own tone until the condition ends. The decision is pure
// (`dueTone`), the page's clock is Date.now() (tests drive it with Playwright's page.clock), and
// every tone the scheduler asks for goes in a log the page exposes on <body data-tones-*>.

/** Each condition's tone: distinct notes and rhythm, so the officer knows which duty it is by ear. */
export const TONES = {
  // Alarm nobody has taken: fast two-tone, the loudest, every 4 s until someone acknowledges it.
  alarm: { everyMs: 4000, wave: 'square', notes: [880, 660, 880, 660], step: 0.22, gain: 0.25 },
  // The hub is out of reach: falling three-note "lost" figure every 10 s while disconnected.
  hubLost: { everyMs: 10_000, wave: 'sawtooth', notes: [520, 390, 260], step: 0.3, gain: 0.2 },
  // A covert call-back is due: rising two-note chime every 8 s until it is recorded as done.
  callback: { everyMs: 8000, wave: 'sine', notes: [523, 784], step: 0.35, gain: 0.3 },
  // The path to the ARC (or another organisation channel) is down or refusing (issue 16): a low
  // repeated triple every 12 s until it is back.
  pathDown: { everyMs: 12_000, wave: 'triangle', notes: [330, 330, 330], step: 0.25, gain: 0.3 },
  // An alarm already taken notified again (escalated, repeated): one short tone, once.
  reAlert: { everyMs: 0, wave: 'square', notes: [660], step: 0.22, gain: 0.25 },
};

/** Most urgent first: at most one tone plays at a time, so they never blur into each other. */
const PRIORITY = ['alarm', 'hubLost', 'pathDown', 'callback'];

/**
 * Which tone the scheduler plays now, if any: the most urgent active condition whose own interval
 * has passed since it last played (a condition that has just begun plays at once).
 * @param {{alarm: boolean, hubLost: boolean, pathDown: boolean, callback: boolean}} active
 * @param {Record<string, number | undefined>} lastPlayed ms of each kind's last tone
 * @param {number} nowMs
 * @returns {string | null}
 */
export function dueTone(active, lastPlayed, nowMs) {
  for (const kind of PRIORITY) {
    if (!active[kind]) continue;
    const last = lastPlayed[kind];
    if (last === undefined || nowMs - last >= TONES[kind].everyMs) return kind;
  }
  return null;
}

const SOUND_KEY = 'lw.sound';

/**
 * Plays the tones through WebAudio. The browser's autoplay policy keeps an AudioContext suspended
 * until the person interacts with the page (Chrome's autoplay policy; Web Audio API, "allowed to
 * start"); while it is, `blocked` is true and the page shows a banner with one button to enable.
 */
export class Alerting {
  constructor({ onChange }) {
    this.onChange = onChange;
    this.ctx = null;
    this.active = { alarm: false, hubLost: false, pathDown: false, callback: false };
    this.lastPlayed = {};
    this.log = { alarm: 0, hubLost: 0, pathDown: 0, callback: 0, reAlert: 0 };
    this.played = 0;
    /** The officer's choice, kept across reloads: sound is on unless they turned it off. */
    this.wanted = localStorage.getItem(SOUND_KEY) !== 'off';
    this.timer = null;
  }

  /** True when the officer wants sound but the browser has not let the page start it yet. */
  get blocked() {
    return this.wanted && (!this.ctx || this.ctx.state !== 'running');
  }

  /** Tries to start audio (works without a click only where the browser allows autoplay). */
  init() {
    if (this.wanted) this.open();
    // The scheduler ticks every second: a condition's tone starts within a second of it beginning.
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), 1000);
  }

  open() {
    try {
      this.ctx = this.ctx || new AudioContext();
      this.ctx.onstatechange = () => this.onChange();
      const p = this.ctx.resume();
      if (p && typeof p.then === 'function') p.then(() => this.onChange(), () => this.onChange());
    } catch {
      this.ctx = null;
    }
    this.onChange();
  }

  /** From a click: the browser lets a click start audio. */
  enable() {
    this.wanted = true;
    localStorage.setItem(SOUND_KEY, 'on');
    this.open();
  }

  disable() {
    this.wanted = false;
    localStorage.setItem(SOUND_KEY, 'off');
    this.onChange();
  }

  /** The conditions the page sees now; a condition that ends stops its tone at the next tick. */
  set(conditions) {
    for (const k of Object.keys(this.active)) {
      const on = Boolean(conditions[k]);
      if (!on) delete this.lastPlayed[k];
      this.active[k] = on;
    }
    this.tick();
  }

  tick() {
    const kind = dueTone(this.active, this.lastPlayed, Date.now());
    if (kind) this.play(kind);
  }

  play(kind) {
    this.lastPlayed[kind] = Date.now();
    this.log[kind]++;
    const body = document.body.dataset;
    body[`tones${kind[0].toUpperCase()}${kind.slice(1)}`] = String(this.log[kind]);
    if (!this.wanted || !this.ctx || this.ctx.state !== 'running') return;
    this.played++;
    body.tonesPlayed = String(this.played);
    const t = TONES[kind];
    t.notes.forEach((f, i) => {
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.type = t.wave;
      osc.frequency.value = f;
      const t0 = this.ctx.currentTime + i * t.step;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(t.gain, t0 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + t.step - 0.02);
      osc.connect(gain).connect(this.ctx.destination);
      osc.start(t0);
      osc.stop(t0 + t.step - 0.01);
    });
  }
}
