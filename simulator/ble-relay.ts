/**
 * The phone's part for a Puck.js fob, as the tests and the simulator need it: the fob's UART lines
 * (`ev {...}`) are published on `lw/<id>/<leaf>` under the fob's identity, and the hub's commands
 * come back to the fob as `cmd {...}` lines. (The worker's companion app does the same over Web
 * Bluetooth.)
 */
import mqtt, { type MqttClient } from 'mqtt';
import { commandTopic, deviceTopic, positionTopic, statusTopic, TOPIC, type Position } from '../shared/protocol-core.js';
import type { SimulatedPuck, UartMessage } from '../firmware/sim/puck-sim.js';

export class BleRelay {
  /** Tests: while true, commands from the hub (acks included) are not passed to the fob. */
  holdCommands = false;
  /**
   * Issue 20: the phone's own position for an event it relays (as the companion adds
   * `navigator.geolocation`'s fix as `l`), or undefined for none. Set by the simulator.
   */
  phoneFix: (() => Position | undefined) | null = null;

  private constructor(
    private readonly puck: SimulatedPuck,
    private readonly client: MqttClient,
    private readonly deviceId: string,
  ) {}

  static async start(puck: SimulatedPuck, o: { url: string; deviceId: string; secret: string }): Promise<BleRelay> {
    const client = await mqtt.connectAsync(o.url, {
      clientId: o.deviceId,
      username: o.deviceId,
      password: o.secret,
      reconnectPeriod: 0,
      will: { topic: statusTopic(o.deviceId), payload: Buffer.from('0'), qos: 1, retain: false },
    });
    client.on('error', () => undefined);
    const relay = new BleRelay(puck, client, o.deviceId);
    await client.subscribeAsync(commandTopic(o.deviceId), { qos: 1 });
    // Online, as a RAK5010 says it; the will above says offline when the phone's link dies.
    await client.publishAsync(statusTopic(o.deviceId), '1', { qos: 1 });
    client.on('message', (_topic, payload) => {
      if (!relay.holdCommands) puck.command(payload.toString());
    });
    puck.onMessage = (m) => relay.forward(m);
    puck.link(true);
    return relay;
  }

  private forward(m: UartMessage): void {
    if (m.leaf !== TOPIC.event && m.leaf !== TOPIC.heartbeat && m.leaf !== TOPIC.status) return;
    let json = m.json;
    const l = m.leaf === TOPIC.event ? this.phoneFix?.() : undefined;
    if (l) {
      // The fob's event as it came, with the phone's fix added unless the fob sent one itself.
      const ev = JSON.parse(json) as Record<string, unknown>;
      if (ev.l === undefined) json = JSON.stringify({ ...ev, l });
    }
    if (this.client.connected) this.client.publish(deviceTopic(this.deviceId, m.leaf), json, { qos: m.leaf === TOPIC.heartbeat ? 0 : 1 });
  }

  /** The phone's position on its own (`ps`, QoS 0). */
  publishPosition(p: Position): void {
    if (this.client.connected) this.client.publish(positionTopic(this.deviceId), JSON.stringify(p), { qos: 0 });
  }

  /** The phone loses the hub (or the fob): the fob is told the link is down. */
  async stop(): Promise<void> {
    this.puck.link(false);
    this.puck.onMessage = null;
    await this.client.endAsync(true);
  }
}
