/** The build's prototype alias (firmware/build/prototype-alias.ts) on TypeScript's own ES5 output. */
import vm from 'node:vm';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { aliasPrototypes } from '../../firmware/build/prototype-alias.js';

const es5 = (src: string): string => ts.transpileModule(src, { compilerOptions: { target: ts.ScriptTarget.ES5, module: ts.ModuleKind.None, removeComments: true } }).outputText;

describe('aliasPrototypes', () => {
  const src = `class Box { v: number; constructor(v: number) { this.v = v; } get2() { return this.v * 2; } add(n: number) { this.v += n; return this; } }
class One { only() { return 'one'; } }
var out = [new Box(3).add(4).get2(), new One().only(), Object.keys(Box.prototype).join(',')];`;

  it('assigns the methods of a class with several through one alias, and leaves a one-method class alone', () => {
    const text = aliasPrototypes(es5(src));
    expect(text).toContain('var Box__p = Box.prototype;');
    expect(text).not.toContain('Box.prototype.get2');
    expect(text).toContain('One.prototype.only');
    expect(text).not.toContain('One__p');
  });

  it('behaves exactly as the code it rewrote', () => {
    const run = (code: string): unknown => {
      const ctx: { out?: unknown } = {};
      vm.runInNewContext(code, ctx);
      return JSON.stringify(ctx.out);
    };
    expect(run(aliasPrototypes(es5(src)))).toBe(run(es5(src)));
    expect(run(aliasPrototypes(es5(src)))).toBe(JSON.stringify([14, 'one', 'get2,add']));
  });
});
