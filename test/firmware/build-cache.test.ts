/**
 * The firmware build cache (firmware/build/build-cache.ts, issue 18), on inputs of the test's own:
 * a temporary folder of "sources" and a fake tool, and a fake build that counts its calls. A second
 * cache on the same folder stands for the next process: it has none of the first one's memory.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFirmwareBuildCache, FIRMWARE_BUILD_INPUTS, firmwareInputsHash, type BuildInputs } from '../../firmware/build/build-cache.js';
import type { FirmwareBuild } from '../../firmware/build/build.js';
import type { Board } from '../../shared/protocol-core.js';

let dir = '';
let inputs: BuildInputs;
let cacheDir = '';
let calls: Board[] = [];

/** A build whose code says which call made it, so a read and a rebuild tell apart. */
async function fakeBuild(board: Board): Promise<FirmwareBuild> {
  calls.push(board);
  const code = `print("build ${calls.length} of ${readFileSync(join(dir, 'src', 'main.ts'), 'utf8')}")`;
  return { board, code, bytes: code.length, budgetBytes: 100, variables: 1, variableBudget: 10, mangled: {}, problems: [], ok: true, file: '' };
}

const newCache = (o: { cacheDir?: string; build?: (b: Board) => Promise<FirmwareBuild> } = {}) => createFirmwareBuildCache({ inputs, cacheDir, build: fakeBuild, ...o });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lonewatch-build-cache-'));
  mkdirSync(join(dir, 'src', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'src', 'main.ts'), 'one');
  writeFileSync(join(dir, 'src', 'sub', 'part.ts'), 'part');
  mkdirSync(join(dir, 'node_modules', 'fake-tool'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'fake-tool', 'package.json'), JSON.stringify({ version: '1.0.0' }));
  inputs = { root: dir, files: ['src'], tools: ['fake-tool'] };
  cacheDir = join(dir, 'cache');
  calls = [];
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the firmware build cache', () => {
  it('builds once for the same inputs: the same process remembers it, the next one reads the file', async () => {
    const first = await newCache()('puck');
    expect(calls).toEqual(['puck']);
    expect(readdirSync(cacheDir)).toEqual([`puck-${firmwareInputsHash(inputs)}.json`]);
    const again = newCache();
    expect(await again('puck')).toEqual(first);
    expect(await again('puck')).toEqual(first);
    expect(calls).toEqual(['puck']);
    // Each board is a build of its own.
    await again('rak5010');
    expect(calls).toEqual(['puck', 'rak5010']);
  });

  it('a changed, added or renamed source, or a new tool version, is a new hash and a new build', async () => {
    const hashes = [firmwareInputsHash(inputs)];
    writeFileSync(join(dir, 'src', 'main.ts'), 'two');
    hashes.push(firmwareInputsHash(inputs));
    writeFileSync(join(dir, 'src', 'sub', 'new.ts'), '');
    hashes.push(firmwareInputsHash(inputs));
    rmSync(join(dir, 'src', 'sub', 'new.ts'));
    writeFileSync(join(dir, 'src', 'sub', 'renamed.ts'), '');
    hashes.push(firmwareInputsHash(inputs));
    writeFileSync(join(dir, 'node_modules', 'fake-tool', 'package.json'), JSON.stringify({ version: '1.0.1' }));
    hashes.push(firmwareInputsHash(inputs));
    expect(new Set(hashes).size).toBe(hashes.length);
    expect(firmwareInputsHash(inputs)).toBe(hashes.at(-1));

    writeFileSync(join(dir, 'src', 'main.ts'), 'one');
    const cache = newCache();
    const before = await cache('puck');
    writeFileSync(join(dir, 'src', 'main.ts'), 'three');
    // The same cache (a long-lived process) sees the change too.
    const after = await cache('puck');
    expect(calls).toEqual(['puck', 'puck']);
    expect(before.code).toContain('of one');
    expect(after.code).toContain('build 2 of three');
    // The older build's file is gone: its sources are.
    expect(readdirSync(cacheDir)).toEqual([`puck-${firmwareInputsHash(inputs)}.json`]);
  });

  it.each([
    ['cut short', (text: string) => text.slice(0, text.length / 2)],
    ['not JSON', () => '\0\0\0'],
    ['of another board', (text: string) => JSON.stringify({ ...(JSON.parse(text) as object), board: 'rak5010' })],
    ['without code', (text: string) => JSON.stringify({ ...(JSON.parse(text) as object), code: null })],
  ])('a cache file %s is rebuilt and rewritten, not trusted', async (_what, spoil) => {
    await newCache()('puck');
    const file = join(cacheDir, `puck-${firmwareInputsHash(inputs)}.json`);
    writeFileSync(file, spoil(readFileSync(file, 'utf8')));
    const rebuilt = await newCache()('puck');
    expect(calls).toEqual(['puck', 'puck']);
    expect(rebuilt.code).toContain('build 2');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(rebuilt);
  });

  it('a cache folder that cannot be written only means no caching', async () => {
    // A regular file where the folder's parent should be: no mkdir can succeed, even as root.
    writeFileSync(join(dir, 'not-a-dir'), '');
    const unwritable = join(dir, 'not-a-dir', 'cache');
    const b = await newCache({ cacheDir: unwritable })('puck');
    expect(b.code).toContain('build 1');
    await newCache({ cacheDir: unwritable })('puck');
    expect(calls).toEqual(['puck', 'puck']);
  });

  it('a build that throws is not remembered: the next call builds again', async () => {
    let fail = true;
    const cache = newCache({ build: (board) => (fail ? Promise.reject(new Error('esbuild missing')) : fakeBuild(board)) });
    await expect(cache('puck')).rejects.toThrow('esbuild missing');
    fail = false;
    expect((await cache('puck')).code).toContain('build 1');
  });

  it('the real inputs name every package the build imports', () => {
    const buildDir = new URL('../../firmware/build/', import.meta.url);
    const imported = new Set<string>();
    for (const name of readdirSync(buildDir).filter((n) => n.endsWith('.ts'))) {
      const text = readFileSync(new URL(name, buildDir), 'utf8');
      for (const m of text.matchAll(/(?:from |import\()'([^.'][^']*)'/g)) if (!m[1].startsWith('node:')) imported.add(m[1].split('/')[0]);
    }
    expect(imported.size).toBeGreaterThan(0);
    expect([...imported].filter((pkg) => !FIRMWARE_BUILD_INPUTS.tools.includes(pkg))).toEqual([]);
    expect(firmwareInputsHash()).toMatch(/^[0-9a-f]{16}$/);
  });
});
