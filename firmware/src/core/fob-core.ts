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
import { gestureRecognizer, type GestureName } from './gestures';
import { openOutbox, type Outbox } from './outbox';
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

/** What the boards (and the measurement, through `LW.core`) use of the core. */
export interface FobCore {
  readonly outbox: Outbox;
  readonly stats: FobStats;
  /** Boot: count the boot (event ids never repeat), say hello, start the schedules. */
  start(): void;
  /** A button edge from the board. */
  button(pressed: boolean): void;
  /** Movement from the accelerometer. */
  movement(): void;
  /** Creates an event, keeps it in the outbox and tries to send it now. Returns its id. */
  raise(kind: string, extra?: string): string;
  /** The link (BLE to the phone, or the modem's TCP) came up or went down. */
  link(up: boolean): void;
  /** A command from the hub (JSON text). Anything malformed or unknown is counted and ignored. */
  command(json: string): void;
  /** True while the worker is on a visit (the RAK5010's GNSS schedule asks). */
  _visiting(): boolean;
}

/**
 * The core as a closure, not a class (issue 14: the RAK5010 bundle <= 10 KB): its state and helpers
 * are local variables, which the minifier names with one letter and reaches without `this.`, where a
 * class's members stay properties. Only what the boards call is on the returned object.
 */
