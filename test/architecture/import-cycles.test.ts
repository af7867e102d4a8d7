/**
 * No import cycles (issue 18): the hub's HTTP routes reach the hub through hub/hub-services.ts, the
 * bench's command and report share bench/bench-results.ts. Every module under the code folders and the
 * tests is read, type-only imports included. docs/architecture.md has the layers.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findCycles, readImportGraph, type ImportGraph } from '../helpers/import-graph.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FOLDERS = ['hub', 'shared', 'firmware', 'simulator', 'bench', 'bin', 'test'];

describe('import graph', () => {
  it('finds a cycle in a graph that has one, and names its path', () => {
    const graph: ImportGraph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts', 'd.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    expect(findCycles(graph)).toEqual(expect.arrayContaining([['a.ts', 'b.ts', 'c.ts', 'a.ts'], ['e.ts', 'e.ts']]));
    expect(findCycles(graph)).toHaveLength(2);
    expect(findCycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]]))).toEqual([]);
  });

  const { graph, unresolved } = readImportGraph(ROOT, FOLDERS);

  it('reads the real modules and their imports, type-only ones too', () => {
    expect(graph.size).toBeGreaterThan(150);
    expect(graph.get('hub/hub.ts')).toContain('hub/http/api.ts');
    // `import type { HubServices } from '../hub-services.js'`: a type-only import is an edge.
    expect(graph.get('hub/http/live-events.ts')).toContain('hub/hub-services.ts');
    // Firmware imports carry no extension (bundler resolution).
    expect(graph.get('firmware/src/boards/puck.ts')).toContain('shared/protocol-core.ts');
    // Lazy commands are loaded with import(): those are edges as well.
    expect(graph.get('bin/commands.ts')).toContain('hub/cli/hub-command.ts');
  });

  it('every relative import of a TypeScript module names a file', () => {
    expect(unresolved.filter((u) => u.from.endsWith('.ts'))).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles = findCycles(graph).map((c) => c.join(' -> '));
    expect(cycles, `import cycles (cut one import in each; docs/architecture.md):\n${cycles.join('\n')}`).toEqual([]);
  });
});
