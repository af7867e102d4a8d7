/**
 * Puck.js (nRF52832): the fob talks to the worker's phone over the Nordic UART, one line per
 * message (`ev {...}`), and the phone relays to the hub. Advertising carries battery and state so
 * the phone sees the fob even between connections. The console is moved off Bluetooth so nobody
 * nearby can open a REPL on the fob, and (issue 17) the UART needs a phone paired with the fob's
 * passkey.
 */
import { decodeUartLine, encodeUartLine, TOPIC } from '../../../shared/protocol-core';
import { fobCore } from '../core/fob-core';
import type { Hal } from '../hal';
import { PUCK_WIRING } from '../wiring';
import { NOT_PROVISIONED, booted, readIdentity, resolveWiring, startWatchdog, storageErase, storageList, storageRead, storageWrite, uptime } from './board-common';

function main(): void {
  // Lock the console: Bluetooth data goes to the fob's code, never to a REPL.
  E.setConsole('Serial1', { force: true });
  startWatchdog();
  const identity = readIdentity();
  // Every pin by name, from the identity's wiring or the defaults; a pin that did not resolve is
  // left alone (its role does nothing) and reported (see booted()).
  const wiring = resolveWiring(identity, PUCK_WIRING);
  const btn = wiring[0];
  const buzzer = wiring[1];
  const motor = wiring[2];
  const led = wiring[3];
  const fault = wiring[5] as string;
  // batt (wiring[4]) is not fitted on a Puck.js: E.getBattery() measures the cell.
  // Not provisioned: the boot record is a fault, which names no board.
  if (!identity) return booted('', null, null, NOT_PROVISIONED, led, 2000);
  // Issue 17: the phone must pair with the passkey written at flashing (lw.json pk) before the
  // Nordic UART carries anything. Espruino's reference (NRF.setSecurity): a passkey needs display:1
  // (the fob "shows" it: the worker was given it at flashing); with a passkey Espruino sets the UART
  // service to require an encrypted, bonded link (targets/nrf5x/bluetooth.c jsble_update_security:
  // a passkey sets encryptUart). mitm:1 so the pairing cannot fall back to Just Works; lesc:1 for LE
  // Secure Connections (ECDH) where the phone has it, else legacy passkey pairing; bond (the
  // default) so the phone reconnects encrypted without the passkey again.
  if (identity.pk) NRF.setSecurity({ passkey: identity.pk, mitm: 1, display: 1, lesc: 1 });
  let connected = false;
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
    battery: function () {
      return E.getBattery();
    },
    storageRead: storageRead,
    storageWrite: storageWrite,
    storageErase: storageErase,
    storageList: storageList,
    _kick: E.kickWatchdog,
    _random: Math.random,
    // Between connections the phone sees the fob's state in its advertising: battery, worn, counter
    // (Espruino's own company id 0x0590), every 1 s rather than the default 375 ms to save power.
    beacon: function (b, m, n) {
      NRF.setAdvertising({}, { manufacturer: 0x0590, manufacturerData: [b, m, n & 255], interval: 1000 });
    },
    transport: {
      send: function (leaf, json) {
        if (!connected) return false;
        Bluetooth.write(encodeUartLine(leaf, json));
        return true;
      },
      isUp: function () {
        return connected;
      },
    },
  };
  const core = fobCore(hal, 'puck', fault);

  NRF.on('connect', function () {
    connected = true;
    core.link(true);
  });
  NRF.on('disconnect', function () {
    connected = false;
    core.link(false);
  });
  let buffer = '';
  Bluetooth.on('data', function (data) {
    buffer += data;
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = decodeUartLine(buffer.substr(0, nl));
      buffer = buffer.substr(nl + 1);
      if (line && line.leaf === TOPIC.command) core.command(line.json);
      else core.stats.badCommands++;
      nl = buffer.indexOf('\n');
    }
    if (buffer.length > 256) buffer = '';
  });
  if (btn)
    setWatch(
      function (e) {
        core.button(e.state);
      },
      btn,
      { edge: 'both', repeat: true, debounce: 25 },
    );
  // Movement for man-down and for "worn" in heartbeats: a change of more than ~0.1 g.
  let last = 0;
  Puck.accelOn(1.6);
  Puck.on('accel', function (a) {
    const m = Math.abs(a.acc.x) + Math.abs(a.acc.y) + Math.abs(a.acc.z);
    if (Math.abs(m - last) > 800) core.movement();
    last = m;
  });
  core.start();
  booted('puck', identity, core, fault, led, 250);
}

main();
