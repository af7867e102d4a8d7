/**
 * The fob's brain, free of Espruino globals: gestures become events, events wait in the outbox until
 * the hub acks them, commands from the hub drive the buzzer and the vibration motor, heartbeats go
 * out on a jittered schedule, and man-down watches for a worker who stops moving during a visit.
 *
 * A covert alarm never sounds: the buzzer is driven only by the loud alarm.
 */
import {
  COMMAND,
  EVENT,
  PROTOCOL_VERSION,
  TOPIC,
  encodeHeartbeat,
  isAlarmKind,
  makeEventId,
} from '../../../shared/protocol-core';
import { STORAGE, type Hal } from '../hal';
import { GestureRecognizer, type GestureName } from './gestures';
import { Outbox } from './outbox';
import { FIRMWARE_VERSION } from '../version';

// The fob's timings (docs/fob.md, "Alarm state machine"). Plain constants, not a settings object:
// the minifier inlines them, and an object would be ~6 of the Puck.js's 2,630 variables (issue 14).
/** Minutes without movement during a visit before man-down starts its cancel window. */
export const MAN_DOWN_MIN = 10;
/** Seconds the worker has to cancel a man-down (any button press) before it is sent. */
export const MAN_DOWN_CANCEL_S = 30;
/** Minutes added by the extend gesture. */
export const EXTEND_MIN = 30;
/** Seconds the loud alarm's buzzer sounds unless stopped. */
export const LOUD_SECONDS = 60;

declare global {
  /**
   * Set by the build (firmware/build/build.ts, esbuild `define`) for a board with no movement
   * source: man-down's code is then dead and dropped from the bundle. The RAK5010's firmware reads
   * no accelerometer (its LIS3DH is not wired into it yet, docs/fob.md), so man-down there would
   * fire 10 minutes into every visit: a false alarm. Undefined on Node (tests, simulator): man-down on.
   */
  var lwNoManDown: boolean | undefined;
}

/** Below this battery percentage the fob pulses at every heartbeat (the hub warns too, R16). */
export const LOW_BATTERY = 20;

export interface FobStats {
  /** Commands from the hub or lines from the relay that were malformed or unknown (ignored). */
  badCommands: number;
}

export class FobCore {
  readonly outbox: Outbox;
  readonly gestures: GestureRecognizer;
  readonly stats: FobStats = { badCommands: 0 };
  _bootCount = 0;
  _seq = 0;
  _onVisit = false;
  /** Id of the alarm event raised last and not yet closed (for cancel). */
  _activeAlarm = '';
  _loud = false;
  _prompted = false;
  _hbIntervalMs = 300000;
  /** Heartbeat back-off: 1 while the link is up, doubling (at most 4) while it is down. */
  _hbBack = 1;
  private _beats = 0;
  private _batt: number[] = [];
  private _moved = false;
  _manDownTimer = -1;
  _manDownPulses = 0;
  private _hbTimer = -1;
  private _retryTimer = -1;
  private _loudTimer = -1;

  constructor(
    readonly _hal: Hal,
    private readonly _board: 'puck' | 'rak5010',
    /** The board's wiring fault ('' when every pin resolved): announced in the hello as `wf`. */
    private readonly _fault: string,
  ) {
    this.outbox = new Outbox(_hal);
    this.gestures = new GestureRecognizer(_hal, this);
  }

  /** Boot: count the boot (event ids never repeat), say hello, start the schedules. */
  start(): void {
    const stored = parseInt(this._hal.storageRead(STORAGE.bootCount) || '0', 10);
    this._bootCount = (isNaN(stored) ? 0 : stored) + 1;
    this._hal.storageWrite(STORAGE.bootCount, String(this._bootCount));
    this._seq = 0;
    this.raise(EVENT.hello, '"fw":"' + FIRMWARE_VERSION + '","bd":"' + this._board + '","pv":' + PROTOCOL_VERSION + ',"bc":' + this._bootCount + (this._fault ? ',"wf":' + JSON.stringify(this._fault) : ''));
    this._scheduleHeartbeat(1000);
  }

  /** A button edge from the board. */
  button(pressed: boolean): void {
    if (!globalThis.lwNoManDown && pressed && this._manDownTimer >= 0 && this._manDownPulses > 0) {
      // Any press during the cancel window: the worker is fine.
      armManDown(this);
      return;
    }
    this.gestures.edge(pressed, this._hal.uptime());
  }

  /** Movement from the accelerometer. */
  movement(): void {
    if (globalThis.lwNoManDown) return;
    this._moved = true;
    if (this._onVisit && this._manDownPulses === 0) armManDown(this);
  }

