import { describe, expect, it } from 'vitest';
import { checkEspruinoCompat } from '../../firmware/build/compat-check.js';
import { cachedFirmwareBuild } from '../../firmware/build/build-cache.js';
import { SIZE_BUDGET, SIZE_BUDGETS, VARIABLE_BUDGET, VARIABLE_BUDGETS, withinSizeBudget } from '../../firmware/build/build.js';
import { firmwareCommand } from '../../firmware/cli.js';
import { BOARDS } from '../../shared/protocol-core.js';

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
    ['f(); function f() {}', 'function f used before its declaration'],
    ['(function () { var x = g(); function g() { return 1; } })();', 'function g used before its declaration'],
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

  it('accepts a function used before its declaration only inside a function that runs later', () => {
    expect(checkEspruinoCompat('function a() { return b(); } function b() { return 1; } a();')).toEqual([]);
  });

  it('does not mistake a local variable named like a global for the global', () => {
    expect(checkEspruinoCompat('var Set = function () {}; new Set();')).toEqual([]);
  });
});

describe('the firmware build', () => {
  it.each([...BOARDS])('%s: one self-contained ES5 file that passes the check, under its size budget (12 KB; RAK5010 10 KB), its estimated variables under its budget', async (board) => {
    // The cached build: the same result as buildFirmware's for these sources (issue 18). The build
    // itself runs uncached in the command test below and in measure-variables.test.ts.
    const b = await cachedFirmwareBuild(board);
    expect(b.problems).toEqual([]);
    expect(b.budgetBytes).toBe(SIZE_BUDGETS[board]);
    expect(b.bytes).toBeLessThanOrEqual(SIZE_BUDGETS[board]);
    expect(SIZE_BUDGET).toBe(12 * 1024);
    expect(VARIABLE_BUDGETS.puck).toBe(VARIABLE_BUDGET);
    expect(b.variableBudget).toBe(VARIABLE_BUDGETS[board]);
    expect(b.variables).toBeLessThan(VARIABLE_BUDGETS[board]);
    expect(b.ok).toBe(true);
    // Nothing to download at run time: the only require is Espruino's built-in Storage.
    expect(b.code.match(/require\("([^"]+)"\)/g)?.every((m) => m === 'require("Storage")')).toBe(true);
    // No identity or hub address in the code.
    expect(b.code).not.toMatch(/1883|mqtt:\/\//);
    expect(b.code).toContain('lw.json');
  });

  it('fails a RAK5010 bundle over 10 KB (issue 14: room for TLS), a Puck.js one only over 12 KB', () => {
    expect(SIZE_BUDGETS).toEqual({ puck: 12 * 1024, rak5010: 10 * 1024 });
    expect(withinSizeBudget('rak5010', 10 * 1024)).toBe(true);
    expect(withinSizeBudget('rak5010', 10 * 1024 + 1)).toBe(false);
    expect(withinSizeBudget('puck', 10 * 1024 + 1)).toBe(true);
    expect(withinSizeBudget('puck', 12 * 1024 + 1)).toBe(false);
  });

  it('the command builds every board, and refuses a board it does not know', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const errWrite = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => out.push(s) > 0) as typeof process.stderr.write;
    try {
      expect(await firmwareCommand.run(['build', '--all'])).toBe(0);
      expect(out.join('')).toMatch(/puck:[\s\S]*bytes of 12288[\s\S]*rak5010:[\s\S]*bytes of 10240[\s\S]*ok/);
      expect(await firmwareCommand.run(['build', '--board', 'esp32'])).toBe(2);
      expect(await firmwareCommand.run(['build'])).toBe(2);
    } finally {
      process.stdout.write = write;
      process.stderr.write = errWrite;
    }
  });
});
