/* global navigator, TextDecoder, TextEncoder */
// The BLE link to the worker's Puck.js: Web Bluetooth, Nordic UART service. The fob writes one
// line per message, `<leaf> <json>\n` (shared/protocol-core.ts encodeUartLine); the phone writes
// commands back as `cmd <json>\n`. BLE delivers at most 20 bytes a notification, so lines are
// reassembled here and written in 20-byte chunks. The framing is the firmware's own
// (encodeUartLine / decodeUartLine from shared/protocol-core.ts, served by the hub), not a copy.
import { decodeUartLine, encodeUartLine } from '/protocol-core.js';

export const NUS_SERVICE = '6e400001-b5a3-f393-e0a9-e50e24dcca9e';
export const NUS_RX = '6e400002-b5a3-f393-e0a9-e50e24dcca9e'; // phone -> fob (write)
export const NUS_TX = '6e400003-b5a3-f393-e0a9-e50e24dcca9e'; // fob -> phone (notify)
const CHUNK = 20;

export class FobLink {
  constructor({ onLine, onState }) {
    this.onLine = onLine;
    this.onState = onState;
    this.device = null;
    this.rx = null;
    this.buffer = '';
    this.connected = false;
    this.writing = Promise.resolve();
    this.wanted = false;
    this.tx = null;
    this.onValue = (e) => this.received(new TextDecoder().decode(e.target.value));
  }

  static supported() {
    return typeof navigator !== 'undefined' && !!navigator.bluetooth;
  }

  /** Asks the worker to choose their fob (needs a tap), then connects. */
  async pair() {
    const device = await navigator.bluetooth.requestDevice({ filters: [{ namePrefix: 'Puck.js' }, { services: [NUS_SERVICE] }], optionalServices: [NUS_SERVICE] });
    return this.connect(device);
  }

  /** A fob paired before (Chrome remembers it): reconnect without a chooser. */
  async reconnectKnown() {
    if (this.device) return this.connect(this.device);
    if (!navigator.bluetooth.getDevices) return false;
    const known = await navigator.bluetooth.getDevices();
    const device = known.find((d) => (d.name ?? '').startsWith('Puck.js'));
    return device ? this.connect(device) : false;
  }

  async connect(device) {
    this.wanted = true;
    if (this.device !== device) {
      this.device = device;
      device.addEventListener('gattserverdisconnected', () => this.lost());
    }
    const server = await device.gatt.connect();
    const service = await server.getPrimaryService(NUS_SERVICE);
    this.rx = await service.getCharacteristic(NUS_RX);
    const tx = await service.getCharacteristic(NUS_TX);
    // One listener, ever: Chrome may hand back the same characteristic after a reconnect, and a
    // second listener would feed every notification in twice and garble the lines.
    if (this.tx) this.tx.removeEventListener('characteristicvaluechanged', this.onValue);
    this.tx = tx;
    // A new link starts a new stream of lines: emptied before notifications start, not after. The
    // fob's output held while nothing listened (Espruino queues UART output until notifications are
    // on) can arrive as notifications before startNotifications() resolves; emptying afterwards cut
    // the start off that first line (the fob's hello, or an alarm raised out of range), and it went
    // only at the fob's own retry, seconds later.
    this.buffer = '';
    tx.addEventListener('characteristicvaluechanged', this.onValue);
    await tx.startNotifications();
    this.connected = true;
    this.onState({ connected: true, name: device.name ?? 'fob' });
    return true;
  }

  lost() {
    if (!this.connected) return;
    this.connected = false;
    this.rx = null;
    this.onState({ connected: false, name: this.device?.name ?? 'fob', lost: this.wanted });
  }

  async disconnect() {
    this.wanted = false;
    if (this.device?.gatt?.connected) this.device.gatt.disconnect();
    this.lost();
  }

  received(text) {
    this.buffer += text;
    let nl = this.buffer.indexOf('\n');
    while (nl >= 0) {
      const line = decodeUartLine(this.buffer.slice(0, nl));
      this.buffer = this.buffer.slice(nl + 1);
      // Only the protocol's leaves (hb, ev, cmd, st, ps) reach the relay; other lines are dropped.
      if (line) this.onLine(line.leaf, line.json);
      nl = this.buffer.indexOf('\n');
    }
    if (this.buffer.length > 512) this.buffer = '';
  }

  /** Writes a command line to the fob; resolves false when the fob is not connected. */
  send(leaf, json) {
    const line = new TextEncoder().encode(encodeUartLine(leaf, json));
    this.writing = this.writing.then(async () => {
      if (!this.rx) return false;
      try {
        for (let at = 0; at < line.length; at += CHUNK) await this.rx.writeValue(line.slice(at, at + CHUNK));
        return true;
      } catch {
        return false;
      }
    });
    return this.writing;
  }
}