  onGesture(g: GestureName): void {
    switch (g) {
      case EVENT.sos:
        this._startLoud();
        this._activeAlarm = this.raise(EVENT.sos, '');
        break;
      case EVENT.covert:
        // No sound, no light: the aggressor must not notice.
        this._activeAlarm = this.raise(EVENT.covert, '');
        break;
      case EVENT.checkIn:
        this.raise(EVENT.checkIn, this._prompted ? '"p":1' : '');
        this._prompted = false;
        this._hal.vibrate(80);
        break;
      case EVENT.cancel:
        this._stopLoud();
        this.raise(EVENT.cancel, this._activeAlarm ? '"r":"' + this._activeAlarm + '"' : '');
        this._activeAlarm = '';
        this._hal.vibrate(80);
        break;
      case 'visit':
        this._onVisit = !this._onVisit;
        this.raise(this._onVisit ? EVENT.visitStart : EVENT.visitEnd, '');
        // (No man-down code at all where the build dropped it: lwNoManDown.)
        if (!globalThis.lwNoManDown) armManDown(this);
        this._hal.vibrate(80);
        break;
      case EVENT.extend:
        this.raise(EVENT.extend, '"m":' + EXTEND_MIN);
        this._hal.vibrate(80);
        break;
      case EVENT.endOfShift:
        this._onVisit = false;
        // Off the visit: this only cancels.
        if (!globalThis.lwNoManDown) armManDown(this);
        this.raise(EVENT.endOfShift, '');
        this._hal.vibrate(80);
        break;
    }
  }

  /** Creates an event, keeps it in the outbox and tries to send it now. Returns its id. */
  raise(kind: string, extra: string): string {
    const id = makeEventId(this._bootCount, this._seq++);
    const g = isAlarmKind(kind) ? this._hal.gnss : undefined;
    // Issue 20: an alarm carries the fix the fob already holds, when fresh, and NEVER waits for one:
    // a fix can take minutes or never come indoors, and R3 wants the alarm in front of an officer
    // now; the position follows as `ps` once the receiver has one. (Alarm kinds carry no other extra.)
    const l = g ? g.fix() : '';
    this.outbox.add(id, kind, l ? '"l":' + l : extra);
    this.flush();
    // The receiver is switched on only after the alarm's send is queued on the modem.
    if (g) g.alarmOpen(true);
    return id;
  }

  /** Sends whatever is due; arms the retry timer for the next. */
  flush(): void {
    const self = this;
    const now = this._hal.uptime();
    if (this._hal.transport.isUp()) {
      const due = this.outbox.due();
      for (let j = 0; j < due.length; j++) this._hal.transport.send(TOPIC.event, due[j], 1);
    }
    if (this._retryTimer >= 0) this._hal.clearTimeout(this._retryTimer);
    this._retryTimer = -1;
    const next = this.outbox._nextDue();
    if (next >= 0 && this._hal.transport.isUp()) {
      this._retryTimer = this._hal.setTimeout(function () {
        self._retryTimer = -1;
        self.flush();
      }, Math.max(100, next - now));
    }
  }

  /** The link (BLE to the phone, or the modem's TCP) came up or went down. */
  link(up: boolean): void {
    if (up) {
      this.outbox._retryAll();
      this.flush();
      // The hub hears from the fob at once, then on the normal schedule again.
      this._hbBack = 1;
      this._scheduleHeartbeat(2000);
    }
  }

  /** A command from the hub (JSON text). Anything malformed or unknown is counted and ignored. */
  command(json: string): void {
    // One count for every way a command can be bad (one `badCommands++` in the bundle, not five).
    if (!this._obey(json)) this.stats.badCommands++;
  }

  /** Carries out a command; false when it is malformed or unknown (nothing done). */
  private _obey(json: string): boolean {
    let cmd: { k?: unknown; i?: unknown; d?: unknown; hb?: unknown; gp?: unknown };
    try {
      cmd = JSON.parse(json);
    } catch (e) {
      return false;
    }
    if (!cmd || typeof cmd !== 'object' || typeof cmd.k !== 'string') {
      return false;
    }
    switch (cmd.k) {
      case COMMAND.ack:
        // An ack for an id no longer in the outbox (a duplicate ack) is not bad; an ack without an id is.
        if (typeof cmd.i === 'string') this.outbox.ack(cmd.i);
        else return false;
        break;
      case COMMAND.helpComing:
        // One discreet pulse: felt, not heard.
        this._hal.vibrate(300);
        break;
      case COMMAND.stopAlarm:
        this._stopLoud();
        break;
      case COMMAND.prompt:
        this._prompted = true;
        this._hal.vibrate(500);
        break;
      case COMMAND.alarmClosed:
        this._stopLoud();
        this._activeAlarm = '';
        // The officer closed it: positions at the alarm's rate stop. A worker's own cancel does not
        // stop them: the hub keeps that alarm open until someone has called back (a cancel under duress).
        if (this._hal.gnss) this._hal.gnss.alarmOpen(false);
        break;
      case COMMAND.config: {
        // gp (optional): seconds between fixes during a visit, 0 (off) or 60-3600. A bad gp refuses
        // the whole cfg: nothing changes.
        const gp = cmd.gp;
        if (typeof cmd.hb === 'number' && cmd.hb >= 10 && cmd.hb <= 3600 && (gp === undefined || gp === 0 || (typeof gp === 'number' && gp >= 60 && gp <= 3600))) {
          this._hbIntervalMs = cmd.hb * 1000;
          this._scheduleHeartbeat(this._hbIntervalMs);
          if (typeof gp === 'number' && this._hal.gnss) this._hal.gnss.gnssPeriod(gp);
        } else return false;
        break;
      }
      default:
        return false;
    }
    return true;
  }

