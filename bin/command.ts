/**
 * What every `lonewatch` command is made of: a name, a one-line summary, its options (which also
 * produce its --help), and a run function. Parsing is node's own util.parseArgs, strict, so a mistyped
 * option is an error with the command's usage rather than silently ignored.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  /** Shown in help; the run function applies its own defaults. */
  placeholder?: string;
  multiple?: boolean;
}

export interface CommandSpec<O extends Record<string, OptionSpec>> {
  name: string;
  summary: string;
  /** Extra lines after the usage line: positionals, examples. */
  details?: string;
  usage?: string;
  options: O;
  allowPositionals?: boolean;
  run(values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string }, positionals: string[]): Promise<number>;
}

export interface Command {
  name: string;
  summary: string;
  help(): string;
  run(argv: string[]): Promise<number>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function defineCommand<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>): Command {
  const help = (): string => {
    const lines = [`Usage: lonewatch ${spec.usage ?? `${spec.name} [options]`}`, '', spec.summary];
    if (spec.details) lines.push('', spec.details.trimEnd());
    lines.push('', 'Options:');
    const rows: [string, string][] = Object.entries(spec.options).map(([name, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` <${o.placeholder ?? 'value'}>` : ''}`;
      return [flag, o.description];
    });
    rows.push(['-h, --help', 'show this help']);
    const width = Math.max(...rows.map((r) => r[0].length)) + 2;
    for (const [flag, desc] of rows) lines.push(`  ${flag.padEnd(width)}${desc}`);
    return lines.join('\n') + '\n';
  };
  return {
    name: spec.name,
    summary: spec.summary,
    help,
    async run(argv: string[]): Promise<number> {
      const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
        help: { type: 'boolean', short: 'h' },
      };
      for (const [name, o] of Object.entries(spec.options)) {
        options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
      }
      let parsed;
      try {
        parsed = parseArgs({ args: argv, options, allowPositionals: spec.allowPositionals ?? false, strict: true });
      } catch (err) {
        process.stderr.write(`lonewatch ${spec.name}: ${(err as Error).message}\n\n${help()}`);
        return 2;
      }
      if (parsed.values.help) {
        process.stdout.write(help());
        return 0;
      }
      try {
        return await spec.run(parsed.values as never, parsed.positionals);
      } catch (err) {
        if (err instanceof UsageError) {
          process.stderr.write(`lonewatch ${spec.name}: ${err.message}\n\n${help()}`);
          return 2;
        }
        throw err;
      }
    },
  };
}
