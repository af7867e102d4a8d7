/**
 * RAK5010 (nRF52840 + Quectel BG96 LTE-M): the fob talks straight to the hub over MQTT, through our
 * own BG96 driver and MQTT client. A dropped link is noticed by the keep-alive (or the modem's URCs)
 * and re-established with jittered back-off, short when the hub refused, long when the network is
 * missing; the outbox re-sends whatever the hub has not acked.
 */
import { commandTopic, deviceTopic, statusTopic } from '../../../shared/protocol-core';
import { FobCore } from '../core/fob-core';
import { STORAGE, type Hal } from '../hal';
import { Bg96 } from '../drivers/bg96';
import { MqttClient } from '../drivers/mqtt-client';
import { exposeGlobal, readIdentity, startWatchdog, storageRead, storageWrite, uptime } from './board-common';

const BUZZER = D1;
const MOTOR = D2;
const BATTERY = D5;
const APN = 'iot';

function main(): void {
  startWatchdog();
  const identity = readIdentity();
  if (!identity) {
    exposeGlobal(null, null);
    return;
  }
  const id = identity.id;
  Serial1.setup(115200, { rx: D6, tx: D7 });
  const modem = new Bg96(Serial1, setTimeout, clearTimeout);
  Serial1.on('data', function (d) {
    modem.input(d);
  });
  /** Failed link attempts since the last MQTT session came up: the back-off grows with them. */
  let tries = 0;
  const mqtt = new MqttClient(
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
  const hal: Hal = {
    uptime: uptime,
    setTimeout: function (fn, ms) {
      return setTimeout(fn, ms);
    },
    clearTimeout: function (t) {
      clearTimeout(t);
    },
    buzz: function (on) {
      if (on) analogWrite(BUZZER, 0.5, { freq: 2700 });
      else digitalWrite(BUZZER, 0);
    },
    vibrate: function (ms) {
      digitalPulse(MOTOR, 1, ms);
    },
    led: function (on) {
      digitalWrite(LED1, on ? 1 : 0);
    },
    // 3.0 V (empty) to 4.2 V (full) through a 1:2 divider on the 3.3 V ADC.
    battery: function () {
      return Math.max(0, Math.min(100, ((analogRead(BATTERY) * 6.6 - 3.0) / 1.2) * 100));
    },
    storageRead: storageRead,
    storageWrite: storageWrite,
    kickWatchdog: function () {
      E.kickWatchdog();
    },
    random: Math.random,
    transport: {
      send: function (leaf, json, qos) {
        if (!mqtt.connected) return false;
        mqtt.publish(deviceTopic(id, leaf), json, qos);
        return true;
      },
      isUp: function () {
        return mqtt.connected;
      },
    },
  };
  const core = new FobCore(hal, 'rak5010');
  exposeGlobal(identity, core);

  // Issue 14: the network is there but the hub refused or did not answer (it is restarting): try
  // again within seconds, 2-3 s first, doubling to at most 6-9 s, so an alarm raised meanwhile
  // reaches the hub within seconds of its return. No network registration ('reg'): nothing to try
  // for a while; 30-45 s, doubling to at most 300-450 s, spares the battery. Jitter (x1 to x1.5)
  // keeps a fleet from reconnecting in step.
  const reconnect = function (err: string): void {
    const reg = err === 'reg';
    const wait = Math.min(reg ? 300000 : 6000, (reg ? 30000 : 2000) << Math.min(tries++, 4));
    setTimeout(link, wait * (1 + 0.5 * Math.random()));
  };
  const link = function (): void {
    // Issue 17: with identity.t the link is TLS through the BG96's SSL stack, pinned to the CA the
    // flashing tool wrote (uploaded to the modem when it lacks it); a missing CA file fails the upload.
    modem.connect(
      identity.h,
      identity.p,
      APN,
      function (err) {
        if (err) return reconnect(err);
        mqtt.start();
      },
      identity.t,
      storageRead(STORAGE.ca) || '',
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
    reconnect('');
  };
  modem.onData = function (d) {
    mqtt.input(d);
  };
  modem.onClosed = function () {
    mqtt.close();
  };
  setWatch(
    function (e) {
      core.button(e.state);
    },
    BTN,
    { edge: 'both', repeat: true, debounce: 25 },
  );
  core.start();
  link();
}

main();
