/**
 * ESTIMATES the Espruino variables (JsVars) the bundle occupies with a full outbox, from the emitted
 * code: the fallback where the real interpreter is not there to measure them (measure-variables.ts).
 * Never a measurement, and never printed as one.
 *
 * Model, calibrated on measurements made with espruino-2630 (Espruino 2v29 Linux, 2,630 variables of
 * 17 bytes, code loaded from Storage; docs/fob.md): the first model of this file was ~40% low.
 * - every function in the bundle as created: 7 variables (the function, its reference into flash, the
 *   scope it keeps alive and its name where it is held; fitted to the two bundles' figures) plus 2 per
 *   parameter (measured: `function(a,b){}` is 5 variables, `function(){}` 1);
 * - each object-literal property: 1, plus 1 per 12 characters of a string value over 4 characters;
 * - each declared variable: 1;
 * - the interpreter itself before any code: 54 (measured);
 * - a full outbox: OUTBOX_MAX events x 4 (measured: the events are in flash, RAM holds an id and a
 *   next-try time each).
 * Against the measured figures of the time it was fitted it was within ~5% (Puck.js a little low,
 * RAK5010 a little high).
 */
import { parse, type Node } from 'acorn';
import { simple } from 'acorn-walk';
import { OUTBOX_MAX } from '../src/core/outbox-size.js';

const INTERPRETER = 54;
const PER_OUTBOX_ENTRY = 4;

export function estimateVariables(code: string): number {
  let vars = 0;
  const ast = parse(code, { ecmaVersion: 'latest', sourceType: 'script' });
  const fn = (node: Node & { params: unknown[] }): void => {
    vars += 7 + 2 * node.params.length;
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
  return vars + INTERPRETER + OUTBOX_MAX * PER_OUTBOX_ENTRY;
}
