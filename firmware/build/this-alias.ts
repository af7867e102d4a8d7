/**
 * Shortens `this` in the ES5 bundle: a function whose own body says `this` at least MIN_USES times
 * gets one local holding it (`var __self = this;` as its first statement, or TypeScript's own
 * `var _this = this` when that is already the first statement) and every other `this` of that
 * function becomes the local, which the minifier then names with one letter. `this.` is 5 bytes
 * and the local's `t.` 2, so a method with 4 uses saves about as much as the declaration costs, and
 * the driver and core methods use it 10 to 30 times (issue 14/17: the RAK5010 bundle's 12 KB budget).
 *
 * Same behaviour: in ES5 (no arrow functions are left after TypeScript lowers the bundle) `this` is
 * fixed for the whole call of a function, so a local read at the top holds the same value wherever
 * the function read `this`. Nested functions have their own `this` and are left to their own pass.
 * Input is TypeScript's ES5 output, before minification.
 */
import { parse, type Node } from 'acorn';
import { base, recursive, type RecursiveVisitors } from 'acorn-walk';

/** Fewer own `this` than this and the declaration would cost more than it saves. */
export const MIN_USES = 4;
const LOCAL = '__self';

type Fn = Node & { body: Node & { body: Node[] } };
type Stmt = Node & { type: string; directive?: string; declarations?: Array<Node & { id: Node & { type: string; name?: string }; init?: Node | null }> };

interface Edit {
  start: number;
  end: number;
  text: string;
}

export function aliasThis(es5: string): string {
  if (es5.includes(LOCAL)) throw new Error(`this-alias: the bundle already uses the name ${LOCAL}; pick another LOCAL in firmware/build/this-alias.ts`);
  const ast = parse(es5, { ecmaVersion: 5, sourceType: 'script' });
  const edits: Edit[] = [];
  const visitFn = (fn: Fn): void => {
    const uses: Node[] = [];
    // The function's own `this`: the walk stops at nested functions (they are visited on their own).
    const own: RecursiveVisitors<Node[]> = {
      ...base,
      FunctionExpression: (n) => void all(n as Fn),
      FunctionDeclaration: (n) => void all(n as Fn),
      ThisExpression: (n, st) => void st.push(n),
    };
    for (const st of fn.body.body) recursive(st, uses, own);
    if (uses.length < MIN_USES) return;
    const stmts = fn.body.body as Stmt[];
    let at = 0;
    while (at < stmts.length && stmts[at].type === 'ExpressionStatement' && typeof stmts[at].directive === 'string') at++;
    const first = stmts[at];
    const decl = first?.type === 'VariableDeclaration' && first.declarations?.length === 1 ? first.declarations[0] : undefined;
    const reuse = decl && decl.id.type === 'Identifier' && decl.init?.type === 'ThisExpression' ? decl : undefined;
    const name = reuse ? (reuse.id.name as string) : LOCAL;
    if (!reuse) edits.push({ start: first ? first.start : fn.body.end - 1, end: first ? first.start : fn.body.end - 1, text: `var ${LOCAL} = this; ` });
    for (const u of uses) if (u !== reuse?.init) edits.push({ start: u.start, end: u.end, text: name });
  };
  const all = (fn: Fn): void => {
    visitFn(fn);
  };
  recursive(ast, undefined, {
    ...base,
    FunctionExpression: (n) => all(n as Fn),
    FunctionDeclaration: (n) => all(n as Fn),
  });
  // From the end, so earlier offsets stay valid; at one offset the replacement goes first so that the
  // declaration inserted there lands before it, not inside it.
  edits.sort((a, b) => b.start - a.start || (b.end - b.start) - (a.end - a.start));
  let out = es5;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
