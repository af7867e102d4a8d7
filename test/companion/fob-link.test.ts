// The phone's BLE link (hub/companion/public/fob-link.js) in Node. The radio is the edge: a stand-in
// for Web Bluetooth's GATT objects (Web Bluetooth spec: BluetoothRemoteGATTCharacteristic's
// startNotifications() and its characteristicvaluechanged events; Nordic UART service, notifications
// of at most 20 bytes) that, like Espruino, holds what the fob wrote while nothing listened and sends
// it once notifications are on, here before startNotifications() has resolved. The browser tests
// (companion-browser.test.ts) run the same module in Chromium against the emitted firmware.
import { describe, expect, it } from 'vitest';
import { FobLink, NUS_RX } from '../../hub/companion/public/fob-link.js';
import { encodeUartLine } from '../../shared/protocol-core.js';

type Listener = (e: { target: { value: DataView } }) => void;

/** A Puck.js on the Nordic UART service: what it writes before notifications are on waits. */
function fakeFob(held: string) {
  const listeners: Listener[] = [];
  const written: string[] = [];
  const notify = (text: string) => {
    for (let at = 0; at < text.length; at += 20) {
      const bytes = new TextEncoder().encode(text.slice(at, at + 20));
      for (const l of [...listeners]) l({ target: { value: new DataView(bytes.buffer) } });
    }
  };
  let rest = '';
  const tx = {
    addEventListener: (_t: string, fn: Listener) => void listeners.push(fn),
    removeEventListener: (_t: string, fn: Listener) => void listeners.splice(listeners.indexOf(fn), 1),
    // The first part of the held output arrives while the call is still pending, the rest after it
    // resolved: Web Bluetooth gives no order between the two.
    startNotifications: async () => {
      const cut = Math.floor(held.length / 2);
      notify(held.slice(0, cut));
      rest = held.slice(cut);
      return tx;
    },
  };
  const rx = { writeValue: async (bytes: Uint8Array) => void written.push(new TextDecoder().decode(bytes)) };
  const service = { getCharacteristic: async (uuid: string) => (uuid === NUS_RX ? rx : tx) };
  const device = {
    name: 'Puck.js a1b2',
    gatt: { connected: false, connect: async () => ({ getPrimaryService: async () => service }), disconnect: () => undefined },
    addEventListener: () => undefined,
  };
  return { device, written, sendRest: () => notify(rest), notify };
}

describe('the companion fob link', () => {
  it('a line the fob held while disconnected arrives whole, though half of it came before startNotifications() resolved', async () => {
    const hello = encodeUartLine('ev', JSON.stringify({ i: '1-0', k: 'hi', fw: '0.1.0', bd: 'puck', pv: 2, bc: 1, ag: 2 }));
    const fob = fakeFob(hello);
    const lines: [string, string][] = [];
    const link = new FobLink({ onLine: (leaf, json) => lines.push([leaf, json]), onState: () => undefined });
    expect(await link.connect(fob.device)).toBe(true);
    fob.sendRest();
    expect(lines).toEqual([['ev', JSON.stringify({ i: '1-0', k: 'hi', fw: '0.1.0', bd: 'puck', pv: 2, bc: 1, ag: 2 })]]);
  });

  it('a reconnect starts a new stream: a partial line cut off by the drop is not glued to the next', async () => {
    const fob = fakeFob('');
    const lines: [string, string][] = [];
    const link = new FobLink({ onLine: (leaf, json) => lines.push([leaf, json]), onState: () => undefined });
    await link.connect(fob.device);
    fob.notify('ev {"i":"1-3","k":"c'); // the link dropped mid-line
    await link.connect(fob.device);
    fob.notify(encodeUartLine('hb', '{"n":4,"b":80,"m":0,"u":9,"q":0}'));
    expect(lines).toEqual([['hb', '{"n":4,"b":80,"m":0,"u":9,"q":0}']]);
  });
});
