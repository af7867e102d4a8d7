// `lonewatch firmware build`: one self-contained bundle per board, checked for Espruino, budgeted, and
// its variables measured on the real interpreter where there is one (firmware/build/measure-variables.ts).
import { defineCommand, UsageError } from '../bin/command.js';
import { buildFirmware, type FirmwareBuild } from './build/build.js';
import { BOARDS, type Board } from '../shared/protocol-core.js';

export const firmwareCommand = defineCommand({
  name: 'firmware',
  summary: 'build the fob firmware for a board (puck or rak5010): Espruino check, size budget, variables measured',
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
      const r = await buildFirmware(board, { measure: true });
      process.stdout.write(report(r));
      failed ||= !r.ok;
    }
    return failed ? 1 : 0;
  },
});

/** What the build did, in words: measured figures as measurements, the estimate only as an estimate. */
export function report(r: FirmwareBuild): string {
  const lines = [`${r.board}: ${r.file}`, `  size      ${r.bytes} bytes of ${r.budgetBytes} (${Math.round((r.bytes / r.budgetBytes) * 100)}%)`];
  if (r.bytes > r.budgetBytes) lines.push(`  OVER BUDGET by ${r.bytes - r.budgetBytes} bytes`);
  const m = r.measurement;
  if (m?.measured) {
    lines.push(
      `  variables measured on ${m.interpreter}, code loaded from Storage:`,
      `            ${m.before} before the bundle, ${m.afterBoot} after boot, ${m.idle} idle (hello queued), ${m.fullOutbox} with a full outbox (${m.outboxEntries} events); budget ${r.variableBudget}`,
    );
    if (m.fullOutbox > r.variableBudget) lines.push(`  OVER THE VARIABLE BUDGET by ${m.fullOutbox - r.variableBudget} (measured, full outbox)`);
  } else {
    if (m) lines.push(`  variables NOT MEASURED: ${m.reason}`);
    lines.push(`  variables ~${r.variables} of ${r.variableBudget}: an ESTIMATE from the code (variable-estimate.ts), not a measurement`);
    if (r.variables > r.variableBudget) lines.push('  OVER THE VARIABLE BUDGET (estimate)');
  }
  for (const p of r.problems) lines.push(`  NOT ESPRUINO-SAFE: ${p.what} at ${p.line}:${p.column}`);
  lines.push(`  ${r.ok ? 'ok' : 'FAILED'}`);
  return lines.join('\n') + '\n';
}
