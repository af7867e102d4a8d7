/**
 * The Lonewatch wire protocol, dependency-free.
 *
 * This file is compiled into the ES5 firmware bundle as well as imported by the hub, so it may use
 * only what the Espruino interpreter runs: plain functions, string/number constants, no Map/Set,
 * no spread, no default parameters, no library calls beyond ES5.
 *
 * Every byte a fob sends over LTE-M is paid for, so topics are short (`lw/<id>/ev`) and payload keys
 * are one or two letters. docs/protocol.md documents every topic and field; a test keeps the two in step.
 */

/** Bumped on any incompatible change to topics or payloads; fobs announce it in their hello event. */
export const PROTOCOL_VERSION = 2;

/**
 * Version history: 1 = the first protocol; 2 = positions (issue 20): the `ps` leaf and the `l` key
 * on events. A version 1 fob sends neither and keeps working unchanged.
 */
export const PROTOCOL_VERSION_MIN = 1;

/** Root of every topic. */
export const TOPIC_ROOT = 'lw';

/** Topic leaf names under `lw/<deviceId>/`. */
export const TOPIC = {
  /** fob -> hub, QoS 0: periodic heartbeat. */
  heartbeat: 'hb',
  /** fob -> hub, QoS 1: alarm and itinerary events, each with a device-unique id. */
  event: 'ev',
  /** hub -> fob, QoS 1: acks and commands. */
  command: 'cmd',
  /** fob -> hub, QoS 1: presence; "1" on connect, "0" as the last will. */
  status: 'st',
  /** fob (or its phone) -> hub, QoS 0: a position on its own, sent faster while an alarm is open. */
  position: 'ps',
} as const;

/** hub -> downstream systems, QoS 1: one message per alarm notification, `lw/alerts/<alarmId>`. */
export const ALERTS_PREFIX = 'lw/alerts';

export const LIMITS = {
  /** Device ids are short so every topic stays short: letters, digits, '-' and '_'. */
  deviceIdMaxLength: 32,
  /** `<boot>-<seq>` in base 36: ample for a fob's lifetime. */
  eventIdMaxLength: 24,
  /** Visit reference codes (never addresses). */
  visitRefMaxLength: 32,
  /** Largest payload accepted from a fob, in bytes. Anything larger is refused unparsed. */
  fobPayloadMaxBytes: 256,
  /** Largest payload the hub sends to a fob, in bytes. */
  commandPayloadMaxBytes: 128,
  /** Longest extension a worker can ask for from the fob in one go, minutes. */
  extendMaxMinutes: 240,
  /** An event older than this (by its age field) is still accepted, but stored and shown as stale, seconds. */
  eventAgeMaxSeconds: 604800,
  /**
   * Longest wiring fault a hello carries (`wf`). Five roles of short pin names ("motor=D34 not a
   * pin, ...") are about 110 characters; the whole hello must still fit fobPayloadMaxBytes.
   */
  wiringFaultMax: 160,
  /** Accuracy radius over this, metres, is refused (a cell fix is a few km; nothing useful is coarser). */
  positionAccuracyMaxMetres: 100000,
} as const;

/**
 * Where a position came from (`s` of a position): the fob's own GNSS receiver (the BG96), the
 * worker's phone (the companion, `navigator.geolocation`), or a cell-based estimate.
 */
export const POSITION_SOURCE = {
  gnss: 'g',
  phone: 'p',
  cell: 'c',
} as const;

export type PositionSource = (typeof POSITION_SOURCE)[keyof typeof POSITION_SOURCE];

/** Event kinds (`k` of an event). Alarm kinds raise an alarm at the hub. */
export const EVENT = {
  /** Loud SOS: the fob sounds its buzzer as a deterrent. */
  sos: 'sos',
  /** Covert SOS: no sound, ever. */
  covert: 'cov',
  /** Man-down: no movement while on a visit, after the fob's cancel window. */
  manDown: 'mdn',
  /** Worker cancels a false alarm from the fob. */
  cancel: 'can',
  /** Worker confirms they are safe (routine or answering a prompt). */
  checkIn: 'chk',
  /** Worker starts the next visit on their itinerary. */
  visitStart: 'vs',
  /** Worker ends the current visit. */
  visitEnd: 've',
  /** Worker extends the current visit by `m` minutes. */
  extend: 'ext',
  /** Worker reports the end of their shift: safely finished the final visit. */
  endOfShift: 'eos',
  /** Sent on every (re)connect: firmware, board, protocol version, boot count. */
  hello: 'hi',
} as const;

export type EventKind = (typeof EVENT)[keyof typeof EVENT];