export function fobCore(hal: Hal, board: 'puck' | 'rak5010', fault: string): FobCore {
  const outbox = openOutbox(hal);
  const stats: FobStats = { badCommands: 0 };
  const transport = hal.transport;
  const gnss = hal.gnss;
  let bootCount = 0;
  let seq = 0;
  let onVisit = false;
  /** Id of the alarm event raised last and not yet closed (for cancel). */
  let activeAlarm = '';
  let loud = false;
  let prompted = false;
  let hbIntervalMs = 300000;
  /** Heartbeat back-off: 1 while the link is up, doubling (at most 4) while it is down. */
  let hbBack = 1;
  let beats = 0;
  const batt: number[] = [];
  let moved = false;
  let manDownTimer = -1;
  let manDownPulses = 0;
  let hbTimer = -1;
  let retryTimer = -1;
  let loudTimer = -1;

  /**
   * Clears a timer that is set and gives -1, the "no timer" value: a fired timer's id is set to -1
   * at once, since Espruino reuses ids and a stale clearTimeout would cancel someone else's timer.
   * One function for the five places (bytes, issue 14).
   */
  const stop = function (timer: number): number {
    if (timer >= 0) hal.clearTimeout(timer);
    return -1;
  };

  const raise = function (kind: string, extra?: string): string {
    const id = makeEventId(bootCount, seq++);
    const g = isAlarmKind(kind) ? gnss : undefined;
    // Issue 20: an alarm carries the fix the fob already holds, when fresh, and NEVER waits for one:
    // a fix can take minutes or never come indoors, and R3 wants the alarm in front of an officer
    // now; the position follows as `ps` once the receiver has one. (Alarm kinds carry no other extra.)
    const l = g ? g.fix() : '';
    outbox.add(id, kind, l ? '"l":' + l : extra);
    flush();
    // The receiver is switched on only after the alarm's send is queued on the modem.
    if (g) g.alarmOpen(true);
    return id;
  };

  /** Sends whatever is due; arms the retry timer for the next. */
  const flush = function (): void {
    const now = hal.uptime();
    if (transport.isUp()) {
      const due = outbox.due();
      for (let j = 0; j < due.length; j++) transport.send(TOPIC.event, due[j], 1);
    }
    retryTimer = stop(retryTimer);
    const next = outbox._nextDue();
    if (next >= 0 && transport.isUp()) {
      retryTimer = hal.setTimeout(function () {
        retryTimer = -1;
        flush();
      }, Math.max(100, next - now));
    }
  };

  // Man-down: where the build says the board has no movement source (lwNoManDown), these are 0 and
  // every call to them is dead code, so the bundle holds none of it.
  /** Cancels any man-down timer or window, then, on a visit, arms the 10 minutes again. */
  const armManDown = (globalThis.lwNoManDown ? 0 : function (): void {
    manDownTimer = stop(manDownTimer);
    manDownPulses = 0;
    if (!onVisit) return;
    manDownTimer = hal.setTimeout(function () {
      manDownTimer = -1;
      manDownWindow();
    }, MAN_DOWN_MIN * 60000);
  }) as () => void;

  /** The cancel window: a pulse every 5 s; a press cancels; silence sends man-down. */
  const manDownWindow = (globalThis.lwNoManDown ? 0 : function (): void {
    const pulses = Math.max(1, Math.round(MAN_DOWN_CANCEL_S / 5));
    if (manDownPulses >= pulses) {
      manDownPulses = 0;
      manDownTimer = -1;
      activeAlarm = raise(EVENT.manDown);
      return;
    }
    manDownPulses++;
    hal.vibrate(400);
    manDownTimer = hal.setTimeout(function () {
      manDownWindow();
    }, 5000);
  }) as () => void;

  const startLoud = function (): void {
    loud = true;
    hal.buzz(true);
    hal.led(true);
    stop(loudTimer);
    loudTimer = hal.setTimeout(function () {
      loudTimer = -1;
      stopLoud();
    }, LOUD_SECONDS * 1000);
  };

  const stopLoud = function (): void {
    loudTimer = stop(loudTimer);
    if (loud) {
      loud = false;
      hal.buzz(false);
      hal.led(false);
    }
  };

  const onGesture = function (g: GestureName): void {
    switch (g) {
      case EVENT.sos:
        startLoud();
        activeAlarm = raise(EVENT.sos);
        break;
      case EVENT.covert:
        // No sound, no light: the aggressor must not notice.
        activeAlarm = raise(EVENT.covert);
        break;
      case EVENT.checkIn:
        raise(EVENT.checkIn, prompted ? '"p":1' : '');
        prompted = false;
        hal.vibrate(80);
        break;
      case EVENT.cancel:
        stopLoud();
        raise(EVENT.cancel, activeAlarm ? '"r":"' + activeAlarm + '"' : '');
        activeAlarm = '';
        hal.vibrate(80);
        break;
      case 'visit':
        onVisit = !onVisit;
        raise(onVisit ? EVENT.visitStart : EVENT.visitEnd);
        // (No man-down code at all where the build dropped it: lwNoManDown.)
        if (!globalThis.lwNoManDown) armManDown();
        hal.vibrate(80);
        break;
      case EVENT.extend:
        raise(EVENT.extend, '"m":' + EXTEND_MIN);
        hal.vibrate(80);
        break;
      case EVENT.endOfShift:
        onVisit = false;
        // Off the visit: this only cancels.
        if (!globalThis.lwNoManDown) armManDown();
        raise(EVENT.endOfShift);
        hal.vibrate(80);
        break;
    }
  };

  const edge = gestureRecognizer(hal.setTimeout, stop, onGesture);

  /** Carries out a command; false when it is malformed or unknown (nothing done). */
  const obey = function (json: string): boolean {
    let cmd: { k?: unknown; i?: unknown; d?: unknown; hb?: unknown; gp?: unknown };
    try {
      cmd = JSON.parse(json);
    } catch (e) {
      return false;
    }
    // Only null (and false, 0, '') cannot be read: any other JSON value reads `k` (undefined on a
    // number, a string or an array, as on Espruino), and a `k` that is not one of the strings below
    // falls to `default` (switch compares with ===). So no typeof checks: ~40 bytes (issue 14).
    if (!cmd) return false;
    switch (cmd.k) {
      case COMMAND.ack:
        // An ack for an id no longer in the outbox (a duplicate ack) is not bad; an ack without an id is.
        if (typeof cmd.i === 'string') outbox.ack(cmd.i);
        else return false;
        break;
      case COMMAND.helpComing:
        // One discreet pulse: felt, not heard.
        hal.vibrate(300);
        break;
      case COMMAND.stopAlarm:
        stopLoud();
        break;
      case COMMAND.prompt:
        prompted = true;
        hal.vibrate(500);
        break;
      case COMMAND.alarmClosed:
        stopLoud();
        activeAlarm = '';
        // The officer closed it: positions at the alarm's rate stop. A worker's own cancel does not
        // stop them: the hub keeps that alarm open until someone has called back (a cancel under duress).
        if (gnss) gnss.alarmOpen(false);
        break;
      case COMMAND.config: {
        // gp (optional): seconds between fixes during a visit, 0 (off) or 60-3600. A bad gp refuses
        // the whole cfg: nothing changes.
        const gp = cmd.gp;
        if (typeof cmd.hb === 'number' && cmd.hb >= 10 && cmd.hb <= 3600 && (gp === undefined || gp === 0 || (typeof gp === 'number' && gp >= 60 && gp <= 3600))) {
          hbIntervalMs = cmd.hb * 1000;
          scheduleHeartbeat(hbIntervalMs);
          if (typeof gp === 'number' && gnss) gnss.gnssPeriod(gp);
        } else return false;
        break;
      }
      default:
        return false;
    }
    return true;
  };

  /**
   * Heartbeats every interval, jittered by +-10% so a fleet does not beat in step. While the link is
   * down the interval backs off (x2, x4) so a fob out of coverage does not wake its radio for nothing;
   * the link coming back resets it (see link()).
   */
  const scheduleHeartbeat = function (ms: number): void {
    stop(hbTimer);
    hbTimer = hal.setTimeout(function () {
      hbTimer = -1;
      heartbeat();
      scheduleHeartbeat(Math.round(hbIntervalMs * hbBack * (0.9 + 0.2 * hal._random())));
    }, ms);
  };

  const heartbeat = function (): void {
    hal._kick();
    const battery = readBattery();
    const m = moved ? 1 : 0;
    if (transport.isUp()) {
      hbBack = 1;
      const hb = encodeHeartbeat({ n: beats, b: battery, m: m, u: Math.floor(hal.uptime() / 1000), q: outbox._i.length });
      transport.send(TOPIC.heartbeat, hb, 0);
    } else if (hbBack < 4) hbBack *= 2;
    // Ages of waiting events carry over a reboot from here (core/outbox.ts).
    outbox._mark();
    // Boards that advertise (the Puck.js) show the same state to the phone between connections.
    if (hal.beacon) hal.beacon(battery, m, beats);
    beats++;
    moved = false;
    // A low battery pulses at each heartbeat, so the worker notices before the hub has to tell them.
    if (battery < LOW_BATTERY) hal.vibrate(50);
  };

  /**
   * Battery, percent: the lowest of the last 4 readings, so a reading taken while the buzzer or the
   * radio pulls the voltage down does not swing the figure, and a recovering cell does not flap
   * around the low-battery threshold.
   */
  const readBattery = function (): number {
    const b = Math.max(0, Math.min(100, Math.round(hal.battery())));
    batt.push(b);
    if (batt.length > 4) batt.shift();
    return Math.min.apply(null, batt);
  };

  return {
    outbox: outbox,
    stats: stats,
    raise: raise,
    start: function () {
      const stored = parseInt(hal.storageRead(STORAGE.bootCount) || '0', 10);
      bootCount = (isNaN(stored) ? 0 : stored) + 1;
      hal.storageWrite(STORAGE.bootCount, String(bootCount));
      seq = 0;
      raise(EVENT.hello, '"fw":"' + FIRMWARE_VERSION + '","bd":"' + board + '","pv":' + PROTOCOL_VERSION + ',"bc":' + bootCount + (fault ? ',"wf":' + JSON.stringify(fault) : ''));
      scheduleHeartbeat(1000);
    },
    button: function (pressed) {
      if (!globalThis.lwNoManDown && pressed && manDownTimer >= 0 && manDownPulses > 0) {
        // Any press during the cancel window: the worker is fine.
        armManDown();
        return;
      }
      edge(pressed, hal.uptime());
    },
    movement: function () {
      if (globalThis.lwNoManDown) return;
      moved = true;
      if (onVisit && manDownPulses === 0) armManDown();
    },
    link: function (up) {
      if (up) {
        outbox._retryAll();
        flush();
        // The hub hears from the fob at once, then on the normal schedule again.
        hbBack = 1;
        scheduleHeartbeat(2000);
      }
    },
    command: function (json) {
      // One count for every way a command can be bad (one `badCommands++` in the bundle, not five).
      if (!obey(json)) stats.badCommands++;
    },
    _visiting: function () {
      return onVisit;
    },
  };
}
