/**
 * What the simulator needs of a virtual fob, whatever runs inside it. The firmware-backed fob runs
 * the emitted firmware bundle over a simulated board; all of them speak real MQTT to a real hub.
 */
import type { Gesture } from './scenario/scenario-schema.js';
import type { TrackFix } from './track-position.js';

export interface VirtualFob {
  readonly deviceId: string;
  readonly board: 'puck' | 'rak5010';
  /** Powers the fob on: it boots and connects to the hub. */
  start(): Promise<void>;
  /** The worker performs a button gesture. */
  press(gesture: Gesture): void;
  /** Moves the fob's own clock forward, running whatever its timers do meanwhile. */
  advance(ms: number): Promise<void>;
  setBattery(percent: number): void;
  /** The radio link (LTE-M, or BLE to the phone) drops or returns. */
  setLink(up: boolean): void;
  /** The fob stops altogether (flat battery, smashed): nothing more is sent. */
  kill(): void;
  /** Power-cycle: the fob restarts from what it kept in flash. */
  reboot(): Promise<void>;
  /**
   * Issue 20: where the worker is now (a track point), or null when the fix is lost (indoors). False
   * when this fob cannot send positions (the RAK5010 firmware here has no GNSS reading yet).
   */
  setPosition(fix: TrackFix | null): boolean;
  /** Times the buzzer sounded. */
  soundCount(): number;
  /** Events the fob raised (each once, whatever the retries). */
  eventsRaised(): number;
  /** Events waiting for the hub's ack. */
  outboxSize(): number;
  stop(): Promise<void>;
}

export interface VirtualFobSpec {
  deviceId: string;
  secret: string;
  board: 'puck' | 'rak5010';
  hubHost: string;
  hubPort: number;
  /**
   * Every edge of a cluster (docs/cluster.md): the fob tries the next one when a connect fails or its
   * connection is lost. Without it, hubHost:hubPort only. (The wire fob does this; the firmware's own
   * failover is the firmware's.)
   */
  hubs?: { host: string; port: number }[];
  /**
   * MQTT over TLS (the wire fob): the CA certificate (PEM) the hub's certificate must chain to, as a
   * fob flashed with `lonewatch flash` pins its CA (docs/fob.md). Without it, plain MQTT.
   */
  tlsCa?: string;
  battery: number;
  /** Epoch ms the fob's clock starts at (the scenario's start). */
  clockStart: number;
  /** RAK5010 running the firmware: the GNSS track its simulated BG96 plays (bg96-sim.ts parseTrack's text). */
  track?: string;
}

export type VirtualFobFactory = (spec: VirtualFobSpec) => VirtualFob;