// Lists are spelled out (not read from EVENT) so a bundler can drop them where they are unused:
// the fob's size budget counts every byte.
export const EVENT_KINDS: EventKind[] = ['sos', 'cov', 'mdn', 'can', 'chk', 'vs', 've', 'ext', 'eos', 'hi'];

/** Event kinds that raise an alarm; these are committed durably before the fob's PUBACK. */
export const ALARM_EVENT_KINDS: EventKind[] = ['sos', 'cov', 'mdn'];

/** Command kinds (`k` of a hub -> fob command). */
export const COMMAND = {
  /** The hub has the event `i` durably: the fob drops it from its outbox. */
  ack: 'ack',
  /** Help is coming: a discreet haptic pulse, never sound (safe during a covert alarm). */
  helpComing: 'hc',
  /** Stop the loud alarm's buzzer. */
  stopAlarm: 'stop',
  /** Ask the worker to check in within `d` seconds. */
  prompt: 'prm',
  /** The officer closed the alarm (resolved or cancelled): the fob returns to idle. */
  alarmClosed: 'clr',
  /** Settings pushed by the hub: heartbeat interval `hb` seconds. */
  config: 'cfg',
} as const;

export type CommandKind = (typeof COMMAND)[keyof typeof COMMAND];

export const COMMAND_KINDS: CommandKind[] = ['ack', 'hc', 'stop', 'prm', 'clr', 'cfg'];

/** Status payloads on `lw/<id>/st`. */
export const STATUS_ONLINE = '1';
export const STATUS_OFFLINE = '0';

export const BOARDS = ['puck', 'rak5010'] as const;
export type Board = (typeof BOARDS)[number];

// ---------------------------------------------------------------------------------------------
// Message shapes (types only: zod schemas in protocol-schemas.ts validate them at the hub).

/** Heartbeat, `lw/<id>/hb`. */
export interface Heartbeat {
  /** Heartbeat counter since boot (detects gaps). */
  n: number;
  /** Battery, percent 0-100. */
  b: number;
  /** Worn: 1 if the accelerometer saw movement since the last heartbeat, else 0. */
  m: 0 | 1;
  /** Seconds since boot. */
  u: number;
  /** Number of events waiting in the outbox (0 when all are acked). */
  q?: number;
}

/** Fields shared by every event. */
export interface EventBase {
  /** Device-unique event id, `<boot>-<seq>` in base 36. A retried event keeps its id. */
  i: string;
  /** Event kind. */
  k: EventKind;
  /** Age in seconds when sent: the hub dates the event `received - ag`, so an unset fob clock is harmless. */
  ag: number;
}

/**
 * A position fix, compact for LTE-M (issue 20): `{"la":51.50722,"lo":-0.1275,"ac":12,"fa":4,"s":"g"}`
 * is 52 bytes. Latitude and longitude in WGS84 decimal degrees, at most 5 decimals (about 1 m);
 * the fix time is an age like `ag` (seconds before sending), so a fob without a clock can send it.
 */
export interface Position {
  /** Latitude, degrees, -90..90. */
  la: number;
  /** Longitude, degrees, -180..180. */
  lo: number;
  /** Accuracy radius, metres (horizontal, about 68% confidence), integer. */
  ac: number;
  /** Fix age in seconds when sent. */
  fa: number;
  /** Source: 'g' GNSS, 'p' phone, 'c' cell. */
  s: PositionSource;
}

export interface FobEvent extends EventBase {
  /** Any event (alarms above all): the latest fix, when the sender has a fresh one (protocol 2). */
  l?: Position;
  /** visit start / end: the visit reference, when the fob knows it. */
  v?: string;
  /** extend: minutes to add to the current visit's expected end. */
  m?: number;
  /** cancel: id of the alarm event being cancelled (latest active alarm when absent). */
  r?: string;
  /** check-in: 1 when answering a hub prompt. */
  p?: 0 | 1;
  /** hello: firmware version. */
  fw?: string;
  /** hello: board. */
  bd?: Board;
  /** hello: protocol version. */
  pv?: number;
  /** hello: boot counter. */
  bc?: number;
  /** hello: the wiring fault, when a pin did not resolve at boot. */
  wf?: string;
}

export interface Command {
  k: CommandKind;
  /** ack: the acknowledged event id. */
  i?: string;
  /** prompt: seconds the worker has to respond. */
  d?: number;
  /** config: heartbeat interval, seconds. */
  hb?: number;
  /** config (protocol 2): seconds between GNSS fixes during a visit, 0 = off or 60-3600. */
  gp?: number;
}

// ---------------------------------------------------------------------------------------------
// Topic builders and parsers.

const DEVICE_ID_CHARS = /^[A-Za-z0-9_-]+$/;

export function isValidDeviceId(id: string): boolean {
  return id.length > 0 && id.length <= LIMITS.deviceIdMaxLength && DEVICE_ID_CHARS.test(id);
}

