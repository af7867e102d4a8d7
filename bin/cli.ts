// The `lonewatch` entry point: finds the command in the table (bin/commands.ts) and runs it.
import { COMMANDS } from './commands.js';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'Usage: lonewatch <command> [options]',
    '',
    'Lonewatch: lone-worker safety hub, fob firmware, simulator and engineering tools.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run `lonewatch <command> --help` for the options of one command.',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview());
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    process.stdout.write(`${createRequire(import.meta.url)('../package.json').version}\n`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`lonewatch: unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  const command = await entry.load();
  return command.run(rest);
}
