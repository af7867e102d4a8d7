/**
 * The virtual Espruino board's console, in-process: the behaviours the flashing tool relies on
 * (and that an engineer at `lonewatch console` sees), and Storage's write-at-offset semantics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualEspruino, bracketDepth } from '../helpers/virtual-espruino/virtual-board.js';
import { byteLiteral, chunksOf, findAnswer, requestLine, toBytes, versionAtLeast } from '../../firmware/flash/wire.js';

let board: VirtualEspruino | null = null;
afterEach(() => board?.shutdown());

function make(o: { board?: string } = {}): { b: VirtualEspruino; out: () => string; clear: () => void } {
  let out = '';
  board = new VirtualEspruino({ board: o.board ?? 'PUCKJS', version: '2v29', out: (s) => (out += s) });
  return { b: board, out: () => out, clear: () => (out = '') };
}

describe('virtual Espruino console', () => {
  it('E.setConsole away from the cable silences the port until the next boot; a RAK5010 has no BTN (boards/RAK5010.py)', () => {
    let out = '';
    board = new VirtualEspruino({ board: 'RAK5010', version: '2v29', out: (s) => (out += s) });
    board.powerOn();
    out = '';
    board.input('\x10print(typeof BTN, typeof BTN1, typeof LED1)\n');
    expect(out).toBe('undefined undefined object\r\n>');
    out = '';
    board.input('\x10E.setConsole("Bluetooth",{force:true});print("gone")\n');
    board.input('\x10print("still gone")\n');
    expect(out).toBe('');
    board.consoleAway = false;
    board.input('\x10E.setConsole("USB");print("here")\n');
    expect(out).toBe('here\r\n>');
  });

  it('prints the banner and a prompt at power-on; echoes typed lines and their =result', () => {
    const { b, out, clear } = make();
    b.powerOn();
    expect(out()).toContain('|_| espruino.com\r\n 2v29 (c) 2025 G.Williams\r\n\r\n>');
    clear();
    b.input('1+2\r');
    expect(out()).toBe('1+2\r\n=3\r\n>');
  });

  it('a DLE line is not echoed and prints no =result; Ctrl-C clears a half-typed line', () => {
    const { b, out, clear } = make();
    b.powerOn();
    clear();
    b.input('\x10print(process.env.BOARD, process.env.VERSION)\n');
    expect(out()).toBe('PUCKJS 2v29\r\n>');
    clear();
    b.input('garbage(((\x03\x10print(6*7)\n');
    expect(out()).toBe('garbage(((\r\n>42\r\n>');
  });

  it('continues unbalanced statements on the next line, as Espruino does', () => {
    const { b, out, clear } = make();
    b.powerOn();
    clear();
    b.input('function f(a) {\r  return a * 2;\r}\rf(4)\r');
    expect(out()).toBe('function f(a) {\r\n:  return a * 2;\r\n:}\r\n=undefined\r\n>f(4)\r\n=8\r\n>');
    expect(bracketDepth('a("(", /* { */ `[`) + {')).toBe(1);
  });

  it('echo(0) turns echo off; errors print Uncaught ...', () => {
    const { b, out, clear } = make();
    b.powerOn();
    b.input('echo(0)\r');
    clear();
    b.input('1+1\rprint("hi")\rnope()\r');
    // Worded as Espruino 2v29 words it.
    expect(out()).toBe('hi\r\nUncaught ReferenceError: "nope" is not defined\r\n');
  });

  it('Storage: offset writes fill a file created at its full size; written bytes take no second write', () => {
    const { b, out, clear } = make();
    b.powerOn();
    clear();
    b.input('\x10var s=require("Storage");s.write("a","Hello",0,14);print(JSON.stringify(s.read("a")))\n');
    expect(out()).toBe(`"Hello${'\xff'.repeat(9)}"\r\n>`);
    clear();
    b.input('\x10s.write("a"," World!!!",5);print(s.read("a"), s.list().length, E.CRC32("abc"))\n');
    expect(out()).toBe('Hello World!!! 1 891568578\r\n>');
    clear();
    // A write over written bytes is refused, even of the very same bytes, as the 2v29 interpreter
    // refuses it (seen on it), and the file is unchanged.
    b.input('\x10try{s.write("a","e",1)}catch(e){print(e.message)};try{s.write("a","A",1)}catch(e){print(e.message)};print(s.read("a",0,2))\n');
    expect(out()).toBe('File already written with different data\r\nFile already written with different data\r\nHe\r\n>');
  });

  it('.boot0-.boot3 run before .bootcde at load() and also at reset(), each on its own', () => {
    const { b, out, clear } = make();
    b.powerOn();
    b.input('\x10var s=require("Storage");s.write(".boot0","print(\\"b0\\")");s.write(".boot2","nope()");s.write(".bootcde","print(\\"cde\\")")\n');
    clear();
    b.input('\x10load()\n');
    expect(out()).toBe('b0\r\nUncaught ReferenceError: "nope" is not defined\r\ncde\r\n>');
    clear();
    b.input('\x10reset()\n');
    expect(out()).toContain('b0\r\nUncaught ReferenceError: "nope" is not defined\r\n>');
    expect(out()).not.toContain('cde');
  });

  it('reset() keeps Storage and runs no code; load() runs .bootcde', () => {
    const { b, out, clear } = make();
    b.powerOn();
    b.input('\x10require("Storage").write(".bootcde","global.LW={v:\\"9.9\\",id:\\"x\\"}")\n');
    b.input('\x10reset()\n');
    clear();
    b.input('\x10print(typeof LW)\n');
    expect(out()).toBe('undefined\r\n>');
    b.input('\x10load()\n');
    clear();
    b.input('\x10print(LW.v, LW.id)\n');
    expect(out()).toBe('9.9 x\r\n>');
    expect(b.lw()).toEqual({ v: '9.9', id: 'x' });
  });
});

describe('flash wire helpers', () => {
  it('escapes bytes to printable ASCII and parses numbered answers', () => {
    expect(byteLiteral('a"b\\\n\x03\x10\xff')).toBe('"a\\"b\\\\\\x0a\\x03\\x10\\xff"');
    expect(toBytes('é')).toBe('\xc3\xa9');
    expect(chunksOf('x'.repeat(1100)).map((c) => [c.offset, c.bytes.length])).toEqual([
      [0, 512],
      [512, 512],
      [1024, 76],
    ]);
    expect(requestLine(3, '1+1').startsWith('\x10try{print("<LW3 "')).toBe(true);
    expect(findAnswer('junk <LW2 5 LW2> <LW3 {"a":1} LW3>', 3)).toEqual({ ok: true, value: { a: 1 } });
    expect(findAnswer('<LW3! "Error: no" LW3>', 3)).toEqual({ ok: false, error: 'Error: no' });
    expect(findAnswer('<LW3 {"a":', 3)).toBeNull();
    expect(versionAtLeast('2v29', '2v29')).toBe(true);
    expect(versionAtLeast('2v29.12', '2v29')).toBe(true);
    expect(versionAtLeast('2v19', '2v29')).toBe(false);
    expect(versionAtLeast('3v00', '2v29')).toBe(true);
  });
});
