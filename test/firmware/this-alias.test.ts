/** The build's `this` alias (firmware/build/this-alias.ts) on TypeScript's own ES5 output. */
import vm from 'node:vm';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { aliasThis } from '../../firmware/build/this-alias.js';

const es5 = (src: string): string => ts.transpileModule(src, { compilerOptions: { target: ts.ScriptTarget.ES5, module: ts.ModuleKind.None, removeComments: true } }).outputText;

describe('aliasThis', () => {
  const src = `class Acc { a = 0; b = 0; c = 0;
  constructor(a: number) { this.a = a; this.b = a * 2; this.c = a * 3; this.a += this.b; }
  sum() { return this.a + this.b + this.c + this.a; }
  later() { const f = () => this.a + this.b + this.c + this.a; return f; }
  one() { return this.a; }
  inner() { var me = this; var o = { v: 5, get: function () { return this.v + this.v + this.v + this.v; } }; return [o.get(), me.a, me.b, me.c, me.a]; } }
var x = new Acc(2);
var out = [x.sum(), x.later()(), x.one(), x.inner()];`;

  it('gives a function with four or more own `this` one local, and leaves one with fewer alone', () => {
    const text = aliasThis(es5(src));
    expect(text).toContain('var __self = this;');
    // one() keeps its single `this`.
    expect(text).toMatch(/one = function \(\) \{\s*return this\.a;/);
    // TypeScript's own `var _this = this` is reused, not doubled.
    expect(text).toMatch(/var _this = this;\s*var f = function \(\) \{ return _this\.a \+ _this\.b/);
    expect(text).not.toMatch(/later = function \(\) \{\s*var __self/);
  });

  it('leaves a nested function its own `this`', () => {
    const text = aliasThis(es5(src));
    // The object-literal method has its own four uses: its own local, not the method's.
    expect(text).toMatch(/get: function \(\) \{ var __self = this; return __self\.v \+ __self\.v/);
  });

  it('behaves exactly as the code it rewrote', () => {
    const run = (code: string): unknown => {
      const ctx: { out?: unknown } = {};
      vm.runInNewContext(code, ctx);
      return JSON.stringify(ctx.out);
    };
    expect(run(aliasThis(es5(src)))).toBe(run(es5(src)));
    expect(run(aliasThis(es5(src)))).toBe(JSON.stringify([22, 22, 6, [20, 6, 4, 6, 6]]));
  });

  it('refuses a bundle that already uses its local name', () => {
    expect(() => aliasThis('var __self = 1;')).toThrow(/already uses the name __self/);
  });
});
