/**
 * A real hub with the companion registered, and a simulated Puck.js in the test process that a
 * page's `navigator.bluetooth` reaches: the only thing replaced in the browser tests is the radio.
 * The fob is the EMITTED firmware bundle on a simulated board (firmware/sim/espruino-sim.ts), so
 * every UART line the page receives is one the real firmware wrote.
 */
import type vm from 'node:vm';
import type { Page } from 'playwright-core';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SimulatedBoard } from '../../firmware/sim/espruino-sim.js';
import { GESTURE_PATTERNS } from '../../firmware/sim/puck-sim.js';
import { outboxEntries } from '../../firmware/sim/outbox-files.js';
import { createUser } from '../../hub/http/users.js';
import { TEST_PASSWORD_COST } from '../dashboard/api-client.js';
import { startTestHub, type TestHub, type TestHubOptions } from '../helpers/hub-harness.js';

export const PASSWORD = 'correct horse battery';

/** A real hub (the companion is part of it) on a manual clock. */
export async function startCompanionHub(opts: TestHubOptions = {}): Promise<TestHub> {
  return startTestHub({ manualClock: true, ...opts });
}

/** A worker account (as `lonewatch users add --role worker --worker <id>` makes). */
export async function addWorkerAccount(t: TestHub, username: string, workerId: string, name?: string): Promise<void> {
  if (!(await t.hub.store.read((tx) => tx.getWorker(workerId)))) await t.addWorker(workerId, name ? { name } : {});
  await createUser(t.hub.store, { username, role: 'worker', workerId, password: PASSWORD, ...(name ? { name } : {}) }, 'test', t.clock.now(), { passwordCost: TEST_PASSWORD_COST });
}

let script: vm.Script | null = null;
export async function puckScript(): Promise<vm.Script> {
  script ??= SimulatedBoard.compile((await cachedFirmwareBuild('puck')).code, 'puck.js');
  return script;
}

const PRESS_MS: Record<string, number> = { S: 150, L: 1500, H: 3200 };
const BLE_CHUNK = 20;

/**
 * navigator.bluetooth in the page: a Puck.js whose GATT traffic goes to the test process. Plain
 * JavaScript (a string), so nothing the test's compiler adds can leak into the page.
 */
const FAKE_BLUETOOTH = `(() => {
  const rec = { vibrations: [] };
  window.__lwRecord = rec;
  Object.defineProperty(navigator, 'vibrate', { configurable: true, value: (p) => (rec.vibrations.push(p), true) });
  const onValue = [];
  const onDisconnect = [];
  let connected = false;
  // Like Espruino's UART service, what the fob writes before the phone enables notifications waits.
  let notifying = false;
  const early = [];
  const deliver = (text) => {
    const bytes = new TextEncoder().encode(text);
    onValue.forEach((f) => f({ target: { value: new DataView(bytes.buffer) } }));
  };
  const tx = {
    // As in Chrome: the same characteristic object after a reconnect, EventTarget semantics.
    addEventListener: (_t, fn) => onValue.includes(fn) || onValue.push(fn),
    removeEventListener: (_t, fn) => onValue.includes(fn) && onValue.splice(onValue.indexOf(fn), 1),
    startNotifications: async () => {
      notifying = true;
      early.splice(0).forEach(deliver);
      return tx;
    },
  };
  const rx = { writeValue: async (bytes) => window.__lwFob('write', new TextDecoder().decode(bytes)) };
  const service = { getCharacteristic: async (uuid) => (uuid.startsWith('6e400002') ? rx : tx) };
  const server = { getPrimaryService: async () => service };
  const device = {
    id: 'sim-puck',
    name: 'Puck.js a1b2',
    gatt: {
      get connected() { return connected; },
      connect: async () => {
        // Out of range, the connection attempt fails (Web Bluetooth: BluetoothRemoteGATTServer
        // connect() rejects with a NetworkError when the device cannot be reached).
        if (!(await window.__lwFob('connect'))) throw new DOMException('Bluetooth Device is no longer in range.', 'NetworkError');
        connected = true;
        localStorage.setItem('__simPaired', '1');
        return server;
      },
      disconnect: () => {
        if (!connected) return;
        connected = false;
        notifying = false;
        window.__lwFob('disconnect');
        onDisconnect.forEach((f) => f());
      },
    },
    addEventListener: (t, fn) => { if (t === 'gattserverdisconnected') onDisconnect.push(fn); },
  };
  window.__lwFobNotify = (text) => (notifying ? deliver(text) : early.push(text));
  window.__lwFobDrop = () => {
    if (!connected) return;
    connected = false;
    notifying = false;
    onDisconnect.forEach((f) => f());
  };
  Object.defineProperty(navigator, 'bluetooth', {
    configurable: true,
    value: {
      requestDevice: async () => device,
      getDevices: async () => (localStorage.getItem('__simPaired') ? [device] : []),
    },
  });
})();`;

