/** Messages between the bench (parent) and its load-generator processes (children), over IPC. */

export interface LoadDevice {
  id: string;
  password: string;
}

export interface LoadStart {
  type: 'start';
  url: string;
  devices: LoadDevice[];
  /** flood: every fob publishes QoS 1 heartbeats back to back, the next as soon as the last is acked.
   *  steady: heartbeats every hbIntervalMs (QoS 0), SOS events at sosPerSecond, acks awaited. */
  mode: 'flood' | 'steady';
  hbIntervalMs: number;
  sosPerSecond: number;
  /** Routine check-ins per second across the fleet (steady mode). */
  checkinsPerSecond?: number;
  /** Connections opened at once while ramping up. */
  rampConcurrency: number;
  /**
   * Every edge's address, this generator's own `url` first (the cluster bench): a fob whose
   * connection drops reconnects to the next one, resubscribes and re-sends its unacknowledged QoS 1
   * publishes (mqtt.js `servers`), as the wire fob fails over (docs/cluster.md). Without it a lost
   * connection stays lost.
   */
  failover?: string[];
  /** Subscribe to the command topic (the hub's acks); Mosquitto runs need none. */
  subscribe: boolean;
  /** A read-only service account on lw/alerts/#: measures press -> live alert. */
  alerts?: { username: string; password: string };
  /** A signed-in dashboard client (API token) on GET /api/events: measures press -> SSE live event. */
  dashboard?: { httpUrl: string; token: string };
}

/** 'measure' opens a window (counters reset, SOS presses on); 'pause' stops the presses, so acks still in flight can arrive before 'report'. */
export type LoadCommand = LoadStart | { type: 'measure' } | { type: 'pause' } | { type: 'report' } | { type: 'stop' };

export interface LoadReport {
  type: 'report';
  connected: number;
  connectFailures: number;
  /** QoS 1 publishes acknowledged since the last 'measure'. */
  acked: number;
  /** ms, press -> PUBACK (alarm durable at the hub) */
  pubackMs: number[];
  /** ms, press -> application ack on the command topic */
  ackMs: number[];
  /** ms, press -> the alert on lw/alerts/# (what a dashboard or control room sees) */
  liveMs: number[];
  /** ms, press -> the `alarm` server-sent event for that alarm at a dashboard client (GET /api/events); only a generator given `dashboard` */
  sseMs?: number[];
  /** Alarms first announced on the SSE stream that could not be matched to one of this run's presses. */
  sseUnmatched?: number;
  sosSent: number;
  /** Messages published since the last 'measure' (heartbeats and events). */
  published: number;
  elapsedMs: number;
}

/** Tries per fob before the load generator counts it as failed to connect (bench/load/load-worker.ts). */
export const CONNECT_ATTEMPTS = 5;

/** `connectRetries`: connection attempts refused or cut before CONNACK and tried again (bench/load/load-worker.ts). */
export type LoadEvent = { type: 'ready'; connected: number; connectFailures: number; connectRetries?: number } | LoadReport | { type: 'progress'; connected: number };
