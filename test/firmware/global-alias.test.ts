/** The build's alias of often-used built-ins (firmware/build/global-alias.ts) on TypeScript's own ES5 output. */
import vm from 'node:vm';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { aliasGlobals } from '../../firmware/build/global-alias.js';

const es5 = (src: string): string => ts.transpileModule(src, { compilerOptions: { target: ts.ScriptTarget.ES5, module: ts.ModuleKind.None, removeComments: true } }).outputText;

const src = `(() => {
  const a = Math.round(2.6) + Math.max(1, 4) + Math.min(3, 9) + Math.floor(7.9) + Math.abs(-2) + Math.ceil(0.2) + Math.round(9.5);
  const b = parseInt('12', 10) + parseInt('z', 36) + parseInt('7', 10);
  const c = isNaN(parseInt('x', 10)) ? 1 : 0;
  (globalThis as any).out = [a, b, c, JSON.stringify({ a })];
})();`;

const run = (code: string): string => {
  const ctx: { out?: unknown } = {};
  vm.runInNewContext(code, ctx);
  return JSON.stringify(ctx.out);
};

describe('aliasGlobals', () => {
  it('gives a built-in used often one local at the top of the bundle, and leaves a rare one alone', () => {
    const text = aliasGlobals(es5(src));
    expect(text).toMatch(/^\(function \(\) \{ var __g_Math = Math, __g_parseInt = parseInt;/);
    expect(text).not.toMatch(/\bMath\.round/);
    expect(text).toContain('__g_parseInt(\'12\', 10)');
    // One JSON and one isNaN: an alias would cost more than it saves.
    expect(text).toContain('JSON.stringify');
    expect(text).toMatch(/[^_]isNaN\(/);
  });

  it('behaves exactly as the code it rewrote', () => {
    const code = es5(src);
    expect(run(aliasGlobals(code))).toBe(run(code));
  });

  it('leaves alone a built-in the bundle declares or assigns itself', () => {
    const own = es5(`(() => { var Math = { round: (x: number) => x }; (globalThis as any).out = Math.round(1.5) + Math.round(2.5) + Math.round(3.5) + Math.round(4.5) + Math.round(5.5); })();`);
    expect(aliasGlobals(own)).toBe(own);
  });

  it('refuses a bundle that is not one IIFE, rather than alias outside it', () => {
    expect(() => aliasGlobals('var x = Math.round(1) + Math.round(2) + Math.round(3) + Math.round(4) + Math.round(5);')).toThrow(/not one IIFE/);
  });
});
