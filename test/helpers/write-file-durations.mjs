#!/usr/bin/env node
// Writes test/file-durations.json from vitest's results cache of the last run (node_modules/.vite/
// vitest/*/results.json): each test file's duration, in whole ms, for test/helpers/duration-sequencer.ts.
// Run it after a full `npm test` that passed, and commit the file with the change that moved the figures.
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const cacheDir = join(root, 'node_modules/.vite/vitest');
const caches = existsSync(cacheDir) ? readdirSync(cacheDir).map((d) => join(cacheDir, d, 'results.json')).filter((f) => existsSync(f)) : [];
if (caches.length !== 1) {
  process.stderr.write(`write-file-durations: expected one vitest results cache under ${cacheDir}, found ${caches.length}; run npm test first\n`);
  process.exit(1);
}
const { results } = JSON.parse(readFileSync(caches[0], 'utf8'));
const files = {};
let failed = 0;
for (const [key, r] of results) {
  const file = key.slice(key.indexOf(':') + 1);
  if (!existsSync(join(root, file))) continue; // a file since removed
  if (r.failed) failed += 1;
  files[file] = Math.round(r.duration);
}
if (failed > 0) {
  process.stderr.write(`write-file-durations: ${failed} file(s) failed in the cached run; run npm test until it passes, then again\n`);
  process.exit(1);
}
const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)));
const out = join(root, 'test/file-durations.json');
writeFileSync(out, JSON.stringify({ about: 'Each test file\'s duration in ms in a full run (test/helpers/duration-sequencer.ts); refresh with node test/helpers/write-file-durations.mjs', files: sorted }, null, 2) + '\n');
process.stdout.write(`wrote ${Object.keys(sorted).length} files' durations to ${out}\n`);