  private _startLoud(): void {
    const self = this;
    this._loud = true;
    this._hal.buzz(true);
    this._hal.led(true);
    if (this._loudTimer >= 0) this._hal.clearTimeout(this._loudTimer);
    this._loudTimer = this._hal.setTimeout(function () {
      self._loudTimer = -1;
      self._stopLoud();
    }, LOUD_SECONDS * 1000);
  }

  private _stopLoud(): void {
    if (this._loudTimer >= 0) this._hal.clearTimeout(this._loudTimer);
    this._loudTimer = -1;
    if (this._loud) {
      this._loud = false;
      this._hal.buzz(false);
      this._hal.led(false);
    }
  }

  /**
   * Heartbeats every interval, jittered by +-10% so a fleet does not beat in step. While the link is
   * down the interval backs off (x2, x4) so a fob out of coverage does not wake its radio for nothing;
   * the link coming back resets it (see link()).
   */
  private _scheduleHeartbeat(ms: number): void {
    const self = this;
    if (this._hbTimer >= 0) this._hal.clearTimeout(this._hbTimer);
    this._hbTimer = this._hal.setTimeout(function () {
      self._hbTimer = -1;
      self.heartbeat();
      self._scheduleHeartbeat(Math.round(self._hbIntervalMs * self._hbBack * (0.9 + 0.2 * self._hal.random())));
    }, ms);
  }

  heartbeat(): void {
    this._hal.kickWatchdog();
    const battery = this._battery();
    const moved = this._moved ? 1 : 0;
    if (this._hal.transport.isUp()) {
      this._hbBack = 1;
      const hb = encodeHeartbeat({ n: this._beats, b: battery, m: moved, u: Math.floor(this._hal.uptime() / 1000), q: this.outbox._i.length });
      this._hal.transport.send(TOPIC.heartbeat, hb, 0);
    } else if (this._hbBack < 4) this._hbBack *= 2;
    // Ages of waiting events carry over a reboot from here (core/outbox.ts).
    this.outbox._mark();
    // Boards that advertise (the Puck.js) show the same state to the phone between connections.
    if (this._hal.beacon) this._hal.beacon(battery, moved, this._beats);
    this._beats++;
    this._moved = false;
    // A low battery pulses at each heartbeat, so the worker notices before the hub has to tell them.
    if (battery < LOW_BATTERY) this._hal.vibrate(50);
  }

  /**
   * Battery, percent: the lowest of the last 4 readings, so a reading taken while the buzzer or the
   * radio pulls the voltage down does not swing the figure, and a recovering cell does not flap
   * around the low-battery threshold.
   */
  _battery(): number {
    const b = Math.max(0, Math.min(100, Math.round(this._hal.battery())));
    this._batt.push(b);
    if (this._batt.length > 4) this._batt.shift();
    return Math.min.apply(null, this._batt);
  }
}

// Man-down, outside the class so that a build without it (lwNoManDown) drops it whole: the build
// folds `true ? 0 : function ...` to 0 (an unused function declaration would be kept).
type ManDownStep = (c: FobCore) => void;

/** Cancels any man-down timer or window, then, on a visit, arms the 10 minutes again. */
const armManDown = (globalThis.lwNoManDown ? 0 : function (c: FobCore): void {
  if (c._manDownTimer >= 0) c._hal.clearTimeout(c._manDownTimer);
  c._manDownTimer = -1;
  c._manDownPulses = 0;
  if (!c._onVisit) return;
  c._manDownTimer = c._hal.setTimeout(function () {
    c._manDownTimer = -1;
    manDownWindow(c);
  }, MAN_DOWN_MIN * 60000);
}) as ManDownStep;

/** The cancel window: a pulse every 5 s; a press cancels; silence sends man-down. */
const manDownWindow = (globalThis.lwNoManDown ? 0 : function (c: FobCore): void {
  const pulses = Math.max(1, Math.round(MAN_DOWN_CANCEL_S / 5));
  if (c._manDownPulses >= pulses) {
    c._manDownPulses = 0;
    c._manDownTimer = -1;
    c._activeAlarm = c.raise(EVENT.manDown, '');
    return;
  }
  c._manDownPulses++;
  c._hal.vibrate(400);
  c._manDownTimer = c._hal.setTimeout(function () {
    manDownWindow(c);
  }, 5000);
}) as ManDownStep;
