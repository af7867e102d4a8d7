import { describe, expect, it } from 'vitest';
import { checkEspruinoCompat } from '../../firmware/build/compat-check.js';

describe('Espruino-compatibility check', () => {
  const bad: [string, string][] = [
    ['var a = {}; var { x } = a;', 'destructuring'],
    ['var [a, b] = [1, 2];', 'destructuring'],
    ['function f(a = 1) { return a; }', 'default parameter'],
    ['function f(...rest) { return rest; }', 'rest parameter'],
    ['var a = [1]; var b = [...a];', 'spread'],
    ['f(...[1, 2]);', 'spread'],
    ['var o = { ...{ a: 1 } };', 'spread'],
    ['var a = null; var b = a?.x;', 'optional chaining'],
    ['var k = "a"; var o = { [k]: 1 };', 'computed property name'],
    ['async function f() {}', 'async function'],
    ['function* g() { yield 1; }', 'generator function'],
    ['var m = new Map();', 'unsupported global Map'],
    ['var s = new Set();', 'unsupported global Set'],
    ['var w = new WeakMap();', 'unsupported global WeakMap'],
    ['var s = Symbol("x");', 'unsupported global Symbol'],
    ['var p = new Proxy({}, {});', 'unsupported global Proxy'],
    ['var t = new TextEncoder();', 'unsupported global TextEncoder'],
    ['Number.isInteger(1);', 'Number.isInteger'],
    ['[[1]].flat();', 'Array.prototype.flat'],
    ['var x = __spreadArray([], [1], true);', 'TypeScript helper __spreadArray'],
    ['for (let i = 0; i < 3; i++) setTimeout(function () { return i; }, 1);', 'for (let ...)'],
  ];

  it.each(bad)('flags %s', (code, what) => {
    const problems = checkEspruinoCompat(code);
    expect(problems.map((p) => p.what).join('; ')).toContain(what);
    expect(problems[0].line).toBe(1);
  });

  it('passes what Espruino runs: ES5 with let/const, arrows, classes, template literals', () => {
    const ok = 'var a = 1; let b = 2; const c = () => a + b; class K { m() { return `${a}`; } } for (var i = 0; i < 2; i++) {} var Map2 = 1;';
    expect(checkEspruinoCompat(ok)).toEqual([]);
  });

  it('does not mistake a local variable named like a global for the global', () => {
    expect(checkEspruinoCompat('var Set = function () {}; new Set();')).toEqual([]);
  });
});
