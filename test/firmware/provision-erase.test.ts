/**
 * Re-provisioning a board for another device erases the old device's outbox: every `lw-e<id>` event
 * file, the `lw-up` mark and the single `lw-ob` of older firmware, with its boot counter. Run on the
 * real Espruino 2v29 interpreter's Storage (skipped, with the reason, where ../shared/espruino is
 * missing).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ESPRUINO_DIR } from '../../firmware/build/measure-variables.js';
import { commitIdentityExpr } from '../../firmware/flash/wire.js';

const espruino = join(DEFAULT_ESPRUINO_DIR, 'espruino');

function storageAfter(expr: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'lw-erase-'));
  try {
    const files: Record<string, string> = {
      'lw.new': '{"id":"fob-9","pw":"x"}',
      'lw.json': '{"id":"fob-1","pw":"y"}',
      'lw-e1-0': '1,100,{"i":"1-0","k":"sos"',
      'lw-e2-a': '0,5,{"i":"2-a","k":"chk"',
      'lw-up': '7000',
      'lw-ob': '{"u":1,"e":[]}',
      'lw-bc': '2',
      'lw.up': 'code',
    };
    const writes = Object.entries(files).map(([n, d]) => `s.write(${JSON.stringify(n)},${JSON.stringify(d)});`).join('');
    writeFileSync(join(dir, 'run.js'), `var s=require("Storage");${writes}${expr};print("FILES "+JSON.stringify(s.list().sort()));`);
    const r = spawnSync(espruino, ['run.js'], { cwd: dir, input: '', encoding: 'utf8', timeout: 10_000 });
    const line = /FILES (.*)/.exec(r.stdout ?? '');
    if (!line) throw new Error(`no answer from the interpreter: ${r.stdout}${r.stderr}`);
    return JSON.parse(line[1]) as string[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('re-provisioning erases the outbox of the device before', () => {
  it('another device: every event file, the mark, the old outbox and the boot counter go; the identity moves into place', (ctx) => {
    if (!existsSync(espruino)) ctx.skip(`no Espruino interpreter at ${espruino}`);
    expect(storageAfter(commitIdentityExpr(true))).toEqual(['lw.json']);
  });

  it('the same device again: its waiting events are kept', (ctx) => {
    if (!existsSync(espruino)) ctx.skip(`no Espruino interpreter at ${espruino}`);
    expect(storageAfter(commitIdentityExpr(false))).toEqual(['lw-bc', 'lw-e1-0', 'lw-e2-a', 'lw-ob', 'lw-up', 'lw.json']);
  });
});
