/**
 * Runs `lonewatch flash` in the test's own process (issue 14 part 4: a spawned CLI adds a Node and
 * tsx start to every run and tests nothing more: the same command, serialport and EspruinoTools
 * stack run here, to the same pty).
 *
 * The firmware it flashes is the real build. The contract with the firmware (issue 14) is that it
 * prints `LW:up <version> <board> <deviceId>` and sets LW.up = 1 once its hardware is set up and its
 * core started. Until the firmware's own change is in, a bundle that does not print it yet gets the
 * contract's line appended here, after the bundle's own code: Espruino stops a boot file at its
 * first uncaught exception, so the line comes only from a bundle that set its hardware up without
 * one, as the firmware's will. Once the bundle prints LW:up itself, the real bundle is flashed as is.
 */
import { PassThrough } from 'node:stream';
import { runFlashInProcess } from '../../../firmware/flash/flash-command.js';
import { buildFirmware } from '../../../firmware/build/build.js';

type Board = 'puck' | 'rak5010';
const builds = new Map<Board, Awaited<ReturnType<typeof buildFirmware>>>();

export const UP_LINE_SHIM = `;if(typeof LW!=="undefined"&&!LW.up){LW.up=1;print("LW:up "+LW.v+" "+process.env.BOARD+" "+LW.id);}`;

/** The real bundle, with the LW:up line of the contract if it does not print one itself. */
export async function contractBuild(board: Board): Promise<Awaited<ReturnType<typeof buildFirmware>>> {
  let b = builds.get(board);
  if (!b) {
    b = await buildFirmware(board, { write: false });
    builds.set(board, b);
  }
  if (b.code.includes('LW:up')) return b;
  return { ...b, code: b.code + UP_LINE_SHIM, bytes: Buffer.byteLength(b.code + UP_LINE_SHIM) };
}

export interface FlashRun {
  done: Promise<{ code: number; stdout: string; stderr: string }>;
  /** The engineer's keyboard (batch prompts). */
  stdin: PassThrough;
  output(): string;
  waitForOutput(re: RegExp, ms?: number): Promise<void>;
}

/** `lonewatch flash ARGS` (without the word flash) in-process, with env set for its duration. */
type BuildOption = 'contract' | 'real' | ((board: Board) => ReturnType<typeof contractBuild>);

/** A bundle of the test's own (a firmware that faults, or moves its console), shaped as a build. */
export function testBundle(code: string): (board: Board) => ReturnType<typeof contractBuild> {
  return async (board) => ({ ...(await contractBuild(board)), code, bytes: Buffer.byteLength(code) });
}

export function flashRun(args: string[], env: Record<string, string> = {}, o: { build?: BuildOption } = {}): FlashRun {
  const stdin = new PassThrough();
  let all = '';
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  const done = runFlashInProcess(args, {
    stdin,
    ...(o.build === 'real' ? {} : { withBuild: typeof o.build === 'function' ? o.build : contractBuild }),
    onOutput: (text) => (all = text),
  }).finally(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  return {
    done,
    stdin,
    output: () => all,
    async waitForOutput(re, ms = 20_000) {
      const end = Date.now() + ms;
      while (!re.test(all)) {
        if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${re} in:\n${all}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

export function flash(args: string[], env: Record<string, string> = {}, o: { build?: BuildOption } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return flashRun(args, env, o).done;
}
