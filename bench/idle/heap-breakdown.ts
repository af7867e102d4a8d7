/**
 * Live heap by constructor name, from a V8 heap snapshot taken in this process (node:v8
 * writeHeapSnapshot, format: the snapshot's own `meta` field lists the node fields). Used by the
 * idle-connection bench to say where a connection's memory goes; slow (seconds), never on a hot path.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

export function heapByConstructor(limit = 200): { name: string; count: number; bytes: number }[] {
  const file = writeHeapSnapshot(join(tmpdir(), `lonewatch-idle-${process.pid}.heapsnapshot`));
  try {
    const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
    const f = snap.snapshot.meta.node_fields;
    const width = f.length;
    const iType = f.indexOf('type');
    const iName = f.indexOf('name');
    const iSize = f.indexOf('self_size');
    const types = snap.snapshot.meta.node_types[0];
    const by = new Map<string, { count: number; bytes: number }>();
    for (let i = 0; i < snap.nodes.length; i += width) {
      const type = types[snap.nodes[i + iType]];
      const name = type === 'object' || type === 'closure' ? `${type}:${snap.strings[snap.nodes[i + iName]]}` : type;
      const e = by.get(name) ?? { count: 0, bytes: 0 };
      e.count++;
      e.bytes += snap.nodes[i + iSize];
      by.set(name, e);
    }
    return [...by.entries()].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.bytes - a.bytes).slice(0, limit);
  } finally {
    rmSync(file, { force: true });
  }
}
