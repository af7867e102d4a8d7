/**
 * Shortens TypeScript's ES5 classes: `Foo.prototype.a = function ...; Foo.prototype.b = ...` becomes
 * `var Foo__p = Foo.prototype; Foo__p.a = ...; Foo__p.b = ...`, which the minifier then names with one
 * letter. `s.prototype.` is 12 bytes a method in the minified bundle; the alias saves ~10 of them,
 * against one variable per class on the board (issue 14: the RAK5010 bundle must leave room for TLS).
 *
 * Input is TypeScript's own ES5 output (one method assignment per line, at statement position inside
 * the class's IIFE), which is the only text this runs on.
 */
export function aliasPrototypes(es5: string): string {
  const counts = new Map<string, number>();
  for (const m of es5.matchAll(/^\s*([A-Za-z_$][\w$]*)\.prototype\.[\w$]+ = /gm)) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  let out = es5;
  for (const [name, n] of counts) {
    // One method: the alias would cost more than it saves.
    if (n < 2) continue;
    const alias = `${name}__p`;
    const first = new RegExp(`^(\\s*)${escape(name)}\\.prototype\\.`, 'm');
    out = out.replace(first, (_m, indent: string) => `${indent}var ${alias} = ${name}.prototype;\n${indent}${name}.prototype.`);
    out = out.split(`${name}.prototype.`).join(`${alias}.`);
  }
  return out;
}

function escape(s: string): string {
  return s.replace(/\$/g, '\\$');
}
