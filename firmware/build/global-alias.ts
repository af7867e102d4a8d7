/**
 * Shortens the built-ins the bundle names most (issue 14: the RAK5010 bundle <= 10 KB): each of
 * ALIASED that the bundle uses often enough gets one local at the top of the bundle's outer function
 * (`var __g_Math = Math;`) and every use becomes the local, which the minifier then names with one
 * letter. `Math.` is 5 bytes and `parseInt` 8 at each of ~20 and ~10 uses; the local's name is 1.
 * Each alias is one more variable on the board, so a name is aliased only when that saves at least
 * MIN_SAVING bytes.
 *
 * Same behaviour: the local holds the very object or function the global held when the bundle
 * started, and the fob code never assigns these globals (a name the bundle declares or assigns
 * anywhere is left alone). Math's methods read no `this` other than Math itself, and parseInt,
 * isNaN and String none at all, so a call through the local is the same call.
 * Input is TypeScript's ES5 output of the esbuild bundle: one IIFE (`(function () { ... })();`).
 */
import { parse, type Node } from 'acorn';
import { simple } from 'acorn-walk';

/** Built-ins that are safe to read once at start-up (none of them is ever reassigned). */
export const ALIASED = ['Math', 'parseInt', 'isNaN', 'JSON', 'String'] as const;
/** Fewer bytes saved than this and the variable the alias costs on the board is not worth it. */
export const MIN_SAVING = 10;
const PREFIX = '__g_';

type Ident = Node & { name: string };

export function aliasGlobals(es5: string): string {
  if (es5.includes(PREFIX)) throw new Error(`global-alias: the bundle already uses names starting ${PREFIX}; pick another PREFIX in firmware/build/global-alias.ts`);
  const ast = parse(es5, { ecmaVersion: 5, sourceType: 'script' }) as Node & { body: Node[] };
  const outer = outerFunction(ast);
  const uses = new Map<string, Ident[]>();
  const declared = new Set<string>();
  const names = new Set<string>(ALIASED);
  const declare = (id: Node | null | undefined): void => {
    if (id && id.type === 'Identifier') declared.add((id as Ident).name);
  };
  simple(ast, {
    Identifier(node) {
      const n = (node as Ident).name;
      if (names.has(n)) {
        const list = uses.get(n) ?? [];
        list.push(node as Ident);
        uses.set(n, list);
      }
    },
    VariableDeclarator: (node) => declare((node as Node & { id: Node }).id),
    FunctionDeclaration: (node) => {
      const f = node as Node & { id: Node | null; params: Node[] };
      declare(f.id);
      f.params.forEach(declare);
    },
    FunctionExpression: (node) => {
      const f = node as Node & { id: Node | null; params: Node[] };
      declare(f.id);
      f.params.forEach(declare);
    },
    CatchClause: (node) => declare((node as Node & { param: Node }).param),
    AssignmentExpression: (node) => declare((node as Node & { left: Node }).left),
  });
  const edits: { start: number; end: number; text: string }[] = [];
  const decls: string[] = [];
  for (const name of ALIASED) {
    const list = uses.get(name) ?? [];
    if (declared.has(name)) continue;
    // The minified alias is one letter; its declaration `X=Name,` is the name and 3 more.
    const saving = list.length * (name.length - 1) - (name.length + 3);
    if (saving < MIN_SAVING) continue;
    decls.push(`${PREFIX}${name} = ${name}`);
    for (const u of list) edits.push({ start: u.start, end: u.end, text: PREFIX + name });
  }
  if (decls.length === 0) return es5;
  // First in the outer function, so every use (all of them run after it) sees the local.
  edits.push({ start: outer.body.start + 1, end: outer.body.start + 1, text: ` var ${decls.join(', ')};` });
  edits.sort((a, b) => b.start - a.start);
  let out = es5;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** The bundle's one IIFE: `(function () { ... })();`, optionally after a "use strict" directive. */
function outerFunction(ast: Node & { body: Node[] }): Node & { body: Node } {
  const stmts = ast.body.filter((s) => !(s.type === 'ExpressionStatement' && typeof (s as Node & { directive?: string }).directive === 'string'));
  const call = stmts.length === 1 && stmts[0].type === 'ExpressionStatement' ? (stmts[0] as Node & { expression: Node & { callee?: Node } }).expression : undefined;
  const fn = call && call.type === 'CallExpression' ? call.callee : undefined;
  if (!fn || fn.type !== 'FunctionExpression') throw new Error('global-alias: the bundle is not one IIFE `(function () { ... })();` (esbuild format iife, lowered by TypeScript): nothing aliased, fix the build order');
  return fn as Node & { body: Node };
}
