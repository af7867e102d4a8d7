/**
 * Estimates the Espruino variables (JsVars, 16 bytes each on the nRF52) the bundle occupies after
 * start-up, from the emitted code.
 *
 * Model (Espruino's variable layout: a property is a name variable that holds an integer, boolean
 * or short string value in place; objects, functions and longer strings are variables of their own):
 * - the code lives in flash (.bootcde, executed from flash), so function bodies cost one variable
 *   each (a reference into flash), plus the function object, its scope link and one per parameter:
 *   3 + params per function, and every function in the bundle is counted as created (pessimistic);
 * - each object-literal property: 1, plus 1 per 12 characters of a string value over 4 characters;
 * - each declared variable: 1;
 * - run-time state: a full outbox (20 entries: the object, 7 properties, an id and a JSON fragment
 *   string: about 11 each) and up to 10 timers and watches (about 4 each).
 */
import { parse, type Node } from 'acorn';
import { simple } from 'acorn-walk';

const OUTBOX_RUNTIME = 20 * 11;
const TIMERS_AND_WATCHES = 10 * 4;

export function estimateVariables(code: string): number {
  let vars = 0;
  const ast = parse(code, { ecmaVersion: 'latest', sourceType: 'script' });
  const fn = (node: Node & { params: unknown[] }): void => {
    vars += 3 + node.params.length;
  };
  simple(ast, {
    FunctionDeclaration: fn,
    FunctionExpression: fn,
    ArrowFunctionExpression: fn,
    Property(node: Node & { value: { type: string; value?: unknown } }) {
      vars += 1;
      if (node.value.type === 'Literal' && typeof node.value.value === 'string' && node.value.value.length > 4) vars += Math.ceil(node.value.value.length / 12);
    },
    VariableDeclarator() {
      vars += 1;
    },
  });
  return vars + OUTBOX_RUNTIME + TIMERS_AND_WATCHES;
}