// The four the fob's bundle calls more than once are function expressions, not declarations:
// terser writes those as arrows, ~12 bytes less each (issue 14, firmware/src/boards/board-common.ts).
export const deviceTopic = function (deviceId: string, leaf: string): string {
  return TOPIC_ROOT + '/' + deviceId + '/' + leaf;
};

export function heartbeatTopic(deviceId: string): string {
  return deviceTopic(deviceId, TOPIC.heartbeat);
}

export function eventTopic(deviceId: string): string {
  return deviceTopic(deviceId, TOPIC.event);
}

export const commandTopic = function (deviceId: string): string {
  return deviceTopic(deviceId, TOPIC.command);
};

export const statusTopic = function (deviceId: string): string {
  return deviceTopic(deviceId, TOPIC.status);
};

export function alertTopic(alarmId: string): string {
  return ALERTS_PREFIX + '/' + alarmId;
}

export interface ParsedDeviceTopic {
  deviceId: string;
  leaf: string;
}

function isDeviceLeaf(leaf: string): boolean {
  return (
    leaf === TOPIC.heartbeat || leaf === TOPIC.event || leaf === TOPIC.command || leaf === TOPIC.status || leaf === TOPIC.position
  );
}

export function positionTopic(deviceId: string): string {
  return deviceTopic(deviceId, TOPIC.position);
}

/** Splits `lw/<id>/<leaf>`; null for anything else (including wildcards and bad ids). */
export function parseDeviceTopic(topic: string): ParsedDeviceTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 3 || parts[0] !== TOPIC_ROOT) return null;
  const deviceId = parts[1];
  const leaf = parts[2];
  if (!isValidDeviceId(deviceId)) return null;
  if (!isDeviceLeaf(leaf)) return null;
  return { deviceId: deviceId, leaf: leaf };
}

// ---------------------------------------------------------------------------------------------
// Ids and encoders used by the fob (and by the simulator and tests through the same code).

/** `<boot>-<seq>` in base 36. Boot counts survive reboots in flash, so ids never repeat on a device. */
export function makeEventId(bootCount: number, seq: number): string {
  return bootCount.toString(36) + '-' + seq.toString(36);
}

/**
 * Who made an event: the fob itself, or the worker's phone (the companion PWA, which sends events it
 * makes on the fob's topic with ids `z<6 random base-36>-<seq>`, docs/protocol.md). A fob's id is
 * `<boot>-<seq>`; a boot counter would need 7 base-36 digits starting with z (over 7*10^10 boots) to
 * look like a phone's, so the prefix tells them apart. Only the fob's own traffic keeps the device's
 * health "last heard" fresh (R16): a fob left at home must go "silent" however often the phone checks in.
 */
export type EventSource = 'fob' | 'phone';
const PHONE_EVENT_ID = /^z[0-9a-z]{6}-[0-9a-z]+$/;
export function eventSource(eventId: string): EventSource {
  return PHONE_EVENT_ID.test(eventId) ? 'phone' : 'fob';
}

/** Orders two event ids of one device: negative when a was raised first. */
export function compareEventIds(a: string, b: string): number {
  const pa = a.split('-');
  const pb = b.split('-');
  const boot = parseInt(pa[0], 36) - parseInt(pb[0], 36);
  if (boot !== 0) return boot;
  return parseInt(pa[1], 36) - parseInt(pb[1], 36);
}

export const isAlarmKind = function (kind: string): boolean {
  return kind === EVENT.sos || kind === EVENT.covert || kind === EVENT.manDown;
};

export function encodeHeartbeat(hb: Heartbeat): string {
  return JSON.stringify(hb);
}

export function encodeEvent(ev: FobEvent): string {
  return JSON.stringify(ev);
}

export function encodeCommand(cmd: Command): string {
  return JSON.stringify(cmd);
}

/**
 * BLE relay framing: the Puck.js sends one line per message over the Nordic UART,
 * `<leaf> <json>\n` (for example `ev {"i":"1-a","k":"cov","ag":0}`), and the relay publishes the JSON
 * on `lw/<id>/<leaf>`. Commands come back the same way as `cmd <json>\n`.
 */
export function encodeUartLine(leaf: string, json: string): string {
  return leaf + ' ' + json + '\n';
}

export interface UartLine {
  leaf: string;
  json: string;
}

export function decodeUartLine(line: string): UartLine | null {
  const trimmed = line.replace(/[\r\n]+$/, '');
  const space = trimmed.indexOf(' ');
  if (space < 1) return null;
  const leaf = trimmed.substr(0, space);
  if (!isDeviceLeaf(leaf)) return null;
  return { leaf: leaf, json: trimmed.substr(space + 1) };
}
