/**
 * No import cycles, and the layers of docs/architecture.md (issue 18): the hub's HTTP routes reach the
 * hub through hub/hub-services.ts, the bench's command and report share bench/bench-results.ts. Every
 * module under the code folders and the tests is read, type-only imports included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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

/**
 * Who may import whom (docs/architecture.md, "Layers"). Each rule: the importing modules, the modules
 * they may not import, and why.
 */
const LAYER_RULES: { from: RegExp; to: (dep: string) => boolean; why: string }[] = [
  { from: /^shared\//, to: (d) => !d.startsWith('shared/'), why: 'shared/ is the bottom layer: the protocol and the vocabulary import nothing of ours' },
  {
    from: /^firmware\/src\//,
    to: (d) => !d.startsWith('firmware/src/') && d !== 'shared/protocol-core.ts' && d !== 'shared/vocabulary.ts',
    why: 'fob code is bundled for Espruino: it may use only itself and the dependency-free shared modules',
  },
  {
    from: /^hub\/(rules|store|ingest|broker|notifiers|config|admin|presentation)\//,
    to: (d) => /^hub\/(http|companion|cli)\//.test(d) || d === 'hub/hub.ts',
    why: 'the rules, the store, the broker and the notifiers sit below the HTTP side and the composition root (hub/hub.ts)',
  },
  // The bench (a developer's measuring tool, not shipped behaviour) reuses the tests' fixtures.
  { from: /^(hub|shared|firmware|simulator|bin)\//, to: (d) => d.startsWith('test/'), why: 'product code never imports the tests' },
  { from: /^(hub|shared|firmware)\//, to: (d) => /^(simulator|bench)\//.test(d), why: 'the hub and the fob do not depend on the simulator or the bench' },
];

function layerViolations(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [file, deps] of graph) {
    for (const rule of LAYER_RULES) {
      if (!rule.from.test(file)) continue;
      for (const d of deps) if (rule.to(d)) out.push(`${file} -> ${d}: ${rule.why}`);
    }
  }
  return out;
}

describe('layers', () => {
  it('a rule catches an import that breaks it', () => {
    const bad: ImportGraph = new Map([
      ['shared/protocol-core.ts', ['bin/command.ts']],
      ['hub/rules/rules-runtime.ts', ['hub/http/api.ts']],
      ['firmware/src/hal.ts', ['shared/protocol-schemas.ts']],
      ['hub/http/api.ts', ['hub/rules/rules-runtime.ts']],
    ]);
    expect(layerViolations(bad).map((v) => v.split(':')[0])).toEqual([
      'shared/protocol-core.ts -> bin/command.ts',
      'hub/rules/rules-runtime.ts -> hub/http/api.ts',
      'firmware/src/hal.ts -> shared/protocol-schemas.ts',
    ]);
  });

  it('no module imports across its layer', () => {
    const violations = layerViolations(readImportGraph(ROOT, FOLDERS).graph);
    expect(violations, `imports against the layers (docs/architecture.md):\n${violations.join('\n')}`).toEqual([]);
  });
});

/**
 * The composition root only wires (issue 18): the HTTP side reaches the broker's connections through
 * the typed `MqttSessions` service (hub/mqtt-sessions.ts), never aedes itself, and the Hub class
 * carries no test-only methods (tests and drills drive the clock with simulator/hub-drive.ts).
 */
describe('composition root', () => {
  const { graph } = readImportGraph(ROOT, FOLDERS);
  const httpSide = [...graph.keys()].filter((f) => /^hub\/(http|companion)\/[^/]+\.ts$/.test(f));

  it('no route or HTTP module imports the broker or names aedes', () => {
    expect(httpSide.length).toBeGreaterThan(10);
    const offenders = httpSide.filter((f) => /\baedes\b/.test(readFileSync(join(ROOT, f), 'utf8')) || (graph.get(f) ?? []).some((d) => d.startsWith('hub/broker/')));
    expect(offenders, 'these modules reach into the broker; give them a service in hub/hub-services.ts').toEqual([]);
  });

  it('the Hub class has no settle or advance of its own', async () => {
    const { Hub } = await import('../../hub/hub.js');
    const methods = Object.getOwnPropertyNames(Hub.prototype);
    expect(methods).toContain('stop');
    expect(methods).not.toContain('settle');
    expect(methods).not.toContain('advance');
  });
});