export class PageFob {
  readonly board: SimulatedBoard;
  readonly storage: Record<string, string>;
  /** Every line the fob wrote over the UART, as written. */
  readonly lines: string[] = [];
  private toPage = Promise.resolve();
  private partial = '';
  private ticker: NodeJS.Timeout;
  page: Page | null = null;
  /** Whether the phone can reach the fob: `drop()` takes it out of range until `backInRange()`. */
  private inRange = true;

  constructor(script: vm.Script, deviceId: string) {
    this.storage = { 'lw.json': JSON.stringify({ id: deviceId, pw: 'unused-on-a-puck', h: '', p: 0 }) };
    this.board = new SimulatedBoard(script, this.storage, { uart: (data) => this.fromFirmware(data) });
    this.board.boot();
    // The board's clock follows real time, so the fob's retries and heartbeats happen as they would.
    this.ticker = setInterval(() => this.board.advance(100), 100);
  }

  /** Installs the fake radio in the page (before its scripts run). */
  async attach(page: Page): Promise<void> {
    this.page = page;
    await page.exposeBinding('__lwFob', async (_src, op: string, arg?: string) => {
      if (op === 'connect') {
        if (!this.inRange) return false;
        this.board.bleConnect(true);
        return true;
      } else if (op === 'disconnect') this.board.bleConnect(false);
      else if (op === 'write' && arg !== undefined) this.board.uartReceive(arg);
    });
    await page.addInitScript({ content: FAKE_BLUETOOTH });
  }

  private fromFirmware(data: string): void {
    this.partial += data;
    let nl = this.partial.indexOf('\n');
    while (nl >= 0) {
      this.lines.push(this.partial.slice(0, nl + 1));
      this.partial = this.partial.slice(nl + 1);
      nl = this.partial.indexOf('\n');
    }
    // Over the air in 20-byte notifications, in order.
    for (let at = 0; at < data.length; at += BLE_CHUNK) {
      const chunk = data.slice(at, at + BLE_CHUNK);
      this.toPage = this.toPage.then(() => this.page?.evaluate((t) => (globalThis as unknown as { __lwFobNotify(t: string): void }).__lwFobNotify(t), chunk).then(() => undefined, () => undefined));
    }
  }

  /** A gesture as a worker performs it (docs/fob.md timings). */
  gesture(name: keyof typeof GESTURE_PATTERNS): void {
    for (const c of GESTURE_PATTERNS[name]) {
      this.board.press(PRESS_MS[c]);
      this.board.advance(250);
    }
    this.board.advance(1000);
  }

  /**
   * The fob goes out of range of the phone, and stays out of it (the phone's reconnect attempts fail)
   * until `backInRange()`: the phone's own 5-second reconnect timer could otherwise bring it back
   * before the test has looked at the "lost" state (it did, in a run under load).
   */
  async drop(): Promise<void> {
    this.inRange = false;
    this.board.bleConnect(false);
    await this.page?.evaluate(() => (globalThis as unknown as { __lwFobDrop(): void }).__lwFobDrop());
  }

  /** The fob is back in range: the phone's next reconnect attempt reaches it. */
  backInRange(): void {
    this.inRange = true;
  }

  outboxLength(): number {
    return outboxEntries(this.storage).length;
  }

  /** Distinct events the fob sent (retries of one id count once). */
  events(kind?: string): { i: string; k: string }[] {
    const seen = new Set<string>();
    return this.lines
      .filter((l) => l.startsWith('ev '))
      .map((l) => JSON.parse(l.slice(3)) as { i: string; k: string })
      .filter((e) => (!kind || e.k === kind) && !seen.has(e.i) && seen.add(e.i) !== undefined);
  }

  stop(): void {
    clearInterval(this.ticker);
    this.page = null;
  }
}
