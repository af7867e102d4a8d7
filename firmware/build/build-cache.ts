/**
 * The firmware build of a board, made once per content and kept between processes and runs.
 *
 * `buildFirmware` (build.ts) bundles, lowers to ES5 with TypeScript and minifies twice (esbuild,
 * terser): about a second a board plus loading the TypeScript compiler. The simulator built both
 * boards on every run, the load workers, the flash tool and a dozen test files did too, each for
 * the same bytes (issue 18: the suite on 2 cores). The build is a pure function of its sources and
 * of the tools it runs, so its result is kept under a hash of exactly those: any change to
 * firmware/src, firmware/build, shared/, the tsconfig files esbuild may read, or a tool's version is
 * a new hash, and so a new build.
 *
 * What is kept is the build's whole result (code, sizes, estimate, problems: a build with problems
 * is as pure as one without), never written to firmware/dist. A build asked to measure on the
 * interpreter (`lonewatch firmware build`) is not cached: it calls `buildFirmware` itself.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FirmwareBuild } from './build.js';
import type { Board } from '../../shared/protocol-core.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What the hash is of: files under `root`, and the versions of packages in root/node_modules. */
export interface BuildInputs {
  root: string;
  /** Files and folders (relative to root) the build reads: names and contents are hashed. */
  files: readonly string[];
  /** Packages the build runs: their versions are hashed. */
  tools: readonly string[];
}

export const FIRMWARE_BUILD_INPUTS: BuildInputs = {
  root: ROOT,
  // The build's own code, the fob's sources, the shared protocol it compiles in, and the tsconfig
  // files esbuild looks up beside the sources it bundles.
  files: ['firmware/src', 'firmware/build', 'shared', 'firmware/tsconfig.json', 'tsconfig.json'],
  // Every package build.ts and its passes import (esbuild, TypeScript, terser; acorn for the checks
  // and the alias passes, whose output is the bundle too).
  tools: ['esbuild', 'typescript', 'terser', 'acorn', 'acorn-walk'],
};

/** The usual place for tools' caches; removed by a fresh `npm ci`, never committed. */
export const FIRMWARE_CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'lonewatch-firmware');

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => filesUnder(join(path, name)));
}

/** A hash of every input of the build: file names and contents, and the tools' versions. */
export function firmwareInputsHash(inputs: BuildInputs = FIRMWARE_BUILD_INPUTS): string {
  const h = createHash('sha256');
  for (const entry of inputs.files) {
    for (const file of filesUnder(join(inputs.root, entry))) {
      h.update(relative(inputs.root, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  for (const pkg of inputs.tools) {
    const { version } = JSON.parse(readFileSync(join(inputs.root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string };
    h.update(`${pkg}@${version}\0`);
  }
  return h.digest('hex').slice(0, 16);
}

export interface BuildCacheOptions {
  inputs?: BuildInputs;
  cacheDir?: string;
  /** Makes the build on a miss; `buildFirmware(board, { write: false })` by default. */
  build?: (board: Board) => Promise<FirmwareBuild>;
}

// Imported when first needed, not at the top: a process that reads the cache never loads the
// build's tools (the TypeScript compiler alone is about half a second to load).
const realBuild = async (board: Board): Promise<FirmwareBuild> => {
  const { buildFirmware } = await import('./build.js');
  return buildFirmware(board, { write: false });
};

/** A cached file is used only if it reads as a whole build of the board asked for; else it is rebuilt. */
function readCached(file: string, board: Board): FirmwareBuild | null {
  if (!existsSync(file)) return null;
  try {
    const b = JSON.parse(readFileSync(file, 'utf8')) as Partial<FirmwareBuild>;
    const whole = b.board === board && typeof b.code === 'string' && typeof b.bytes === 'number' && typeof b.ok === 'boolean' && Array.isArray(b.problems);
    return whole ? (b as FirmwareBuild) : null;
  } catch {
    return null;
  }
}

/**
 * Writes by rename, so that a process reading beside this one sees a whole file or none. Older
 * builds of the board are of sources that are gone: the folder keeps only the current ones. A
 * folder that cannot be written (a read-only install) only means no caching.
 */
function writeCached(cacheDir: string, board: Board, hash: string, build: FirmwareBuild): void {
  const name = `${board}-${hash}.json`;
  const tmp = join(cacheDir, `${name}.${process.pid}.tmp`);
  try {
    mkdirSync(cacheDir, { recursive: true });
    for (const old of readdirSync(cacheDir)) {
      if (old.startsWith(`${board}-`) && old.endsWith('.json') && old !== name) rmSync(join(cacheDir, old), { force: true });
    }
    writeFileSync(tmp, JSON.stringify(build));
    renameSync(tmp, join(cacheDir, name));
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // No folder to leave a partial file in.
    }
  }
}

/**
 * A cached build function: from this cache's memory, else the cache file for the current inputs,
 * else built now (and the file written). Its own memory, so a test can make a second one to see
 * what a fresh process would read.
 */
export function createFirmwareBuildCache(o: BuildCacheOptions = {}): (board: Board) => Promise<FirmwareBuild> {
  const inputs = o.inputs ?? FIRMWARE_BUILD_INPUTS;
  const cacheDir = o.cacheDir ?? FIRMWARE_CACHE_DIR;
  const build = o.build ?? realBuild;
  const memory = new Map<string, Promise<FirmwareBuild>>();
  const loadOrBuild = async (board: Board, hash: string): Promise<FirmwareBuild> => {
    const cached = readCached(join(cacheDir, `${board}-${hash}.json`), board);
    if (cached) return cached;
    const built = await build(board);
    writeCached(cacheDir, board, hash, built);
    return built;
  };
  return (board) => {
    // Hashed at every call: a long-lived process (a test watcher) sees a changed source.
    const hash = firmwareInputsHash(inputs);
    const key = `${board}-${hash}`;
    let p = memory.get(key);
    if (!p) {
      p = loadOrBuild(board, hash);
      memory.set(key, p);
      p.catch(() => memory.delete(key));
    }
    return p;
  };
}

const defaultCache = createFirmwareBuildCache();

/** The build of `board` as `buildFirmware(board, { write: false })` returns it, cached (see above). */
export function cachedFirmwareBuild(board: Board): Promise<FirmwareBuild> {
  return defaultCache(board);
}
