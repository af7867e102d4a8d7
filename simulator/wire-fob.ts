/**
 * A fob reduced to its behaviour on the wire: the protocol's messages, an outbox kept until the hub
 * acks each event id, heartbeats, and a buzzer counter. It stands in where the firmware-backed fob
 * is not wanted (quick load runs) and until that fob is available to the simulator. It uses the
 * shared protocol core, so what it sends is exactly what the firmware sends.
 */
import mqtt, { type MqttClient } from 'mqtt';
import {
  COMMAND,
  EVENT,
  PROTOCOL_VERSION,
  commandTopic,
  encodeEvent,
  encodeHeartbeat,
  eventTopic,
  heartbeatTopic,
  makeEventId,
  positionTopic,
  statusTopic,
  type FobEvent,
} from '../shared/protocol-core.js';
import type { Gesture } from './scenario/scenario-schema.js';
import type { VirtualFob, VirtualFobSpec } from './virtual-fob.js';
import { TrackPosition, type TrackFix } from './track-position.js';

const GESTURE_EVENT: Record<Gesture, FobEvent['k']> = {
  loud_sos: EVENT.sos,
  covert_sos: EVENT.covert,
  checkin: EVENT.checkIn,
  cancel: EVENT.cancel,
  visit_start: EVENT.visitStart,
  visit_end: EVENT.visitEnd,
  extend: EVENT.extend,
  end_of_shift: EVENT.endOfShift,
};

interface Pending {
  ev: FobEvent;
  createdAt: number;
  nextTryAt: number;
  tries: number;
}

export class WireFob implements VirtualFob {
  readonly deviceId: string;
  readonly board: 'puck' | 'rak5010';
  private client: MqttClient | null = null;
  private now: number;
  private bootedAt: number;
  private boot = 1;
  private seq = 0;
  private outbox: Pending[] = [];
  private raised = 0;
  private sounds = 0;
  private battery: number;
  private hbIntervalMs = 300_000;
  private nextBeatAt: number;
  private beats = 0;
  private linkUp = true;
  private dead = false;
  private alarmActive: string | null = null;
  private readonly position = new TrackPosition();
  /** Which of the hubs (spec.hubs) the next connect tries. */
  private hubIndex = 0;
  /** Event ids the hub PUBACKed (MQTT 3.1.1 §4.3.2: the receiver has taken ownership). */
  private readonly pubacked = new Set<string>();
  /** Event ids the hub acknowledged with the application ack (taken out of the outbox). */
  private readonly acked = new Set<string>();

  constructor(private readonly spec: VirtualFobSpec) {
    this.deviceId = spec.deviceId;
    this.board = spec.board;
    this.now = spec.clockStart;
    this.bootedAt = spec.clockStart;
    this.battery = spec.battery;
    this.nextBeatAt = spec.clockStart;
  }

  async start(): Promise<void> {
    this.enqueue({ i: this.nextId(), k: EVENT.hello, ag: 0, fw: 'wire', bd: this.board, pv: PROTOCOL_VERSION, bc: this.boot });
    await this.connect();
  }

  private nextId(): string {
    return makeEventId(this.boot, this.seq++);
  }

