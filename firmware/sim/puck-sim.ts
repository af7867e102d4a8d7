/**
 * A simulated Puck.js running the emitted bundle, with its UART lines decoded: what the phone
 * relay would see. Used by the firmware tests and by the simulator's firmware-backed fobs.
 */
import type vm from 'node:vm';
import { decodeUartLine, encodeUartLine } from '../../shared/protocol-core.js';
import { SimulatedBoard, type StorageFiles } from './espruino-sim.js';
import type { BleCentral } from './ble-security.js';

export interface UartMessage {
  leaf: string;
  json: string;
  at: number;
}

export class SimulatedPuck {
  board: SimulatedBoard;
  /** Every message the fob sent over the UART, decoded. */
  readonly sent: UartMessage[] = [];
  onMessage: ((m: UartMessage) => void) | null = null;
  resets = 0;
  private partial = '';

  constructor(
    private readonly script: vm.Script,
    readonly storage: StorageFiles,
  ) {
    this.board = this.makeBoard();
  }

  private makeBoard(): SimulatedBoard {
    return new SimulatedBoard(this.script, this.storage, {
      uart: (data) => this.onUart(data),
      watchdogReset: () => this.reboot(),
    });
  }

  boot(): void {
    this.board.boot();
  }

  /** Power-cycle (or a watchdog reset): a new board on the same flash. */
  reboot(): void {
    this.resets++;
    const connected = this.connected;
    const bonds = this.board.bonds;
    this.board.clock.clearAll();
    this.board = this.makeBoard();
    // Bonds live in the nRF52's flash (peer manager), not in the JavaScript state: they survive.
    this.board.bonds = bonds;
    this.board.boot();
    if (connected) this.board.bleConnect(true, this.central);
  }

  private connected = false;
  private central: BleCentral = { id: 'phone' };

  /**
   * The phone connects (or the link drops). central: which phone and what its user types when it
   * asks to pair (firmware/sim/ble-security.ts); default an unpaired phone.
   */
  link(up: boolean, central: BleCentral = { id: 'phone' }): void {
    this.connected = up;
    if (up) this.central = central;
    this.board.bleConnect(up, central);
  }

  /** A command from the hub, as the relay writes it. */
  command(json: string): void {
    this.board.uartReceive(encodeUartLine('cmd', json));
  }

  private onUart(data: string): void {
    this.partial += data;
    let nl = this.partial.indexOf('\n');
    while (nl >= 0) {
      const line = decodeUartLine(this.partial.slice(0, nl));
      this.partial = this.partial.slice(nl + 1);
      if (line) {
        const m = { leaf: line.leaf, json: line.json, at: this.board.clock.now() };
        this.sent.push(m);
        this.onMessage?.(m);
      }
      nl = this.partial.indexOf('\n');
    }
  }

  /** Every event send, retries included. */
  sends(kind?: string): { i: string; k: string; ag: number; [k: string]: unknown }[] {
    return this.sent.filter((m) => m.leaf === 'ev').map((m) => JSON.parse(m.json)).filter((e) => !kind || e.k === kind);
  }

  /** Distinct events (first send of each id), in the order raised. */
  events(kind?: string): { i: string; k: string; ag: number; [k: string]: unknown }[] {
    const seen = new Set<string>();
    return this.sends(kind).filter((e) => !seen.has(e.i) && seen.add(e.i) !== undefined);
  }

  advance(ms: number): void {
    this.board.advance(ms);
  }

  /** Gestures as a worker performs them (timings from docs/fob.md). */
  gesture(pattern: string): void {
    for (const c of pattern) {
      if (c === 'S') this.board.press(150);
      else if (c === 'L') this.board.press(1500);
      else if (c === 'H') this.board.press(3200);
      this.board.advance(250);
    }
    this.board.advance(1000);
  }
}

export const GESTURE_PATTERNS: Record<string, string> = {
  loud_sos: 'H',
  covert_sos: 'SSSS',
  checkin: 'SS',
  visit_start: 'SSS',
  visit_end: 'SSS',
  cancel: 'SSL',
  extend: 'SL',
  end_of_shift: 'SSSL',
};
