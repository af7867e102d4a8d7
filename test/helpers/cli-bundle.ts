/**
 * The `lonewatch` command compiled once per test run, for the cluster's node processes (issue 18:
 * `npm test` on 2 cores).
 *
 * `bin/lonewatch.js` runs the TypeScript sources through tsx: every module the command loads goes
 * through tsx's loader hooks, about 1.5 CPU-s for a cluster node to load the hub (0.8 CPU-s from one
 * bundle, measured 2026-12-02 on this machine), and the cluster files start dozens of nodes (two
 * edges and two workers per cluster, again after each kill -9). So the global set-up bundles the
 * same sources with esbuild, the same compiler tsx uses, and `LocalCluster.start({ cli })` runs the
 * bundle instead. The code is the same modules, in the same order of evaluation; what differs is
 * only how they are loaded. The forked hub of the restart tests (test/helpers/hub-child.ts) is
 * bundled beside it. The tests that check the command itself (test/cli.test.ts,
 * hub-cli, hub-hardening, cli-through-hub, hub-postgres, admin-live-browser) still spawn
 * bin/lonewatch.js as an operator does.
 *
 * The hub finds its dashboard, the companion's files, Leaflet and the firmware sources beside its
 * own modules (`new URL('../dashboard/public/', import.meta.url)`). In a bundle `import.meta.url`
 * would be the bundle's address, so each module's `import.meta.url` is replaced by the address of
 * the source file it was written in, and every such path stays what it is under tsx.
 *
 * Packages stay outside the bundle (`packages: 'external'`): they are loaded from node_modules as
 * under tsx, native ones included (better-sqlite3). Lazily loaded commands stay lazy (`splitting`).
 */
import { build, type Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Each module's import.meta.url is its own source file's address, as it is under tsx. */
const sourceUrls: Plugin = {
  name: 'source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${ROOT}node_modules/`)) return undefined;
      const text = await readFile(args.path, 'utf8');
      return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

/** What the bundle holds, by output name: `<outDir>/<name>.mjs`. */
const ENTRIES = {
  // `node lonewatch.mjs <command> ...`: bin/lonewatch.js's command.
  lonewatch: 'test/helpers/lonewatch-main.ts',
  // The forked hub of the restart and kill -9 tests (test/helpers/hub-child-process.ts).
  'hub-child': 'test/helpers/hub-child.ts',
};

/**
 * Bundles the entries into `outDir` (emptied first) and returns the command's entry, to run with
 * `node <entry> <command> ...`; the hub child is `hub-child.mjs` beside it (`hubChildBundle`).
 */
export async function buildCliBundle(outDir: string): Promise<string> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, join(ROOT, file)])),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outdir: outDir,
    // .mjs: ES modules wherever the folder is (no package.json "type" needed).
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
    plugins: [sourceUrls],
  });
  return join(outDir, 'lonewatch.mjs');
}

/** The hub child's bundle beside a command bundle from buildCliBundle, or null without one. */
export function hubChildBundle(cliBundle: string): string | null {
  return cliBundle ? join(dirname(cliBundle), 'hub-child.mjs') : null;
}
