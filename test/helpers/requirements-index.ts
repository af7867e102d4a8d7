/**
 * Reads docs/requirements-index.md and checks it against the test files (issue 18): every requirement
 * R1-R22 names the modules that implement it and the tests that prove it; each named test exists, by
 * its exact title, in the named file, and its title carries the requirement id (`R13: ...`); every
 * test title that carries an id is listed under that id. Pure: the caller reads the files.
 */
import ts from 'typescript';

export interface IndexedRequirement {
  id: string;
  title: string;
  modules: string[];
  tests: { file: string; title: string }[];
  scenarios: string[];
}

const HEADING = /^## (R\d+) (.+)$/;
const MODULES = /^\*\*Implemented by:\*\* (.+)$/;
const TEST = /^- `(test\/[^`]+\.test\.ts)`: "(.+)"$/;
const SCENARIO = /^- scenario `(simulator\/scenarios\/[^`]+\.toml)`/;
/** `R7, R8, R9: records an unplanned visit ...` */
const ID_PREFIX = /^(R\d+(?:, R\d+)*): /;

export function parseIndex(markdown: string): IndexedRequirement[] {
  const out: IndexedRequirement[] = [];
  for (const line of markdown.split('\n')) {
    const h = HEADING.exec(line);
    if (h) {
      out.push({ id: h[1], title: h[2].trim(), modules: [], tests: [], scenarios: [] });
      continue;
    }
    const cur = out[out.length - 1];
    if (!cur) continue;
    const m = MODULES.exec(line);
    if (m) cur.modules.push(...[...m[1].matchAll(/`([^`]+)`/g)].map((x) => x[1]));
    const t = TEST.exec(line);
    if (t) cur.tests.push({ file: t[1], title: t[2] });
    const s = SCENARIO.exec(line);
    if (s) cur.scenarios.push(s[1]);
  }
  return out;
}

/** The requirement ids a test title starts with, or [] when it carries none. */
export function titleIds(title: string): string[] {
  const m = ID_PREFIX.exec(title);
  return m ? m[1].split(', ') : [];
}

/** The literal titles of every `it(...)`, `test(...)`, `it.each(...)(...)` in a test file. */
export function testTitles(source: string, fileName = 'x.test.ts'): string[] {
  const titles: string[] = [];
  const root = (e: ts.Expression): ts.Expression => {
    while (ts.isCallExpression(e) || ts.isPropertyAccessExpression(e)) e = e.expression;
    return e;
  };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const r = root(node.expression);
      const arg = node.arguments[0];
      if (ts.isIdentifier(r) && (r.text === 'it' || r.text === 'test') && arg && (ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg))) {
        titles.push(arg.text);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS));
  return titles;
}

export interface Repo {
  /** Test file (repository path) -> its test titles. */
  titles: Map<string, string[]>;
  exists(path: string): boolean;
  /** The `requirements` a scenario file declares, or null when it does not exist. */
  scenarioRequirements(path: string): string[] | null;
}

/** Every way the index disagrees with the code, in words that say what to fix. Empty when honest. */
export function checkIndex(reqs: IndexedRequirement[], expectedIds: readonly string[], repo: Repo): string[] {
  const problems: string[] = [];
  const ids = reqs.map((r) => r.id);
  if (ids.join(',') !== expectedIds.join(',')) problems.push(`the index lists ${ids.join(', ') || 'nothing'}; it must list ${expectedIds.join(', ')}, in order, once each`);
  for (const r of reqs) {
    if (r.modules.length === 0) problems.push(`${r.id}: no "Implemented by" module`);
    for (const m of r.modules) if (!repo.exists(m)) problems.push(`${r.id}: module ${m} does not exist`);
    if (r.tests.length + r.scenarios.length === 0) problems.push(`${r.id} ${r.title}: no test proves it`);
    for (const t of r.tests) {
      const titles = repo.titles.get(t.file);
      if (!titles) problems.push(`${r.id}: test file ${t.file} does not exist`);
      else if (!titles.includes(t.title)) problems.push(`${r.id}: no test "${t.title}" in ${t.file}`);
      else if (!titleIds(t.title).includes(r.id)) problems.push(`${r.id}: the title of "${t.title}" (${t.file}) does not start with ${r.id}`);
    }
    for (const s of r.scenarios) {
      const declared = repo.scenarioRequirements(s);
      if (declared === null) problems.push(`${r.id}: scenario ${s} does not exist`);
      else if (!declared.includes(r.id)) problems.push(`${r.id}: scenario ${s} does not declare ${r.id} in its requirements`);
    }
  }
  // The other way: a test that says it proves a requirement is listed under it.
  const listed = new Set(reqs.flatMap((r) => r.tests.map((t) => `${r.id} ${t.file} ${t.title}`)));
  for (const [file, titles] of repo.titles) {
    for (const title of titles) {
      for (const id of titleIds(title)) {
        if (!listed.has(`${id} ${file} ${title}`)) problems.push(`${file}: "${title}" names ${id} but is not listed under ${id} in the index`);
      }
    }
  }
  return problems;
}
