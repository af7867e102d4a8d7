/**
 * The per-file check that makes `isolate: false` safe (vitest.config.ts, test/helpers/file-isolation.ts):
 * what it reports as left behind in process.env.
 */
import { describe, expect, it } from 'vitest';
import { envChanges } from '../helpers/file-isolation.js';

describe('envChanges', () => {
  it('names a variable set, changed or removed, in order, and nothing when they are equal', () => {
    expect(envChanges({ A: '1', B: '2', C: '3' }, { A: '1', B: 'x', D: '4' })).toEqual(['B (changed)', 'C (removed)', 'D (set, was unset)']);
    expect(envChanges({ A: '1' }, { A: '1' })).toEqual([]);
  });

  it('counts a variable set to the empty string as set', () => {
    expect(envChanges({}, { A: '' })).toEqual(['A (set, was unset)']);
  });
});
