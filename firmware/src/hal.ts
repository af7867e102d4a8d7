/**
 * The hardware-abstraction layer: everything the fob's core needs from a board, and nothing more.
 * Each board file (boards/*.ts) implements it with Espruino's globals; the core never touches them,
 * so it runs the same on a Puck.js, a RAK5010 and the simulated board on Node.
 */
import type { Wiring } from './wiring.js';

export interface Transport {
  /** Sends one message on `lw/<id>/<leaf>`; false when the link is down (nothing was sent). */
  send(leaf: string, json: string, qos: number): boolean;
  isUp(): boolean;
}

export interface Hal {
  /** Milliseconds since boot: monotonic, valid even when the wall clock is unset. */
  uptime(): number;
  setTimeout(fn: () => void, ms: number): number;
  clearTimeout(id: number): void;
  /** The buzzer: a loud deterrent. Never used by a covert alarm. */
  buzz(on: boolean): void;
  vibrate(ms: number): void;
  led(on: boolean): void;
  /** Battery, percent. */
  battery(): number;
  storageRead(name: string): string | undefined;
  storageWrite(name: string, data: string): void;
  storageErase(name: string): void;
  /** The names of the Storage files that match. */
  storageList(match: RegExp): string[];
  /** Keeps the watchdog from resetting a fob that is still running. */
  _kick(): void;
  // `_kick` and `_random`, not E's `kickWatchdog` and Math's `random`: the build shortens `_` names
  // (build.ts MANGLED_PROPS), and a name Espruino's own objects use can never be shortened.
  _random(): number;
  transport: Transport;
  /**
   * Optional: boards that advertise (Puck.js) put heartbeat state in their advertising packet:
   * battery %, worn (moved since the last heartbeat), heartbeat counter. Never alarm state: a
   * covert alarm must not show to a scanner in the room.
   */
  beacon?(battery: number, moved: number, beats: number): void;
  /**
   * Optional: boards with a GNSS receiver (RAK5010, firmware/src/drivers/gnss.ts). The Puck.js has
   * none (its phone adds a position instead), so its bundle holds only these calls, no GNSS code.
   */
  gnss?: Positioning;
}

/** What the core asks of a GNSS receiver (issue 20). */
export interface Positioning {
  /** The last fix as position JSON (`{"la":..,"lo":..,"ac":..,"fa":..,"s":"g"}`) when fresh, else ''. */
  fix(): string;
  /** An alarm was raised (true) or the hub closed it with `clr` (false). */
  alarmOpen(open: boolean): void;
  /** The hub's `cfg` `gp`: seconds between fixes during a visit, 0 = off. */
  gnssPeriod(s: number): void;
}

/**
 * Storage files. The identity file is written at flashing time, never compiled in. The names are the
 * vocabulary's (shared/vocabulary.ts), which the flashing tool uses too: the two cannot disagree.
 */
export { FOB_STORAGE as STORAGE } from '../../shared/vocabulary.js';

export interface Identity {
  /** Device id. */
  id: string;
  /** Device secret (MQTT password). */
  pw: string;
  /** Hub host and MQTT port (RAK5010); the Puck.js reaches the hub through the phone relay. */
  h: string;
  p: number;
  /**
   * Issue 19, the cluster: every edge the fob may reach, in order of preference, `[host, port]` each
   * (the first is `h`/`p` again, so firmware that knows only `h`/`p` still reaches the first edge).
   * Absent (an identity written before issue 19): `h`/`p` alone, as before.
   */
  hs?: [string, number][];
  /** The wiring (firmware/src/wiring.ts), written at provisioning; a role left out takes the board's default. */
  w?: Partial<Wiring>;
  /**
   * RAK5010 over TLS (issue 17): the CA certificate's file name on the BG96 (its content is the
   * Storage file STORAGE.ca); absent: plain MQTT over TCP.
   */
  t?: string;
  /**
   * RAK5010 with a client certificate (issue 17): the base name of its files on the BG96, `<c>.crt`
   * and `<c>.key`, which `lonewatch flash` uploaded to the modem itself (they are not in Storage:
   * the key is only on the modem); absent: the modem presents no certificate.
   */
  c?: string;
  /**
   * Puck.js (issue 17): the 6-digit BLE passkey written at flashing; the phone must pair with it
   * before the Nordic UART carries anything. Absent (an identity written before): no pairing.
   */
  pk?: string;
}
