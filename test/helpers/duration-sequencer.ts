/**
 * The order the test files start in (issue 18: `npm test` under 4 minutes on 2 cores).
 *
 * Four files run at a time and each worker takes the next file from one queue, so the run ends
 * when its last long file does: a long file started late leaves the other workers idle at the end.
 * Vitest starts the longest files first when its results cache (node_modules/.vite) has their
 * durations, but a clean clone, which is what CI runs, has no cache, and vitest then orders the
 * files by their size in bytes, which says little about how long they take (a short file that
 * drives Chromium or a NATS cluster takes longer than a long table of unit cases).
 *
 * So the durations of a full run are kept in test/file-durations.json, committed, and a file
 * vitest's own cache knows is ordered by that, else by the committed figure. Files that failed in
 * the cached run go first, as vitest does; a file neither knows (a new one) goes first, as vitest
 * puts unknown files first, since it may be long. Refresh the figures after a full run with
 * `node test/helpers/write-file-durations.mjs`.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export const DURATIONS_FILE = new URL('../file-durations.json', import.meta.url);

/** The committed durations in ms, by path from the repository root; none when the file is missing or unreadable. */
export function committedDurations(read: () => string = () => readFileSync(DURATIONS_FILE, 'utf8')): Map<string, number> {
  try {
    const parsed = JSON.parse(read()) as { files?: Record<string, unknown> };
    const out = new Map<string, number>();
    for (const [file, ms] of Object.entries(parsed.files ?? {})) if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) out.set(file, ms);
    return out;
  } catch {
    return new Map();
  }
}

export interface FileTiming {
  file: string;
  /** From vitest's cache: the file failed in the run it remembers. */
  failed: boolean;
  /** Milliseconds: vitest's cache, else the committed figure; undefined when neither knows the file. */
  durationMs: number | undefined;
}

/** Failed first, then unknown, then the longest first; ties in path order so the order is stable. */
export function orderFiles<T extends FileTiming>(files: T[]): T[] {
  const rank = (f: FileTiming): number => (f.failed ? 0 : f.durationMs === undefined ? 1 : 2);
  return [...files].sort((a, b) => rank(a) - rank(b) || (b.durationMs ?? 0) - (a.durationMs ?? 0) || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

export default class DurationSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const committed = committedDurations();
    const root = this.ctx.config.root;
    const timed = files.map((spec) => {
      const file = relative(root, spec.moduleId).split('\\').join('/');
      const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${file}`);
      return { spec, file, failed: cached?.failed ?? false, durationMs: cached?.duration ?? committed.get(file) };
    });
    return orderFiles(timed).map((t) => t.spec);
  }
}
