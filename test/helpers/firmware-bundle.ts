/**
 * The real firmware build of a board, made once per content and kept between test files and runs.
 *
 * `buildFirmware` (firmware/build/build.ts) bundles, lowers to ES5 with TypeScript and minifies:
 * about a second a board plus loading the TypeScript compiler into the test's process, which a dozen
 * test files each paid for the same bytes (issue 18). The build is a pure function of its sources
 * and of the esbuild and TypeScript it runs, so its result is kept under a hash of exactly those:
 * any change to firmware/src, firmware/build, shared/ or either tool's version is a new hash, and so
 * a new build. The test global set-up (test/helpers/global-setup.ts) makes both boards' builds before
 * any file runs, so parallel files read the result instead of racing to make it.
 *
 * What is cached is the build's whole result (code, sizes, estimate, problems), never written to
 * firmware/dist. A build asked to measure on the interpreter is not cached: the tests of the build
 * itself (compat-check, measure-variables) call `buildFirmware` directly.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FirmwareBuild } from '../../firmware/build/build.js';
import type { Board } from '../../shared/protocol-core.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The usual place for tools' caches; removed by a fresh `npm ci`, never committed. */
export const FIRMWARE_CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'lonewatch-test-firmware');
/** What the build reads: its own code, the fob's sources and the shared protocol it compiles in. */
const INPUT_DIRS = ['firmware/src', 'firmware/build', 'shared'];
/** The tools whose output the bundle is. */
const TOOL_PACKAGES = ['esbuild', 'typescript'];

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** A hash of every input of the build: file names and contents, and the tools' versions. */
export function firmwareInputsHash(): string {
  const h = createHash('sha256');
  for (const dir of INPUT_DIRS) {
    for (const file of filesUnder(join(ROOT, dir))) {
      h.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  for (const pkg of TOOL_PACKAGES) {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string };
    h.update(`${pkg}@${version}\0`);
  }
  return h.digest('hex').slice(0, 16);
}

function cacheFile(board: Board, hash: string): string {
  return join(FIRMWARE_CACHE_DIR, `${board}-${hash}.json`);
}

const inProcess = new Map<string, Promise<FirmwareBuild>>();

/**
 * The build of `board` as `buildFirmware(board, { write: false })` returns it: from this process's
 * memory, else the cache file for the current sources, else built now (and the file written, by
 * rename, so that a file running beside this one reads a whole file or none).
 */
export function firmwareBundle(board: Board): Promise<FirmwareBuild> {
  const hash = firmwareInputsHash();
  const key = `${board}-${hash}`;
  let p = inProcess.get(key);
  if (!p) {
    p = loadOrBuild(board, hash);
    inProcess.set(key, p);
    p.catch(() => inProcess.delete(key));
  }
  return p;
}

async function loadOrBuild(board: Board, hash: string): Promise<FirmwareBuild> {
  const file = cacheFile(board, hash);
  if (existsSync(file)) {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as FirmwareBuild;
    if (cached.board === board && typeof cached.code === 'string') return cached;
  }
  // Imported here, not at the top: a file that reads the cache never loads the TypeScript compiler.
  const { buildFirmware } = await import('../../firmware/build/build.js');
  const build = await buildFirmware(board, { write: false });
  mkdirSync(FIRMWARE_CACHE_DIR, { recursive: true });
  // Older builds of this board are of sources that are gone: keep the folder to the current ones.
  for (const old of readdirSync(FIRMWARE_CACHE_DIR)) {
    if (old.startsWith(`${board}-`) && old !== `${board}-${hash}.json` && old.endsWith('.json')) rmSync(join(FIRMWARE_CACHE_DIR, old), { force: true });
  }
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(build));
  renameSync(tmp, file);
  return build;
}
