/**
 * Issue 19: `lonewatch flash` gives a RAK5010 every edge of the cluster (lw.json `hs`), from --hub
 * or [cluster] edges, the first also as h/p (what firmware from before the cluster reads). The real
 * flash command, run in-process (flash-in-process.ts: a child adds a Node and tsx start and a
 * TypeScript load for its own build, and shows nothing more), --dry-run: the identity is read out of
 * the exact bytes a board would get.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flash } from '../helpers/virtual-espruino/flash-in-process.js';

const dir = mkdtempSync(join(tmpdir(), 'lonewatch-flash-edges-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (extra: string[]): string => {
  const file = join(dir, `lonewatch-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(file, ['[hub]', `data_dir = "${join(dir, 'data')}"`, 'public_url = "https://hub.example.org"', ...extra].join('\n'));
  return file;
};
const cluster = ['[cluster]', 'servers = ["nats://10.0.0.9:4222"]'];

/** The identity the dry run would write to lw.new (then lw.json), parsed back. */
function dryIdentity(file: string): Record<string, unknown> {
  const bytes = readFileSync(file, 'latin1');
  const m = /s\.write\("lw\.new",("(?:[^"\\]|\\.)*")\)/.exec(bytes);
  expect(m, 'the identity write in the dry run').not.toBeNull();
  return JSON.parse(JSON.parse(m![1])) as Record<string, unknown>;
}

const dry = (cfg: string, more: string[]) => {
  const out = join(dir, `dry-${Math.random().toString(36).slice(2)}.bin`);
  return { out, run: flash(['--board', 'rak5010', '--device', 'rak-e', '--secret', 's3cret', '--dry-run', out, '--config', cfg, ...more]) };
};

describe('lonewatch flash: the edges of a cluster', () => {
  it('--hub writes every edge in order as hs, the first as h/p', async () => {
    const { out, run } = dry(config([]), ['--hub', 'edge-1.example.org:1883,[2001:db8::1]:1884']);
    const r = await run;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(dryIdentity(out)).toMatchObject({ id: 'rak-e', h: 'edge-1.example.org', p: 1883, hs: [['edge-1.example.org', 1883], ['2001:db8::1', 1884]] });
  }, 120_000);

  it('[cluster] edges is the default; --hub-host gives one hub as before (no hs)', async () => {
    const cfg = config([...cluster, 'edges = ["e1.example.org:1883", "e2.example.org:1883", "e3.example.org:1993"]']);
    const a = dry(cfg, []);
    expect((await a.run).code).toBe(0);
    expect(dryIdentity(a.out)).toMatchObject({ h: 'e1.example.org', p: 1883, hs: [['e1.example.org', 1883], ['e2.example.org', 1883], ['e3.example.org', 1993]] });
    const b = dry(cfg, ['--hub-host', 'one.example.org']);
    expect((await b.run).code).toBe(0);
    const single = dryIdentity(b.out);
    expect(single).toMatchObject({ h: 'one.example.org', p: 1883 });
    expect(single.hs).toBeUndefined();
  }, 120_000);

  it('a bad list is refused before anything is built or written, naming the entry', async () => {
    const loop = dry(config([]), ['--hub', 'e1.example.org:1883,localhost:1883']);
    const r = await loop.run;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--hub: "localhost:1883" is the fob\'s own loopback');
    const both = dry(config([]), ['--hub', 'e1.example.org:1883', '--hub-port', '1884']);
    const r2 = await both.run;
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain('give either --hub host:port,... (every edge, ports included) or --hub-host/--hub-port (one hub), not both');
  }, 120_000);
});
