/**
 * The firmware-backed virtual fob: the EMITTED firmware bundle (built once per board and compiled
 * once) running on a simulated board; a Puck.js reaches the hub through the BLE relay, a RAK5010
 * through its simulated BG96's real TCP socket.
 */
import type vm from 'node:vm';
import { cachedFirmwareBuild } from '../firmware/build/build-cache.js';
import { SimulatedBoard } from '../firmware/sim/espruino-sim.js';
import { SimulatedPuck, GESTURE_PATTERNS } from '../firmware/sim/puck-sim.js';
import { SimulatedRak } from '../firmware/sim/rak-sim.js';
import { outboxEntries } from '../firmware/sim/outbox-files.js';
import { eventTopic } from '../shared/protocol-core.js';
import { FOB_STORAGE } from '../shared/vocabulary.js';
import { BleRelay } from './ble-relay.js';
import type { Gesture } from './scenario/scenario-schema.js';
import type { VirtualFob, VirtualFobFactory, VirtualFobSpec } from './virtual-fob.js';
import { TrackPosition, type TrackFix } from './track-position.js';

const PRESS_MS: Record<string, number> = { S: 150, L: 1500, H: 3200 };

class FirmwareFob implements VirtualFob {
  readonly deviceId: string;
  readonly board: 'puck' | 'rak5010';
  private puck: SimulatedPuck | null = null;
  private rak: SimulatedRak | null = null;
  /** RAK5010: whether its simulated BG96 plays a GNSS track (the scenario walk), see setPosition. */
  private hasTrack = false;
  private relay: BleRelay | null = null;
  private dead = false;
  private seen = new Set<string>();
  /** Scenario time, for the phone's fix ages (the board's own clock counts from its boot). */
  private now: number;
  /** The worker's phone's position (a Puck.js relays through the phone, which adds it). */
  private readonly phone = new TrackPosition();
  readonly storage: Record<string, string>;

  constructor(
    private readonly spec: VirtualFobSpec,
    script: vm.Script,
  ) {
    this.deviceId = spec.deviceId;
    this.board = spec.board;
    this.now = spec.clockStart;
    this.storage = { [FOB_STORAGE.identity]: JSON.stringify({ id: spec.deviceId, pw: spec.secret, h: spec.hubHost, p: spec.hubPort }) };
    if (spec.board === 'puck') {
      this.puck = new SimulatedPuck(script, this.storage);
    } else {
      this.rak = new SimulatedRak(script, this.storage);
      this.rak.modem.onSend = (bytes) => this.observe(bytes);
      // The receiver's clock is the board's (scenario time), so the track plays at the scenario's pace.
      const rak = this.rak;
      rak.modem.now = () => rak.board.clock.now();
      if (spec.track !== undefined) rak.modem.setTrack(spec.track);
      this.hasTrack = spec.track !== undefined;
    }
    this.sim().battery = spec.battery;
  }

  private sim(): SimulatedBoard {
    return this.puck ? this.puck.board : this.rak!.board;
  }

  /** Notes the ids of events the RAK5010 publishes (from the raw MQTT bytes). */
  private observe(bytes: string): void {
    const topic = eventTopic(this.deviceId);
    let at = bytes.indexOf(topic);
    while (at >= 0) {
      const m = /"i":"([0-9a-z]+-[0-9a-z]+)"/.exec(bytes.slice(at));
      if (m) this.seen.add(m[1]);
      at = bytes.indexOf(topic, at + topic.length);
    }
  }

  async start(): Promise<void> {
    if (this.puck) {
      this.puck.boot();
      this.relay = await BleRelay.start(this.puck, { url: `mqtt://${this.spec.hubHost}:${this.spec.hubPort}`, deviceId: this.deviceId, secret: this.spec.secret });
      this.relay.phoneFix = () => this.phone.forEvent(this.now);
      this.puck.advance(1500);
    } else {
      this.rak!.boot();
      await this.rak!.run(3000, 100);
    }
  }

  press(gesture: Gesture): void {
    if (this.dead) return;
    const b = this.sim();
    for (const c of GESTURE_PATTERNS[gesture]) {
      b.press(PRESS_MS[c]);
      b.advance(250);
    }
    b.advance(1000);
  }

  async advance(ms: number): Promise<void> {
    this.now += ms;
    if (this.dead) return;
    if (this.puck) {
      this.puck.advance(ms);
      this.phonePs();
      return;
    }
    // Real I/O between slices: the modem's replies and the hub's packets arrive in real time.
    // Slices stay under the shortest AT time limit (5 s), so no reply can be timed out before the
    // network had its turn; an idle slice only yields once.
    const rak = this.rak!;
    for (let t = 0; t < ms; t += 900) {
      const before = rak.modem.activity;
      rak.board.advance(Math.min(900, ms - t));
      await new Promise((r) => setImmediate(r));
      if (rak.modem.activity !== before) await new Promise((r) => setTimeout(r, 1));
    }
  }

  /**
   * A Puck.js has no receiver of its own: the phone relaying it adds its position (issue 20). A
   * RAK5010's firmware reads its own GNSS: the scenario's walk was given to its simulated BG96 as a
   * track at the start (run-scenario.ts gnssTrackText), so the point is already being played there.
   */
  setPosition(fix: TrackFix | null): boolean {
    if (!this.puck) return this.hasTrack;
    this.phone.set(fix, this.now);
    this.phonePs();
    return true;
  }

  private phonePs(): void {
    // "Faster while an alarm is open": the phone knows an alarm is on from what it relayed.
    const p = this.phone.duePs(this.now, this.alarmRelayed());
    if (p && !this.dead) this.relay?.publishPosition(p);
  }

  private alarmRelayed(): boolean {
    return this.puck !== null && this.puck.events().some((e) => e.k === 'sos' || e.k === 'cov');
  }

  setBattery(percent: number): void {
    this.sim().battery = percent;
  }

  setLink(up: boolean): void {
    if (this.puck) this.puck.link(up);
    else if (up) this.rak!.modem.restoreLink();
    else this.rak!.modem.dropLink();
  }

  kill(): void {
    this.dead = true;
    this.sim().clock.clearAll();
    if (this.puck) this.puck.link(false);
    else this.rak!.modem.dropLink();
  }

  async reboot(): Promise<void> {
    if (this.puck) this.puck.reboot();
    else this.rak!.reboot();
  }

  soundCount(): number {
    return this.sim().buzzerOnCount();
  }

  eventsRaised(): number {
    if (this.puck) return this.puck.events().length;
    return this.seen.size;
  }

  outboxSize(): number {
    return outboxEntries(this.storage).length;
  }

  async stop(): Promise<void> {
    this.dead = true;
    this.sim().clock.clearAll();
    await this.relay?.stop();
    this.rak?.stop();
  }
}

export async function createFirmwareFobFactory(): Promise<VirtualFobFactory> {
  const scripts: Record<string, vm.Script> = {};
  for (const board of ['puck', 'rak5010'] as const) {
    // The cached build (issue 18): every scenario run built both boards again, the same bytes.
    const built = await cachedFirmwareBuild(board);
    if (!built.ok) throw new Error(`the ${board} firmware does not build cleanly`);
    scripts[board] = SimulatedBoard.compile(built.code, `${board}.js`);
  }
  return (spec) => new FirmwareFob(spec, scripts[spec.board]);
}
