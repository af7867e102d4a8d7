/**
 * The Espruino-compatibility check: parses an emitted bundle and reports every construct or global
 * the Espruino 2v29 interpreter does not run (measured on the interpreter; see docs/fob.md), and any
 * TypeScript helper left in the output (TS's __spreadArray itself fails on Espruino).
 */
import { parse, type Node } from 'acorn';
import { base, simple, type RecursiveVisitors } from 'acorn-walk';

export interface CompatProblem {
  what: string;
  line: number;
  column: number;
}

const FORBIDDEN_GLOBALS = new Set(['Map', 'Set', 'WeakMap', 'WeakSet', 'Symbol', 'Proxy', 'Reflect', 'TextEncoder', 'TextDecoder', 'WeakRef']);
const TS_HELPERS = new Set(['__spreadArray', '__assign', '__extends', '__rest', '__awaiter', '__generator', '__values', '__read', '__spread', '__makeTemplateObject', '__decorate']);


export function checkEspruinoCompat(code: string): CompatProblem[] {
  const problems: CompatProblem[] = [];
  let ast: Node;
  try {
    ast = parse(code, { ecmaVersion: 'latest', sourceType: 'script', locations: true });
  } catch (err) {
    const e = err as Error & { loc?: { line: number; column: number } };
    return [{ what: `does not parse: ${e.message}`, line: e.loc?.line ?? 0, column: e.loc?.column ?? 0 }];
  }
  const add = (what: string, node: Node): void => {
    problems.push({ what, line: node.loc?.start.line ?? 0, column: node.loc?.start.column ?? 0 });
  };
  const fn = (node: Node & { async?: boolean; generator?: boolean }): void => {
    if (node.async) add('async function', node);
    if (node.generator) add('generator function', node);
  };
  const declared = new Set<string>();
  simple(ast, {
    VariableDeclarator(node: Node & { id: { type: string; name?: string } }) {
      if (node.id.type === 'Identifier' && node.id.name) declared.add(node.id.name);
    },
    FunctionDeclaration(node: Node & { id?: { name: string } | null }) {
      if (node.id) declared.add(node.id.name);
    },
  });
  simple(ast, {
    ObjectPattern: (n) => add('destructuring', n),
    ArrayPattern: (n) => add('destructuring', n),
    AssignmentPattern: (n) => add('default parameter', n),
    RestElement: (n) => add('rest parameter', n),
    SpreadElement: (n) => add('spread', n),
    ChainExpression: (n) => add('optional chaining', n),
    AwaitExpression: (n) => add('await', n),
    YieldExpression: (n) => add('yield', n),
    FunctionDeclaration: fn,
    FunctionExpression: fn,
    ArrowFunctionExpression: fn,
    Property(node: Node & { computed: boolean }) {
      if (node.computed) add('computed property name', node);
    },
    MethodDefinition(node: Node & { computed: boolean }) {
      if (node.computed) add('computed property name', node);
    },
    Identifier(node: Node & { name: string }) {
      if (FORBIDDEN_GLOBALS.has(node.name) && !declared.has(node.name)) add(`unsupported global ${node.name}`, node);
      if (TS_HELPERS.has(node.name)) add(`TypeScript helper ${node.name}`, node);
    },
    MemberExpression(node: Node & { object: { type: string; name?: string }; property: { type: string; name?: string }; computed: boolean }) {
      if (node.object.type === 'Identifier' && node.object.name === 'Number' && node.property.name === 'isInteger') add('Number.isInteger', node);
      if (!node.computed && (node.property.name === 'flat' || node.property.name === 'flatMap')) add(`Array.prototype.${node.property.name}`, node);
    },
    ForStatement(node) {
      // Espruino gives every closure created in `for (let ...)` the loop's last value.
      if (node.init && node.init.type === 'VariableDeclaration' && node.init.kind === 'let') add('for (let ...) (closures see the last value on Espruino)', node);
    },
  });
  checkHoisting(ast, add);
  return problems;
}

type Body = Node & { body: Node[] | Node };

/** Walks code that runs now: not into the bodies of nested functions (they run later, if ever). */
const RUNS_NOW: RecursiveVisitors<unknown> = {
  ...base,
  FunctionDeclaration: () => undefined,
  FunctionExpression: () => undefined,
  ArrowFunctionExpression: () => undefined,
};

/**
 * Espruino does not hoist function declarations: a function declared in a block or body is
 * defined only when execution reaches its declaration. Flags a declared function used, by code that
 * runs straight away, before its declaration in the same body.
 */
function checkHoisting(ast: Node, add: (what: string, node: Node) => void): void {
  const bodies: Node[][] = [];
  const collect = (n: Body): void => {
    if (Array.isArray(n.body)) bodies.push(n.body);
  };
  simple(ast, { Program: collect, BlockStatement: collect } as never);
  for (const stmts of bodies) {
    const declaredAt = new Map<string, number>();
    stmts.forEach((st, i) => {
      const d = st as Node & { type: string; id?: { name: string } | null };
      if (d.type === 'FunctionDeclaration' && d.id) declaredAt.set(d.id.name, i);
    });
    if (declaredAt.size === 0) continue;
    stmts.forEach((st, i) => {
      simple(
        st,
        {
          Identifier(node: Node & { name: string }) {
            const at = declaredAt.get(node.name);
            if (at !== undefined && at > i) add(`function ${node.name} used before its declaration (Espruino does not hoist)`, node);
          },
        },
        RUNS_NOW,
      );
    });
  }
}
