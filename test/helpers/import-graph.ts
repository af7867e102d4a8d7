/**
 * The repository's module import graph, read with the TypeScript compiler's own pre-processor
 * (ts.preProcessFile): static imports, `import type`, `export ... from`, dynamic `import()` and
 * `require()`. Type-only imports are edges too (issue 18): a cycle through a type still ties the
 * modules' design together, and `import type` is one edit away from a value import.
 *
 * Pure apart from reading files: `readImportGraph` walks folders, `findCycles` works on any graph.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** Module -> the modules it imports, as paths relative to the repository root with '/' separators. */
export type ImportGraph = Map<string, string[]>;

export interface ReadGraph {
  graph: ImportGraph;
  /** Relative specifiers that name no file (a typo, or a file served by a route rather than on disk). */
  unresolved: { from: string; specifier: string }[];
}

const SOURCE = /\.(ts|mts|js|mjs)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'vendor', 'results']);

function sourceFiles(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) sourceFiles(p, out);
    } else if (SOURCE.test(e.name) && !e.name.endsWith('.d.ts')) {
      out.push(p);
    }
  }
}

/**
 * Where a relative specifier points. NodeNext code writes './x.js' for './x.ts'; the firmware (bundler
 * resolution) writes './x' with no extension.
 */
function resolveSpecifier(fromFile: string, specifier: string): string | null {
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, `${base}.js`, join(base, 'index.ts')];
  for (const c of candidates) if (existsSync(c) && statSync(c).isFile()) return c;
  return null;
}

export function readImportGraph(root: string, dirs: readonly string[]): ReadGraph {
  const files: string[] = [];
  for (const d of dirs) sourceFiles(join(root, d), files);
  const rel = (p: string): string => relative(root, p).split(sep).join('/');
  const graph: ImportGraph = new Map();
  const unresolved: ReadGraph['unresolved'] = [];
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const deps = new Set<string>();
    for (const imp of info.importedFiles) {
      if (!imp.fileName.startsWith('.')) continue; // a package or a node: built-in
      const target = resolveSpecifier(file, imp.fileName);
      if (target) deps.add(rel(target));
      else unresolved.push({ from: rel(file), specifier: imp.fileName });
    }
    graph.set(rel(file), [...deps].sort());
  }
  return { graph, unresolved };
}

/**
 * Every import cycle, one per strongly connected component (Tarjan), each given as a concrete path
 * `a -> b -> ... -> a` through that component, so a failure names the imports to cut.
 */
export function findCycles(graph: ImportGraph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => cyclePath(graph, new Set(c)));
}

/** The shortest path from the component's first module (sorted) back to itself, inside the component. */
function cyclePath(graph: ImportGraph, component: Set<string>): string[] {
  const start = [...component].sort()[0];
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = cameFrom.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
