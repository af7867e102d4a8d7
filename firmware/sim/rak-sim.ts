/**
 * A simulated RAK5010: the emitted bundle on a simulated board whose Serial1 is wired to a simulated
 * BG96 with real TCP. Time on the board is virtual; the network is real, so `run` advances the
 * board in small steps and lets real I/O happen between them.
 */
import type vm from 'node:vm';
import { SimulatedBoard, type StorageFiles } from './espruino-sim.js';
import { SimulatedBg96 } from './bg96-sim.js';

export class SimulatedRak {
  board: SimulatedBoard;
  readonly modem: SimulatedBg96;
  resets = 0;

  constructor(
    private readonly script: vm.Script,
    readonly storage: StorageFiles,
  ) {
    // The modem's delays run on the board's virtual clock (read at each call: a reboot replaces the board).
    this.modem = new SimulatedBg96(
      (d) => this.board.serialReceive(d),
      (fn, ms) => void this.board.clock.set(fn, ms),
    );
    this.board = this.makeBoard();
  }

  private makeBoard(): SimulatedBoard {
    return new SimulatedBoard(this.script, this.storage, { serial1: (d) => this.modem.input(d), watchdogReset: () => this.reboot() }, 'RAK5010');
  }

  boot(): void {
    this.board.boot();
  }

  reboot(): void {
    this.resets++;
    this.board.clock.clearAll();
    this.modem.close();
    this.board = this.makeBoard();
    this.board.boot();
  }

  /** Advances the board's clock by ms in steps, with real time for the network in between. */
  async run(ms: number, stepMs = 100): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      this.board.advance(Math.min(stepMs, ms - t));
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Runs until pred() holds or ms of board time pass. */
  async until(pred: () => boolean, ms: number): Promise<boolean> {
    for (let t = 0; t < ms; t += 100) {
      if (pred()) return true;
      await this.run(100);
    }
    return pred();
  }

  async hold(ms: number): Promise<void> {
    this.board.button(true);
    await this.run(ms, 50);
    this.board.button(false);
  }

  /** Gestures as a worker performs them: S short, L long, H hold (3 s). */
  async gesture(pattern: string): Promise<void> {
    for (const c of pattern) {
      await this.hold(c === 'S' ? 150 : c === 'L' ? 1500 : 3200);
      await this.run(250, 50);
    }
    await this.run(1000);
  }

  stop(): void {
    this.board.clock.clearAll();
    this.modem.close();
  }
}
