/**
 * RAK5010 (nRF52840 + Quectel BG96 LTE-M): the fob talks straight to the hub over MQTT, through our
 * own BG96 driver and MQTT client. A dropped link is noticed by the keep-alive (or the modem's URCs)
 * and re-established with jittered back-off, short when the hub refused, long when the network is
 * missing; the outbox re-sends whatever the hub has not acked.
 */
import { TOPIC, commandTopic, deviceTopic, statusTopic } from '../../../shared/protocol-core';
import { fobCore } from '../core/fob-core';
import { STORAGE, type Hal } from '../hal';
import { bg96 } from '../drivers/bg96';
import { mqttClient } from '../drivers/mqtt-client';
import { gnssOn } from '../drivers/gnss';
import { RAK5010_WIRING } from '../wiring';
import { NOT_PROVISIONED, booted, readIdentity, resolveWiring, startWatchdog, storageErase, storageList, storageRead, storageWrite, uptime } from './board-common';

function main(): void {
  startWatchdog();
  const identity = readIdentity();
  // Every pin by name, from the identity's wiring or the defaults; a pin that did not resolve is
  // left alone (its role does nothing) and reported (see booted()).
  const wiring = resolveWiring(identity, RAK5010_WIRING);
  const btn = wiring[0];
  const buzzer = wiring[1];
  const motor = wiring[2];
  const led = wiring[3];
  // Issue 20: the GNSS power enable (GPS_EN), driven by the GNSS schedule around its sessions.
  const gpsEn = wiring[5];
  const fault = wiring[6] as string;
  const batt = wiring[4];
  // Not provisioned: the boot record is a fault, which names no board.
  if (!identity) return booted('', null, null, NOT_PROVISIONED, led, 2000);
  const id = identity.id;
  // The BG96's UART as Espruino's libs/js/rak/RAK5010.js wires it: LTE_TXD D6, LTE_RXD D8 (D7 is
  // the modem's RTS, not a data line).
  Serial1.setup(115200, { tx: D6, rx: D8 });
  // Plain calls, not `new`: the build may emit these factories as arrow functions (terser,
  // build.ts), which cannot be constructed.
  const modem = bg96(Serial1, setTimeout, clearTimeout);
  // The drivers' functions are handed over as they are (issue 14: no wrapper, fewer bytes and
  // variables): they use no `this`, so who calls them does not matter.
  Serial1.on('data', modem.input);
  /** Failed link attempts since the last MQTT session came up: the back-off grows with them. */
  let tries = 0;
  const mqtt = mqttClient(
    function (data) {
      // A send the modem refuses (socket gone, timeout) ends the session at once.
      modem.send(data, function (err) {
        if (err) mqtt.close();
      });
    },
    setTimeout,
    clearTimeout,
    { clientId: id, username: id, password: identity.pw, keepaliveS: 120, willTopic: statusTopic(id), willPayload: '0' },
  );
  // Issue 20: the modem's GNSS, on the same one-command-at-a-time driver as the MQTT traffic.
  const gnss = gnssOn(
    modem,
    uptime,
    setTimeout,
    clearTimeout,
    function () {
      return core._visiting();
    },
    gpsEn
      ? function (v) {
          digitalWrite(gpsEn, v);
        }
      : undefined,
  );
  const hal: Hal = {
    uptime: uptime,
    setTimeout: setTimeout,
    clearTimeout: clearTimeout,
    buzz: function (on) {
      if (!buzzer) return;
      if (on) analogWrite(buzzer, 0.5, { freq: 2700 });
      else digitalWrite(buzzer, 0);
    },
    vibrate: function (ms) {
      if (motor) digitalPulse(motor, 1, ms);
    },
    led: function (on) {
      if (led) digitalWrite(led, on);
    },
    // 3.0 V (empty) to 4.2 V (full) through a 1:2 divider on the 3.3 V ADC (the core clamps it to
    // 0-100, readBattery in core/fob-core.ts). No battery pin reads 0 %:
    // the hub then warns low battery (R16) besides the wiring fault in the hello.
    battery: function () {
      return batt ? ((analogRead(batt) * 6.6 - 3.0) / 1.2) * 100 : 0;
    },
    storageRead: storageRead,
    storageWrite: storageWrite,
    storageErase: storageErase,
    storageList: storageList,
    _kick: E.kickWatchdog,
    _random: Math.random,
    gnss: gnss,
    transport: {
      send: function (leaf, json, qos) {
        if (!mqtt.connected) return false;
        // An alarm's `l` was written with the fix's age at the raise; `fa` counts to this send
        // (docs/protocol.md), so the event's own age `ag` (its last key) is added to it. No regular
        // expression: Espruino 2v29's lost the text after a nested group (tried on the interpreter).
        const f = json.indexOf('"fa":');
        if (f > 0) json = json.substr(0, f + 5) + (parseInt(json.substr(f + 5), 10) + parseInt(json.substr(json.lastIndexOf(':') + 1), 10)) + json.substr(json.indexOf(',', f));
        mqtt.publish(deviceTopic(id, leaf), json, qos);
        return true;
      },
      isUp: function () {
        return mqtt.connected;
      },
    },
  };
  const core = fobCore(hal, 'rak5010', fault);
  // Each new fix as a `ps` (QoS 0: the next replaces a lost one); nothing while the link is down.
  gnss.onFix = function (ps) {
    mqtt.publish(deviceTopic(id, TOPIC.position), ps, 0);
  };

  // Issue 14: the network is there but the hub refused or did not answer (it is restarting): try
  // again within seconds, 2-3 s first, doubling to at most 6-9 s, so an alarm raised meanwhile
  // reaches the hub within seconds of its return. No network registration ('reg'): nothing to try
  // for a while; 30-45 s, doubling to at most 300-450 s, spares the battery. Jitter (x1 to x1.5)
  // keeps a fleet from reconnecting in step.
  // One link attempt at a time: a session can end twice (the modem's "closed" URC and the MQTT
  // client's own close), and two chains of AT commands on one modem would answer each other.
  let linking = 0;
  // Issue 19: the edges, in the order given (lw.json `hs`; an identity from before the cluster has
  // only `h`/`p`), starting with the first; `hub` is the one tried next. A refused or failed open, a
  // session that ended before the hub's CONNACK, and a session that was up and dropped ('m' below)
  // all move on to the next edge (wrapping to the first), with the same jittered retry, as the
  // companion does (hub/companion/public/hub-link.js). A dropped session goes on too, rather than
  // back to the first: the edge it was on is the likeliest to have failed, and an open to a host that
  // is gone costs up to QIOPEN's 150 s ([TCP] §2.2.4) before the next edge is tried, while an SOS waits
  // (R3; issue 19: acked within 5 s when its edge is killed). The edges are equivalent (stateless),
  // so nothing is lost by not going back. No registration ('reg') is the network's fault, not the
  // edge's: the same edge again.
  const hubs = identity.hs || [[identity.h, identity.p]];
  let hub = 0;
  const reconnect = function (err: string): void {
    if (linking) return;
    linking = 1;
    const reg = err === 'reg';
    if (!reg) hub = (hub + 1) % hubs.length;
    const wait = Math.min(reg ? 300000 : 6000, (reg ? 30000 : 2000) << Math.min(tries++, 4));
    setTimeout(link, wait * (1 + 0.5 * Math.random()));
  };
  const link = function (): void {
    linking = 1;
    // Issue 17: with identity.t the link is TLS through the BG96's SSL stack, pinned to the CA the
    // flashing tool wrote (uploaded to the modem when it lacks it); a missing CA file fails the upload.
    modem.connect(
      hubs[hub][0],
      hubs[hub][1],
      'iot',
      function (err) {
        linking = 0;
        if (err) return reconnect(err);
        mqtt.start();
      },
      identity.t,
      storageRead(STORAGE.ca) || '',
      // Issue 17: with identity.c the modem presents the client certificate `lonewatch flash` uploaded.
      identity.c,
    );
  };
  mqtt.onConnected = function () {
    tries = 0;
    mqtt.subscribe(commandTopic(id));
    mqtt.publish(statusTopic(id), '1', 1);
    core.link(true);
  };
  mqtt.onMessage = function (topic, payload) {
    if (topic === commandTopic(id)) core.command(payload);
  };
  mqtt.onClosed = function () {
    core.link(false);
    modem.close();
    // Closed before CONNACK (this edge accepted TCP but not the session: refused, or silent 30 s)
    // or after it (the session dropped): the next edge either way.
    reconnect('m');
  };
  modem.onData = mqtt.input;
  modem.onClosed = mqtt.close;
  if (btn)
    setWatch(
      function (e) {
        core.button(e.state);
      },
      btn,
      { edge: 'both', repeat: true, debounce: 25 },
    );
  core.start();
  link();
  booted('rak5010', identity, core, fault, led, 250);
}

main();
