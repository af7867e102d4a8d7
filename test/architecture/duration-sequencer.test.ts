// The test files' start order (test/helpers/duration-sequencer.ts, issue 18): longest first from
// the committed durations when vitest's cache has none, as on a clean clone in CI.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { committedDurations, orderFiles } from '../helpers/duration-sequencer.js';

describe('test file order', () => {
  it('puts failed files first, then unknown ones, then the longest first, ties by path', () => {
    const files = [
      { file: 'b.test.ts', failed: false, durationMs: 1_000 },
      { file: 'a.test.ts', failed: false, durationMs: 1_000 },
      { file: 'long.test.ts', failed: false, durationMs: 90_000 },
      { file: 'new.test.ts', failed: false, durationMs: undefined },
      { file: 'broke.test.ts', failed: true, durationMs: 10 },
    ];
    expect(orderFiles(files).map((f) => f.file)).toEqual(['broke.test.ts', 'new.test.ts', 'long.test.ts', 'a.test.ts', 'b.test.ts']);
  });

  it('reads the committed figures, skipping what is not a duration, and none from a missing or broken file', () => {
    const read = committedDurations(() => JSON.stringify({ files: { 'x.test.ts': 1200, 'y.test.ts': 'slow', 'z.test.ts': -1 } }));
    expect([...read]).toEqual([['x.test.ts', 1200]]);
    expect(committedDurations(() => '{not json').size).toBe(0);
    expect(
      committedDurations(() => {
        throw new Error('ENOENT');
      }).size,
    ).toBe(0);
  });

  it('has a committed figure for every test file but a few new ones, and none for a file that is gone', () => {
    // A stale file is harmless (unknown files run first), but one that names removed files or
    // misses most of them has stopped being refreshed: node test/helpers/write-file-durations.mjs.
    const root = new URL('../../', import.meta.url);
    const tests = readdirSync(new URL('test/', root), { recursive: true, encoding: 'utf8' })
      .map((f) => `test/${f.split('\\').join('/')}`)
      .filter((f) => f.endsWith('.test.ts'));
    const committed = committedDurations();
    const gone = [...committed.keys()].filter((f) => !existsSync(new URL(f, root)));
    expect(gone).toEqual([]);
    const missing = tests.filter((f) => !committed.has(f));
    expect(missing.length, `files with no committed duration: ${missing.join(', ')}`).toBeLessThanOrEqual(5);
  });
});