  private async connect(): Promise<void> {
    if (this.dead || !this.linkUp || this.client) return;
    const hubs = this.spec.hubs && this.spec.hubs.length > 0 ? this.spec.hubs : [{ host: this.spec.hubHost, port: this.spec.hubPort }];
    const hub = hubs[this.hubIndex % hubs.length]!;
    let client: MqttClient;
    try {
      client = await mqtt.connectAsync(`${this.spec.tlsCa ? 'mqtts' : 'mqtt'}://${hub.host}:${hub.port}`, {
        // Verified against the given CA only (Node's default trust store is not consulted with `ca`).
        ...(this.spec.tlsCa ? { ca: this.spec.tlsCa, rejectUnauthorized: true } : {}),
        clientId: this.deviceId,
        username: this.deviceId,
        password: this.spec.secret,
        reconnectPeriod: 0,
        keepalive: 0,
        connectTimeout: 5000,
        will: { topic: statusTopic(this.deviceId), payload: Buffer.from('0'), qos: 1, retain: false },
      });
    } catch (err) {
      // Refused or unreachable: the next attempt goes to the next edge.
      this.hubIndex++;
      throw err;
    }
    client.on('error', () => undefined);
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = null;
      // Lost (the edge died, or dropped us for a publish it could not take): reconnect elsewhere.
      this.hubIndex++;
    });
    client.on('message', (_t, payload) => this.onCommand(payload.toString()));
    await client.subscribeAsync(commandTopic(this.deviceId), { qos: 1 });
    client.publish(statusTopic(this.deviceId), '1', { qos: 1 });
    this.client = client;
    for (const p of this.outbox) p.nextTryAt = this.now;
    this.flush();
  }

  private onCommand(text: string): void {
    let cmd: { k?: string; i?: string; hb?: number };
    try {
      cmd = JSON.parse(text);
    } catch {
      return;
    }
    if (cmd.k === COMMAND.ack && cmd.i) {
      const id = cmd.i;
      if (this.outbox.some((p) => p.ev.i === id)) this.acked.add(id);
      this.outbox = this.outbox.filter((p) => p.ev.i !== id);
    }
    else if (cmd.k === COMMAND.config && cmd.hb) this.hbIntervalMs = cmd.hb * 1000;
    else if (cmd.k === COMMAND.stopAlarm || cmd.k === COMMAND.alarmClosed) this.alarmActive = null;
  }

  private enqueue(ev: FobEvent): void {
    this.raised++;
    this.outbox.push({ ev, createdAt: this.now, nextTryAt: this.now, tries: 0 });
    this.flush();
  }

  private flush(): void {
    const c = this.client;
    if (!c || this.dead) return;
    for (const p of this.outbox) {
      if (p.nextTryAt > this.now) continue;
      p.tries++;
      p.nextTryAt = this.now + Math.min(300_000, 5000 * 2 ** (p.tries - 1));
      const waited = Math.max(0, Math.round((this.now - p.createdAt) / 1000));
      const ev = { ...p.ev, ag: waited, ...(p.ev.l ? { l: { ...p.ev.l, fa: p.ev.l.fa + waited } } : {}) };
      c.publish(eventTopic(this.deviceId), encodeEvent(ev), { qos: 1 }, (err) => {
        if (!err) this.pubacked.add(ev.i);
      });
    }
  }

  press(gesture: Gesture): void {
    if (this.dead) return;
    const k = GESTURE_EVENT[gesture];
    const ev: FobEvent = { i: this.nextId(), k, ag: 0 };
    if (gesture === 'extend') ev.m = 30;
    if (gesture === 'cancel' && this.alarmActive) ev.r = this.alarmActive;
    if (gesture === 'loud_sos') this.sounds++;
    if (gesture === 'loud_sos' || gesture === 'covert_sos') this.alarmActive = ev.i;
    if (gesture === 'cancel') this.alarmActive = null;
    // Protocol 2: a fresh fix travels with the event; its age is counted from now, like `ag`.
    const l = this.position.forEvent(this.now);
    if (l) ev.l = l;
    this.enqueue(ev);
  }

  async advance(ms: number): Promise<void> {
    this.now += ms;
    if (this.dead) return;
    if (!this.client && this.linkUp) await this.connect().catch(() => undefined);
    while (this.now >= this.nextBeatAt) {
      this.nextBeatAt += this.hbIntervalMs;
      this.client?.publish(heartbeatTopic(this.deviceId), encodeHeartbeat({ n: this.beats++, b: this.battery, m: 1, u: Math.round((this.now - this.bootedAt) / 1000), q: this.outbox.length }), { qos: 0 });
    }
    this.sendPosition();
    this.flush();
  }

  setPosition(fix: TrackFix | null): boolean {
    this.position.set(fix, this.now);
    this.sendPosition();
    return true;
  }

  private sendPosition(): void {
    const p = this.position.duePs(this.now, this.alarmActive !== null);
    if (p && this.client && !this.dead) this.client.publish(positionTopic(this.deviceId), JSON.stringify(p), { qos: 0 });
  }

  setBattery(percent: number): void {
    this.battery = percent;
    this.nextBeatAt = this.now;
  }

  setLink(up: boolean): void {
    this.linkUp = up;
    if (!up && this.client) {
      const c = this.client;
      this.client = null;
      c.stream.destroy();
      c.end(true);
    }
  }

  kill(): void {
    this.dead = true;
    this.setLink(false);
  }

  async reboot(): Promise<void> {
    // What was in flash survives: the outbox and the boot counter.
    this.setLink(false);
    this.linkUp = true;
    this.boot++;
    this.seq = 0;
    this.bootedAt = this.now;
    this.beats = 0;
    this.enqueue({ i: this.nextId(), k: EVENT.hello, ag: 0, fw: 'wire', bd: this.board, pv: PROTOCOL_VERSION, bc: this.boot });
    await this.connect();
  }

  /** Event ids the hub PUBACKed at least once. */
  pubackedEvents(): string[] {
    return [...this.pubacked];
  }

  /** Event ids the hub acknowledged with the application ack. */
  ackedEvents(): string[] {
    return [...this.acked];
  }

  /** Whether the fob has a connection now. */
  connected(): boolean {
    return this.client !== null;
  }

  soundCount(): number {
    return this.sounds;
  }

  eventsRaised(): number {
    return this.raised;
  }

  outboxSize(): number {
    return this.outbox.length;
  }

  /** The ids of the events in the outbox, oldest first (tests: which id a press was given). */
  outboxIds(): string[] {
    return this.outbox.map((p) => p.ev.i);
  }

  async stop(): Promise<void> {
    this.dead = true;
    await this.client?.endAsync(true);
    this.client = null;
  }
}
