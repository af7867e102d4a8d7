// `lonewatch firmware build`: one self-contained bundle per board, checked for Espruino and budgeted.
import { defineCommand, UsageError } from '../bin/command.js';
import { buildFirmware } from './build/build.js';
import { BOARDS, type Board } from '../shared/protocol-core.js';

export const firmwareCommand = defineCommand({
  name: 'firmware',
  summary: 'build the fob firmware for a board (puck or rak5010), with the Espruino check and size budget',
  usage: 'firmware build --board puck|rak5010 | firmware build --all',
  allowPositionals: true,
  options: {
    board: { type: 'string', placeholder: 'board', description: `${BOARDS.join(' or ')}` },
    all: { type: 'boolean', description: 'build every board' },
  },
  async run(values, positionals) {
    if (positionals[0] !== 'build') throw new UsageError('say what to do: build');
    const boards: Board[] = values.all ? [...BOARDS] : values.board ? [values.board as Board] : [];
    if (boards.length === 0) throw new UsageError('name a --board, or --all');
    let failed = false;
    for (const board of boards) {
      if (!(BOARDS as readonly string[]).includes(board)) throw new UsageError(`unknown board "${board}": ${BOARDS.join(' or ')}`);
      const r = await buildFirmware(board);
      process.stdout.write(
        `${board}: ${r.file}\n  size      ${r.bytes} bytes of ${r.budgetBytes} (${Math.round((r.bytes / r.budgetBytes) * 100)}%)\n  variables ~${r.variables} of ${r.variableBudget} after start-up (estimate; see docs/fob.md)\n`,
      );
      for (const p of r.problems) process.stdout.write(`  NOT ESPRUINO-SAFE: ${p.what} at ${p.line}:${p.column}\n`);
      if (r.bytes > r.budgetBytes) process.stdout.write(`  OVER BUDGET by ${r.bytes - r.budgetBytes} bytes\n`);
      if (r.variables > r.variableBudget) process.stdout.write('  OVER THE VARIABLE BUDGET\n');
      process.stdout.write(`  ${r.ok ? 'ok' : 'FAILED'}\n`);
      failed ||= !r.ok;
    }
    return failed ? 1 : 0;
  },
});
