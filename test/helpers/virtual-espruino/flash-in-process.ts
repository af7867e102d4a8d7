/**
 * Runs `lonewatch flash` in the test's own process (issue 14 part 4: a spawned CLI adds a Node and
 * tsx start to every run and tests nothing more: the same command, serialport and EspruinoTools
 * stack run here, to the same pty).
 *
 * The firmware it flashes is the real build, as is: the firmware prints its own boot record
 * `LW:up <version> <board> <deviceId>` (firmware/src/boards/board-common.ts booted()), so no
 * stand-in line is added to it. The build is made once per board and content and kept across the
 * run's files (firmware/build/build-cache.ts).
 */
import { PassThrough } from 'node:stream';
import { runFlashInProcess } from '../../../firmware/flash/flash-command.js';
import type { FirmwareBuild } from '../../../firmware/build/build.js';
import { cachedFirmwareBuild } from '../../../firmware/build/build-cache.js';

type Board = 'puck' | 'rak5010';

/** The real bundle of a board (the cached build of the current sources, not written to firmware/dist). */
export function firmwareBuild(board: Board): Promise<FirmwareBuild> {
  return cachedFirmwareBuild(board);
}

export interface FlashRun {
  done: Promise<{ code: number; stdout: string; stderr: string }>;
  /** The engineer's keyboard (batch prompts). */
  stdin: PassThrough;
  output(): string;
  waitForOutput(re: RegExp, ms?: number): Promise<void>;
}

/** `lonewatch flash ARGS` (without the word flash) in-process, with env set for its duration. */
/** 'real' (the default here: the cached real build) or 'tool' (the command's own build, cached the same way), or a test bundle. */
type BuildOption = 'real' | 'tool' | ((board: Board) => ReturnType<typeof firmwareBuild>);

/** A bundle of the test's own (a firmware that faults, or moves its console), shaped as a build. */
export function testBundle(code: string): (board: Board) => ReturnType<typeof firmwareBuild> {
  return async (board) => ({ ...(await firmwareBuild(board)), code, bytes: Buffer.byteLength(code) });
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
    ...(o.build === 'tool' ? {} : { withBuild: typeof o.build === 'function' ? o.build : firmwareBuild }),
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
