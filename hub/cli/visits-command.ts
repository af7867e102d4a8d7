// `lonewatch visits import|list`: the day's itineraries.
import { readFileSync } from 'node:fs';
import { defineCommand, UsageError } from '../../bin/command.js';
import { importVisitRows } from '../admin/visits-import.js';
import { CONFIG_OPTION, loadConfigOrExit, openStore } from './open-store.js';
import { CsvError, CSV_COLUMNS, parseVisitsCsv } from '../admin/visits-csv.js';

export const visitsCommand = defineCommand({
  name: 'visits',
  summary: 'import and list visits (itineraries) with the R8/R9 policy checks',
  usage: 'visits <import FILE.csv|list> [options]',
  details: `CSV columns: ${CSV_COLUMNS.join(',')} (times ISO 8601; ref is a code, never an address).\nThe whole file is checked first; nothing is imported if any line is wrong.`,
  allowPositionals: true,
  options: {
    ...CONFIG_OPTION,
    worker: { type: 'string', placeholder: 'id', description: 'list: only this worker' },
    json: { type: 'boolean', description: 'machine-readable output' },
  },
  async run(values, positionals) {
    const [action, file] = positionals;
    const config = loadConfigOrExit(values.config);
    if (action === 'import') {
      if (!file) throw new UsageError('visits import needs a CSV file');
      let rows;
      try {
        rows = parseVisitsCsv(readFileSync(file, 'utf8'), file);
      } catch (err) {
        if (err instanceof CsvError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
          process.stderr.write(`lonewatch visits: ${(err as Error).message}\nnothing was imported\n`);
          return 1;
        }
        throw err;
      }
      // All or nothing, as the help says (issue 15 item 9): importVisitRows checks every line in one
      // transaction and rolls the whole file back if any is refused.
      const store = await openStore(config);
      let result;
      try {
        result = await importVisitRows(store, rows, { onBreach: config.rules.visit_policy_breach, trainingValidYears: config.rules.training_valid_years }, file);
      } finally {
        await store.close();
      }
      const { refused, warnings, imported } = result;
      if (refused.length > 0) {
        for (const r of refused) process.stderr.write(`${r}\n`);
        process.stderr.write(`nothing was imported: ${refused.length} of ${rows.length} line(s) refused; fix them and import the file again\n`);
        return 1;
      }
      for (const w of warnings) process.stdout.write(`${w}\n`);
      process.stdout.write(`imported ${imported} visit(s)\n`);
      return 0;
    }
    if (action === 'list') {
      const store = await openStore(config);
      try {
        const workers = values.worker ? [values.worker] : (await store.read((tx) => tx.listWorkers())).map((w) => w.id);
        const now = Date.now();
        const all = [];
        for (const w of workers) all.push(...(await store.read((tx) => tx.listVisits(w, now - 86_400_000, now + 7 * 86_400_000))));
        if (values.json) process.stdout.write(JSON.stringify(all, null, 2) + '\n');
        else
          for (const v of all)
            process.stdout.write(
              `${v.workerId.padEnd(16)}${v.ref.padEnd(14)}${new Date(v.scheduledStart).toISOString().slice(0, 16)} -> ${new Date(v.expectedEnd).toISOString().slice(11, 16)}  cat ${v.riskCategory} ${v.rag.padEnd(6)}${v.status}${v.policyFlags.length ? ` [${v.policyFlags.join(', ')}]` : ''}\n`,
            );
        return 0;
      } finally {
        await store.close();
      }
    }
    throw new UsageError(action ? `unknown action "${action}"` : 'say what to do: import or list');
  },
});
