/* global location, TextDecoder */
// The phone's MQTT-over-WebSocket link to the hub, with the fob's identity. Before every connect it
// asks the hub for a fresh relay token (the signed-in worker's session, scoped to their own fob):
// the fob's secret never reaches the phone. MQTT 3.1.1, clean session; the last will says the relay
// (and so the fob) went offline.
//
// In a cluster (issue 19) the token comes with `hubs`, every edge's WebSocket URL: the link starts
// with the first, and on a failed connect or a dropped connection moves to the next (after the last,
// the first again), like the wire fob and the RAK5010 (docs/fob.md "Edge failover"). It says it is
// connected only once the edge's CONNACK and the command subscription's SUBACK arrived.
import mqtt from './vendor/mqtt.js';
// Topics are the firmware's own (shared/protocol-core.ts, served by the hub): the phone relays as the fob.
import { commandTopic, deviceTopic, STATUS_OFFLINE, statusTopic } from '/protocol-core.js';

export class HubLink {
  /**
   * getCredential(): Promise<{ deviceId, clientId, username, password, path }> (throws when the hub is unreachable)
   * onCommand(json), onState({ connected, error?, hub: { index, count }, lost?, failed? })
   *   hub: the address in use (connected) or to be tried next (not connected), 0-based, of count;
   *   lost: a connection that was up dropped; failed: a connect did not reach CONNACK.
   */
  constructor({ getCredential, onCommand, onState }) {
    this.getCredential = getCredential;
    this.onCommand = onCommand;
    this.onState = onState;
    this.client = null;
    this.deviceId = null;
    this.connected = false;
    this.stopped = false;
    this.backoff = 1000;
    this.timer = null;
    /** Which of the hub addresses to try (the token's `hubs`, or the page's own /mqtt). */
    this.hubIndex = 0;
    this.hubCount = 1;
  }

  start() {
    this.stopped = false;
    if (!this.client && !this.timer) this.attempt();
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    const c = this.client;
    this.client = null;
    if (c) await new Promise((resolve) => c.end(false, {}, resolve));
    this.setConnected(false);
  }

  /** Reconnect now (the phone came back online, or the page became visible). */
  nudge() {
    if (this.stopped || this.client) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.backoff = 1000;
    this.attempt();
  }

  setConnected(up, error, extra = {}) {
    if (this.connected === up && !error && !extra.lost && !extra.failed) return;
    this.connected = up;
    this.onState({ connected: up, hub: { index: this.hubIndex, count: this.hubCount }, ...extra, ...(error ? { error } : {}) });
  }

  /**
   * `moveOn`: the address failed or dropped, so the next one is tried. The wait grows (1 s doubling
   * to 15 s) only once every address has been tried: the next edge is tried after 1 s.
   */
  retryLater(error, extra = {}) {
    const moveOn = extra.lost || extra.failed;
    if (moveOn && this.hubCount > 1) this.hubIndex = (this.hubIndex + 1) % this.hubCount;
    this.setConnected(false, error, extra);
    if (this.stopped) return;
    clearTimeout(this.timer);
    const wrapped = !moveOn || this.hubCount === 1 || this.hubIndex === 0;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.attempt();
    }, wrapped ? this.backoff : 1000);
    if (wrapped) this.backoff = Math.min(this.backoff * 2, 15000);
  }

  async attempt() {
    let cred;
    try {
      cred = await this.getCredential();
    } catch (err) {
      return this.retryLater(String(err?.message ?? err));
    }
    if (this.stopped) return;
    this.deviceId = cred.deviceId;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const urls = Array.isArray(cred.hubs) && cred.hubs.length > 0 ? cred.hubs : [`${scheme}://${location.host}${cred.path}`];
    this.hubCount = urls.length;
    if (this.hubIndex >= urls.length) this.hubIndex = 0;
    const client = mqtt.connect(urls[this.hubIndex], {
      protocolVersion: 4,
      // Its own client id (issued with the token): the fob's own connection, if it has one, stays up.
      clientId: cred.clientId,
      username: cred.username,
      password: cred.password,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 0,
      connectTimeout: 10000,
      will: { topic: statusTopic(cred.deviceId), payload: STATUS_OFFLINE, qos: 1, retain: false },
    });
    this.client = client;
    let up = false;
    client.on('connect', () => {
      this.backoff = 1000;
      client.subscribe(commandTopic(cred.deviceId), { qos: 1 }, (err) => {
        if (this.client !== client || err) return;
        up = true;
        this.setConnected(true);
      });
    });
    client.on('message', (_topic, payload) => this.onCommand(new TextDecoder().decode(payload)));
    client.on('error', () => undefined);
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = null;
      client.end(true);
      this.retryLater(undefined, up ? { lost: true } : { failed: true });
    });
  }

  /** Publishes on lw/<fob>/<leaf>; resolves true on the broker's PUBACK (QoS 1) or send (QoS 0). */
  publish(leaf, json, qos = 1) {
    const c = this.client;
    if (!c || !this.connected) return Promise.resolve(false);
    return new Promise((resolve) => c.publish(deviceTopic(this.deviceId, leaf), json, { qos }, (err) => resolve(!err)));
  }
}
