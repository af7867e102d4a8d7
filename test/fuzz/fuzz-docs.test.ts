// The fuzz run's section of docs/benchmarks.md: replaced in place by a new run, kept by `npm run bench`.
import { describe, expect, it } from 'vitest';
import { currentSection, FUZZ_END, FUZZ_START, replaceSection } from '../../bench/fuzz/fuzz-docs.js';

describe('fuzz section of docs/benchmarks.md', () => {
  const section = (x: string) => `${FUZZ_START}\n## Fuzz\n${x}\n${FUZZ_END}`;

  it('is appended once, then replaced in place, leaving the rest alone', () => {
    const first = replaceSection('# Benchmarks\n\nrows\n', section('run 1'));
    expect(first).toBe(`# Benchmarks\n\nrows\n\n${section('run 1')}\n`);
    const second = replaceSection(first.replace('rows', 'rows 2'), section('run 2'));
    expect(second).toBe(`# Benchmarks\n\nrows 2\n\n${section('run 2')}\n`);
    expect(second.split(FUZZ_START)).toHaveLength(2);
  });

  it('is found whole for the bench report to carry over, and absent when there is none', () => {
    expect(currentSection(`# B\n\n${section('run 1')}\ntrailing`)).toBe(section('run 1'));
    expect(currentSection('# B\n')).toBe('');
    expect(currentSection(`# B\n${FUZZ_START}\nno end`)).toBe('');
  });
});
