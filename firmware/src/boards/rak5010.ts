/**
 * RAK5010 (nRF52840 + Quectel BG96 LTE-M): the fob talks straight to the hub over MQTT, through our
 * own BG96 driver and MQTT client. A dropped link is noticed by the keep-alive and re-established
 * with jittered back-off; the outbox re-sends whatever the hub has not acked.
 */
import { commandTopic, deviceTopic, statusTopic } from '../../../shared/protocol-core';
import { FobCore } from '../core/fob-core';
import type { Hal } from '../hal';
import { Bg96 } from '../drivers/bg96';
import { MqttClient } from '../drivers/mqtt-client';
import { exposeGlobal, readIdentity, startWatchdog, storageErase, storageList, storageRead, storageWrite, uptime } from './board-common';

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
  let backoff = 5000;
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
    storageErase: storageErase,
    storageList: storageList,
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

  const reconnect = function (): void {
    const wait = Math.round(backoff * (0.8 + 0.4 * Math.random()));
    backoff = Math.min(300000, backoff * 2);
    setTimeout(link, wait);
  };
  const link = function (): void {
    modem.connect(identity.h, identity.p, APN, function (err) {
      if (err) return reconnect();
      mqtt.start();
    });
  };
  mqtt.onConnected = function () {
    backoff = 5000;
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
    reconnect();
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
