/**
 * docs/requirements-index.md is kept honest (issue 18): every requirement R1-R22 has modules and tests,
 * every test it names exists under that exact title and carries the requirement's id, every scenario
 * it names declares the requirement, and every test title that names a requirement is in the index.
 * Reads only this repository (the requirement ids and titles are copied into the index).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../simulator/scenario/load-scenario.js';
import { checkIndex, parseIndex, testTitles, titleIds, type Repo } from '../helpers/requirements-index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INDEX = 'docs/requirements-index.md';
const IDS = Array.from({ length: 22 }, (_, i) => `R${i + 1}`);

function testFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) testFiles(p, out);
    else if (e.name.endsWith('.test.ts')) out.push(relative(ROOT, p).split(sep).join('/'));
  }
  return out;
}

const repo: Repo = {
  titles: new Map(testFiles(join(ROOT, 'test')).map((f) => [f, testTitles(readFileSync(join(ROOT, f), 'utf8'), f)])),
  exists: (p) => existsSync(join(ROOT, p)),
  scenarioRequirements: (p) => (existsSync(join(ROOT, p)) ? loadScenario(join(ROOT, p)).requirements : null),
};

describe('the requirement index checker', () => {
  const fake: Repo = {
    titles: new Map([
      ['test/a.test.ts', ['R1: raises the alarm', 'R2: names R2 but is not listed', 'no id here']],
    ]),
    exists: (p) => p === 'hub/x.ts',
    scenarioRequirements: (p) => (p === 'simulator/scenarios/s.toml' ? ['R1'] : null),
  };
  const index = (body: string): string => `# Index\n\n${body}`;

  it('reads titles from it, it.each and test calls, and the ids they start with', () => {
    const src = "it('R1: one', () => {}); it.each([1])('R2, R13: two %s', () => {}); test(`plain`, () => {}); describe('R3: not a test', () => {}); it(`${'x'} dynamic`, () => {});";
    expect(testTitles(src)).toEqual(['R1: one', 'R2, R13: two %s', 'plain']);
    expect(titleIds('R2, R13: two')).toEqual(['R2', 'R13']);
    expect(titleIds('R8/R9: old style')).toEqual([]);
  });

  it('passes an index that agrees with the files', () => {
    const md = index('## R1 Covert alarm\n\n**Implemented by:** `hub/x.ts`\n\n- `test/a.test.ts`: "R1: raises the alarm"\n- scenario `simulator/scenarios/s.toml`\n');
    const honest: Repo = { ...fake, titles: new Map([['test/a.test.ts', ['R1: raises the alarm']]]) };
    expect(checkIndex(parseIndex(md), ['R1'], honest)).toEqual([]);
  });

  it('flags a requirement without a test, a test that does not exist, a missing id, a missing module and an unlisted test', () => {
    const md = index(
      [
        '## R1 Covert alarm',
        '**Implemented by:** `hub/x.ts` `hub/gone.ts`',
        '- `test/a.test.ts`: "R1: raises the alarm silently"',
        '- `test/a.test.ts`: "no id here"',
        '- scenario `simulator/scenarios/s.toml`',
        '- scenario `simulator/scenarios/other.toml`',
        '## R2 Loud alarm',
        '**Implemented by:** `hub/x.ts`',
      ].join('\n'),
    );
    const problems = checkIndex(parseIndex(md), ['R1', 'R2', 'R3'], fake);
    expect(problems).toEqual([
      'the index lists R1, R2; it must list R1, R2, R3, in order, once each',
      'R1: module hub/gone.ts does not exist',
      'R1: no test "R1: raises the alarm silently" in test/a.test.ts',
      'R1: the title of "no id here" (test/a.test.ts) does not start with R1',
      'R1: scenario simulator/scenarios/other.toml does not exist',
      'R2 Loud alarm: no test proves it',
      'test/a.test.ts: "R1: raises the alarm" names R1 but is not listed under R1 in the index',
      'test/a.test.ts: "R2: names R2 but is not listed" names R2 but is not listed under R2 in the index',
    ]);
  });
});

describe(INDEX, () => {
  const reqs = parseIndex(readFileSync(join(ROOT, INDEX), 'utf8'));

  it('lists R1-R22, each with a title', () => {
    expect(reqs.map((r) => r.id)).toEqual(IDS);
    for (const r of reqs) expect(r.title.length, r.id).toBeGreaterThan(3);
  });

  it('agrees with the modules, the tests and the scenarios', () => {
    const problems = checkIndex(reqs, IDS, repo);
    expect(problems, `${INDEX} disagrees with the code:\n${problems.join('\n')}`).toEqual([]);
  });
});
